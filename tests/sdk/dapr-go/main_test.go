// Package daprsdk runs Dapr's Go Durable Task SDK (github.com/dapr/durabletask-go, the engine of
// Dapr Workflow) against a durabletask-emulator's Dapr dialect port (--dapr-port). Its workflow
// package is the Dapr Workflow API: workflow.NewClient over a real gRPC connection schedules and
// manages instances, and Client.StartWorker runs every workflow and activity registered below.
//
// DTEMU_ADDRESS names the emulator's Dapr port (host:port). Run with
// tests/sdk_dapr_go_runner.py, or by hand:
//
//	DTEMU_ADDRESS=localhost:50001 go test ./... -count=1 -parallel 32 -v
//
// Each scenario is one top-level Test function with its own deadline; one the SDK cannot express
// skips itself with a message starting with "not supported by SDK".
package daprsdk

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dapr/durabletask-go/api"
	"github.com/dapr/durabletask-go/workflow"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

var (
	wf     *workflow.Client
	reg    = workflow.NewRegistry()
	prefix = fmt.Sprintf("dapr-go-%d", time.Now().UnixNano())
)

func TestMain(m *testing.M) {
	addr := os.Getenv("DTEMU_ADDRESS")
	if addr == "" {
		fmt.Fprintln(os.Stderr, "DTEMU_ADDRESS is not set: start an emulator with --dapr-port and set DTEMU_ADDRESS=host:port")
		os.Exit(2)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Fprintf(os.Stderr, "cannot dial %s: %v\n", addr, err)
		os.Exit(2)
	}
	registerAll()
	wf = workflow.NewClientWithLogger(conn, sdkLog{})
	worker, stop := context.WithCancel(context.Background())
	if err := wf.StartWorker(worker, reg); err != nil {
		fmt.Fprintf(os.Stderr, "the worker did not start against %s: %v\n", addr, err)
		os.Exit(2)
	}
	code := m.Run()
	stop()
	_ = conn.Close()
	os.Exit(code)
}

// sdkLog drops the SDK's debug and info lines and keeps its warnings and errors on stderr.
type sdkLog struct{}

func (sdkLog) Debug(...any)                {}
func (sdkLog) Debugf(string, ...any)       {}
func (sdkLog) Info(...any)                 {}
func (sdkLog) Infof(string, ...any)        {}
func (l sdkLog) Warn(v ...any)             { l.put("warn", fmt.Sprint(v...)) }
func (l sdkLog) Warnf(f string, v ...any)  { l.put("warn", fmt.Sprintf(f, v...)) }
func (l sdkLog) Error(v ...any)            { l.put("error", fmt.Sprint(v...)) }
func (l sdkLog) Errorf(f string, v ...any) { l.put("error", fmt.Sprintf(f, v...)) }
func (sdkLog) put(level, line string) {
	if !strings.Contains(line, "context canceled") { // the worker's stream ends with the binary
		fmt.Fprintf(os.Stderr, "[dapr sdk %s] %s\n", level, line)
	}
}

// ---------------------------------------------------------------------------------------------
// what every scenario uses

// begin makes the scenario parallel and gives it a deadline.
func begin(t *testing.T, limit time.Duration) context.Context {
	t.Helper()
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	t.Cleanup(cancel)
	return ctx
}

// idFor is an instance ID no other scenario (or earlier run) uses.
func idFor(t *testing.T, tag string) string {
	name := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	if tag != "" {
		name += "-" + tag
	}
	return prefix + "-" + name
}

func schedule(t *testing.T, ctx context.Context, name, id string, input any) string {
	t.Helper()
	opts := []workflow.NewWorkflowOptions{workflow.WithInstanceID(id)}
	if input != nil {
		opts = append(opts, workflow.WithInput(input))
	}
	got, err := wf.ScheduleWorkflow(ctx, name, opts...)
	if err != nil {
		t.Fatalf("ScheduleWorkflow(%s, %s): %v", name, id, err)
	}
	if got != id {
		t.Fatalf("ScheduleWorkflow(%s) gave instance %q, want %q", name, got, id)
	}
	return id
}

func finished(t *testing.T, ctx context.Context, id string) *workflow.WorkflowMetadata {
	t.Helper()
	md, err := wf.WaitForWorkflowCompletion(ctx, id)
	if err != nil {
		t.Fatalf("WaitForWorkflowCompletion(%s): %v", id, err)
	}
	return md
}

