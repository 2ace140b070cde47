// Package sdktests runs the Go Durable Task SDK (github.com/microsoft/durabletask-go) against a
// running durabletask-emulator: the SDK's gRPC client (client.NewTaskHubGrpcClient) and its
// work-item listener (client.StartWorkItemListener) over a real gRPC connection.
//
// DTEMU_ADDRESS names the emulator (host:port); DTEMU_CONTROL_PROTO its control service's .proto
// (`durabletask-emulator proto --path`), which the time scenarios call. Run with
// tests/sdk_go_runner.py, or by hand:
//
//	DTEMU_ADDRESS=localhost:4001 DTEMU_CONTROL_PROTO=$(durabletask-emulator proto --path) \
//	    go test ./... -count=1 -parallel 32 -v
//
// Every scenario is one top-level Test function with its own deadline. A scenario the SDK cannot
// express is skipped with a message starting with "not supported by SDK".
package sdktests

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/microsoft/durabletask-go/api"
	"github.com/microsoft/durabletask-go/client"
	"github.com/microsoft/durabletask-go/task"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

var (
	// One client and one work-item listener (with every orchestrator and activity below
	// registered) serve all scenarios, which run in parallel.
	dt       *client.TaskHubGrpcClient
	registry = task.NewTaskRegistry()
	runID    = fmt.Sprintf("%x", time.Now().UnixNano())
	address  string

	// The default hub's listener starts with the first parallel scenario, so that a sequential
	// test (TestTaskHub) runs while no default-hub worker is connected: go test resumes the
	// parallel tests only once every sequential top-level test has returned.
	listenerOnce  sync.Once
	listenerErr   error
	listenerCtx   context.Context
	stopListening context.CancelFunc
)

func TestMain(m *testing.M) {
	address = os.Getenv("DTEMU_ADDRESS")
	if address == "" {
		fmt.Fprintln(os.Stderr, "DTEMU_ADDRESS is not set: start an emulator and set DTEMU_ADDRESS=host:port")
		os.Exit(2)
	}
	register()
	conn, err := grpc.Dial(address, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Fprintf(os.Stderr, "cannot dial %s: %v\n", address, err)
		os.Exit(2)
	}
	dt = client.NewTaskHubGrpcClient(conn, quietLogger{})
	// The listener's stream lives as long as listenerCtx: until every scenario has run.
	listenerCtx, stopListening = context.WithCancel(context.Background())
	code := m.Run()
	stopListening()
	_ = conn.Close()
	if theControl != nil {
		_ = theControl.conn.Close()
	}
	os.Exit(code)
}

// startListener starts the default hub's work-item listener, once.
func startListener(t *testing.T) {
	t.Helper()
	listenerOnce.Do(func() { listenerErr = dt.StartWorkItemListener(listenerCtx, registry) })
	if listenerErr != nil {
		t.Fatalf("work item listener did not start against %s: %v", address, listenerErr)
	}
}

// quietLogger keeps the SDK's info chatter out of the test output; warnings and errors stay.
type quietLogger struct{}

func (quietLogger) Debug(...any)                   {}
func (quietLogger) Debugf(string, ...any)          {}
func (quietLogger) Info(...any)                    {}
func (quietLogger) Infof(string, ...any)           {}
func (quietLogger) Warn(v ...any)                  { logLine("WARN", fmt.Sprint(v...)) }
func (quietLogger) Warnf(format string, v ...any)  { logLine("WARN", fmt.Sprintf(format, v...)) }
func (quietLogger) Error(v ...any)                 { logLine("ERROR", fmt.Sprint(v...)) }
func (quietLogger) Errorf(format string, v ...any) { logLine("ERROR", fmt.Sprintf(format, v...)) }

func logLine(level, msg string) {
	// The stream ends when the test binary stops: not worth a line.
	if strings.Contains(msg, "context canceled") {
		return
	}
	fmt.Fprintf(os.Stderr, "sdk %s: %s\n", level, msg)
}

// ---------------------------------------------------------------------------------------------
// helpers

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// newID is an instance ID unique to this run and scenario.
func newID(t *testing.T, suffix string) api.InstanceID {
	name := unsafeChars.ReplaceAllString(t.Name(), "-")
	if suffix != "" {
		name += "-" + suffix
	}
	return api.InstanceID(fmt.Sprintf("go-%s-%s", runID, name))
}

// scenario marks the test parallel, makes sure the default hub's listener runs, and gives the test
// a context with a deadline.
func scenario(t *testing.T, timeout time.Duration) context.Context {
	t.Helper()
	t.Parallel()
	startListener(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return ctx
}

func start(t *testing.T, ctx context.Context, orchestrator string, opts ...api.NewOrchestrationOptions) api.InstanceID {
	t.Helper()
	id, err := dt.ScheduleNewOrchestration(ctx, orchestrator, opts...)
	if err != nil {
		t.Fatalf("ScheduleNewOrchestration(%s): %v", orchestrator, err)
	}
	return id
}

func waitDone(t *testing.T, ctx context.Context, id api.InstanceID) *api.OrchestrationMetadata {
	t.Helper()
	md, err := dt.WaitForOrchestrationCompletion(ctx, id, api.WithFetchPayloads(true))
	if err != nil {
		t.Fatalf("WaitForOrchestrationCompletion(%s): %v", id, err)
	}
	return md
}

func fetch(t *testing.T, ctx context.Context, id api.InstanceID) *api.OrchestrationMetadata {
	t.Helper()
	md, err := dt.FetchOrchestrationMetadata(ctx, id, api.WithFetchPayloads(true))
	if err != nil {
		t.Fatalf("FetchOrchestrationMetadata(%s): %v", id, err)
	}
	return md
}

// pollUntil fetches the instance until cond holds (or the context ends).
func pollUntil(t *testing.T, ctx context.Context, id api.InstanceID, what string, cond func(*api.OrchestrationMetadata) bool) *api.OrchestrationMetadata {
	t.Helper()
	var last *api.OrchestrationMetadata
	for {
		md, err := dt.FetchOrchestrationMetadata(ctx, id, api.WithFetchPayloads(true))
		if err == nil {
			last = md
			if cond(md) {
				return md
			}
		} else if !errors.Is(err, api.ErrInstanceNotFound) {
			t.Fatalf("FetchOrchestrationMetadata(%s) while waiting for %s: %v", id, what, err)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: gave up waiting for %s; last state: %s", id, what, describe(last))
		case <-time.After(25 * time.Millisecond):
		}
	}
}

func describe(md *api.OrchestrationMetadata) string {
	if md == nil {
		return "<none>"
	}
	return fmt.Sprintf("status=%s output=%q customStatus=%q input=%q",
		md.RuntimeStatus, md.SerializedOutput, md.SerializedCustomStatus, md.SerializedInput)
}

func expectStatus(t *testing.T, md *api.OrchestrationMetadata, want api.OrchestrationStatus) {
	t.Helper()
	if md.RuntimeStatus != want {
		t.Fatalf("%s: status %s, want %s (%s)", md.InstanceID, md.RuntimeStatus, want, describe(md))
	}
}

func expectOutput(t *testing.T, md *api.OrchestrationMetadata, want string) {
	t.Helper()
	if md.SerializedOutput != want {
		t.Fatalf("%s: output %q, want %q (%s)", md.InstanceID, md.SerializedOutput, want, describe(md))
	}
}

func grpcCode(err error) codes.Code {
	var se interface{ GRPCStatus() *status.Status }
	if errors.As(err, &se) {
		return se.GRPCStatus().Code()
	}
	return codes.Unknown
}

// ---------------------------------------------------------------------------------------------
// gates: an activity that blocks until the test releases it, so that a test can act while an
// orchestration is known to be parked on that activity.

type gate struct {
	once     sync.Once
	entered  chan struct{}
	released chan struct{}
}

var gates sync.Map // key -> *gate

func newGate(key string) *gate {
	g := &gate{entered: make(chan struct{}), released: make(chan struct{})}
	gates.Store(key, g)
	return g
}

func (g *gate) waitEntered(t *testing.T, ctx context.Context) {
	t.Helper()
	select {
	case <-g.entered:
	case <-ctx.Done():
		t.Fatalf("the Gate activity never ran")
	}
}

func gateActivity(ctx task.ActivityContext) (any, error) {
	var key string
	if err := ctx.GetInput(&key); err != nil {
		return nil, err
	}
	v, ok := gates.Load(key)
	if !ok {
		return nil, fmt.Errorf("no gate %q", key)
	}
	g := v.(*gate)
	g.once.Do(func() { close(g.entered) })
	select {
	case <-g.released:
		return "opened", nil
	case <-time.After(60 * time.Second):
		return nil, errors.New("gate never released")
	}
}

// attempts counts activity and orchestrator attempts per key (for the retry scenarios).
var attempts sync.Map // key -> *int32

func nextAttempt(key string) int32 {
	v, _ := attempts.LoadOrStore(key, new(int32))
	return atomic.AddInt32(v.(*int32), 1)
}

func attemptCount(key string) int32 {
	v, ok := attempts.Load(key)
	if !ok {
		return 0
	}
	return atomic.LoadInt32(v.(*int32))
}