func metadata(t *testing.T, ctx context.Context, id string) *workflow.WorkflowMetadata {
	t.Helper()
	md, err := wf.FetchWorkflowMetadata(ctx, id)
	if err != nil {
		t.Fatalf("FetchWorkflowMetadata(%s): %v", id, err)
	}
	return md
}

func show(md *workflow.WorkflowMetadata) string {
	if md == nil {
		return "no metadata"
	}
	failure := ""
	if fd := md.FailureDetails; fd != nil {
		failure = fmt.Sprintf(" failure=%s: %q", fd.GetErrorType(), fd.GetErrorMessage())
	}
	return fmt.Sprintf("%s status=%s output=%q custom=%q%s", md.InstanceId, md.String(), md.Output.GetValue(),
		md.CustomStatus.GetValue(), failure)
}

// expect checks the status and (unless want is "-") the serialized output.
func expect(t *testing.T, md *workflow.WorkflowMetadata, status api.OrchestrationStatus, want string) {
	t.Helper()
	if md.RuntimeStatus != status || (want != "-" && md.Output.GetValue() != want) {
		t.Fatalf("want status %s output %q; got %s", workflow.WorkflowMetadata{RuntimeStatus: status}.String(), want, show(md))
	}
}

// until fetches the instance until ok holds, or the context ends.
func until(t *testing.T, ctx context.Context, id, what string, ok func(*workflow.WorkflowMetadata) bool) *workflow.WorkflowMetadata {
	t.Helper()
	var last *workflow.WorkflowMetadata
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		md, err := wf.FetchWorkflowMetadata(ctx, id)
		switch {
		case err == nil:
			if last = md; ok(md) {
				return md
			}
		case !errors.Is(err, api.ErrInstanceNotFound):
			t.Fatalf("waiting for %s of %s: %v", what, id, err)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s never reached %s; last seen: %s", id, what, show(last))
		case <-tick.C:
		}
	}
}

func customIs(s string) func(*workflow.WorkflowMetadata) bool {
	return func(md *workflow.WorkflowMetadata) bool { return md.CustomStatus.GetValue() == s }
}

func raise(t *testing.T, ctx context.Context, id, event string, payload any) {
	t.Helper()
	if err := wf.RaiseEvent(ctx, id, event, workflow.WithEventPayload(payload)); err != nil {
		t.Fatalf("RaiseEvent(%s, %s): %v", id, event, err)
	}
}

// codeOf is the gRPC status code of an SDK error (the SDK wraps the RPC's error).
func codeOf(err error) codes.Code { return status.Code(err) }

// ---------------------------------------------------------------------------------------------
// latches: an activity that blocks until its test opens it, so that the test can act while the
// workflow is known to sit on that activity.

type latch struct {
	reached chan struct{}
	opened  chan struct{}
	once    sync.Once
}

var latches sync.Map // name -> *latch

func newLatch(name string) *latch {
	l := &latch{reached: make(chan struct{}), opened: make(chan struct{})}
	latches.Store(name, l)
	return l
}

func (l *latch) awaitReached(t *testing.T, ctx context.Context) {
	t.Helper()
	select {
	case <-l.reached:
	case <-ctx.Done():
		t.Fatal("the Latch activity never started")
	}
}

func latchActivity(ctx workflow.ActivityContext) (any, error) {
	var name string
	if err := ctx.GetInput(&name); err != nil {
		return nil, err
	}
	v, ok := latches.Load(name)
	if !ok {
		return nil, fmt.Errorf("no latch %q", name)
	}
	l := v.(*latch)
	l.once.Do(func() { close(l.reached) })
	select {
	case <-l.opened:
		return "open", nil
	case <-time.After(90 * time.Second):
		return nil, errors.New("the latch was never opened")
	}
}

// counters count activity runs per key (retries, calls that must not run).
var counters sync.Map // key -> *int

var counterMu sync.Mutex

func bump(key string) int {
	counterMu.Lock()
	defer counterMu.Unlock()
	v, _ := counters.LoadOrStore(key, new(int))
	*v.(*int)++
	return *v.(*int)
}

func count(key string) int {
	counterMu.Lock()
	defer counterMu.Unlock()
	if v, ok := counters.Load(key); ok {
		return *v.(*int)
	}
	return 0
}
