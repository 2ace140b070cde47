package daprsdk

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dapr/durabletask-go/api"
	"github.com/dapr/durabletask-go/workflow"
	"google.golang.org/grpc/codes"
)

// ---------------------------------------------------------------------------------------------
// activities, chains, fan-out/fan-in

func TestActivity(t *testing.T) {
	ctx := begin(t, 30*time.Second)
	began := time.Now()
	id := schedule(t, ctx, "OneActivity", idFor(t, ""), "世界")
	md := finished(t, ctx, id)
	expect(t, md, workflow.StatusCompleted, `"Hello, 世界!"`)
	if md.Name != "OneActivity" || md.Input.GetValue() != `"世界"` {
		t.Fatalf("metadata: name %q input %q", md.Name, md.Input.GetValue())
	}
	created, updated := md.CreatedAt.AsTime(), md.LastUpdatedAt.AsTime()
	if created.Before(began.Add(-time.Second)) || updated.Before(created) {
		t.Fatalf("created %v, last updated %v; scheduled at %v", created, updated, began)
	}
	bare, err := wf.FetchWorkflowMetadata(ctx, id, workflow.WithFetchPayloads(false))
	if err != nil || bare.Input != nil || bare.Output != nil || bare.RuntimeStatus != workflow.StatusCompleted {
		t.Fatalf("WithFetchPayloads(false): %v %s", err, show(bare))
	}
}

// TestTaskExecutionID: each activity call gets its own execution ID from the workflow, and the
// activity sees it (ActivityContext.GetTaskExecutionID).
func TestTaskExecutionID(t *testing.T) {
	ctx := begin(t, 30*time.Second)
	md := finished(t, ctx, schedule(t, ctx, "ExecIDs", idFor(t, ""), nil))
	expect(t, md, workflow.StatusCompleted, "-")
	var ids []string
	if err := json.Unmarshal([]byte(md.Output.GetValue()), &ids); err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 || len(ids[0]) != 36 || len(ids[1]) != 36 || ids[0] == ids[1] {
		t.Fatalf("the two activities saw task execution IDs %q; want two different UUIDs", ids)
	}
}

func TestActivityChain(t *testing.T) {
	ctx := begin(t, 30*time.Second)
	md := finished(t, ctx, schedule(t, ctx, "Chain", idFor(t, ""), 10))
	expect(t, md, workflow.StatusCompleted, `{"greeting":"Hello, 14!","steps":[10,11,12,13,14]}`)
}

func TestFanOutFanIn(t *testing.T) {
	ctx := begin(t, 60*time.Second)
	md := finished(t, ctx, schedule(t, ctx, "FanOut", idFor(t, ""), 30))
	expect(t, md, workflow.StatusCompleted, "9455") // 1² + ... + 30²
}

func TestWhenAny(t *testing.T) {
	t.Skip("not supported by SDK: workflow.Task has only Await and TaskExecutionId, no WhenAny/WhenAll and no way to " +
		"look at a task without blocking on it (task/task.go)")
}

// ---------------------------------------------------------------------------------------------
// child workflows

func TestChildWorkflow(t *testing.T) {
	ctx := begin(t, 30*time.Second)
	id := schedule(t, ctx, "Parent", idFor(t, ""), 5)
	expect(t, finished(t, ctx, id), workflow.StatusCompleted, "[10,30]")
	child := metadata(t, ctx, id+"-child")
	expect(t, child, workflow.StatusCompleted, "10")
	if child.Name != "Double" || child.Input.GetValue() != "5" || child.ParentInstanceId != id {
		t.Fatalf("child: name %q input %q parent %q (%s)", child.Name, child.Input.GetValue(), child.ParentInstanceId, show(child))
	}
}

func TestChildWorkflowFailure(t *testing.T) {
	ctx := begin(t, 30*time.Second)
	caught := schedule(t, ctx, "ParentCatches", idFor(t, "caught"), nil)
	thrown := schedule(t, ctx, "ParentPropagates", idFor(t, "thrown"), nil)
	md := finished(t, ctx, caught)
	expect(t, md, workflow.StatusCompleted, "-")
	if want := "child failed: caught by " + caught; !strings.Contains(md.Output.GetValue(), want) {
		t.Fatalf("the parent saw %s; want the child's failure message %q in it", md.Output.GetValue(), want)
	}
	expect(t, finished(t, ctx, caught+"-child"), workflow.StatusFailed, "-")
	md = finished(t, ctx, thrown)
	expect(t, md, workflow.StatusFailed, "-")
	if !strings.Contains(md.FailureDetails.GetErrorMessage(), "child failed: not caught") {
		t.Fatalf("the parent failed with %q; want the child's message in it", md.FailureDetails.GetErrorMessage())
	}
	expect(t, finished(t, ctx, thrown+"-child"), workflow.StatusFailed, "-")
}

// ---------------------------------------------------------------------------------------------
// external events

func TestExternalEventBeforeWait(t *testing.T) {
	ctx := begin(t, 30*time.Second)
	id := idFor(t, "")
	l := newLatch(id)
	schedule(t, ctx, "LatchThenEvent", id, nil)
	l.awaitReached(t, ctx)
	raise(t, ctx, id, "Approval", "early") // names are case-insensitive
	close(l.opened)
	expect(t, finished(t, ctx, id), workflow.StatusCompleted, `"early"`)
}

func TestExternalEventAfterWait(t *testing.T) {
	ctx := begin(t, 30*time.Second)
	id := schedule(t, ctx, "WaitEvent", idFor(t, ""), nil)
	until(t, ctx, id, "the wait", customIs("waiting"))
	raise(t, ctx, id, "approval", "late")
	expect(t, finished(t, ctx, id), workflow.StatusCompleted, `"late"`)
}

// TestExternalEventNoTimeout: a wait without a timeout is a timer at 9999-12-31T23:59:59.999999999Z
// with origin externalEvent; on replay the SDK matches it with the TimerCreated event.
func TestExternalEventNoTimeout(t *testing.T) {
	ctx := begin(t, 30*time.Second)
	id := schedule(t, ctx, "WaitNoTimeout", idFor(t, ""), nil)
	until(t, ctx, id, "the wait", customIs("waiting"))
	raise(t, ctx, id, "go", "Dapr")
	expect(t, finished(t, ctx, id), workflow.StatusCompleted, `"Hello, Dapr!"`)
}

func TestExternalEventsInOrder(t *testing.T) {
	ctx := begin(t, 30*time.Second)
	id := schedule(t, ctx, "Collect", idFor(t, ""), nil)
	for _, v := range []string{"a", "b", "c"} {
		raise(t, ctx, id, "item", v)
	}
	expect(t, finished(t, ctx, id), workflow.StatusCompleted, `["a","b","c"]`)
}

func TestRaiseEventUnknownInstance(t *testing.T) {
	ctx := begin(t, 10*time.Second)
	err := wf.RaiseEvent(ctx, idFor(t, "nobody"), "approval")
	if codeOf(err) != codes.NotFound {
		t.Fatalf("an event for an unknown instance: %v; want NotFound", err)
	}
}

func TestExternalEventTimeout(t *testing.T) {
	ctx := begin(t, 30*time.Second)
	began := time.Now()
	md := finished(t, ctx, schedule(t, ctx, "EventTimeout", idFor(t, ""), nil))
	expect(t, md, workflow.StatusCompleted, `"timed out"`)
	if took := time.Since(began); took < time.Second {
		t.Fatalf("a 1 s wait timed out after %v", took)
	}
}

// ---------------------------------------------------------------------------------------------
// timers, continue-as-new

func TestDurableTimer(t *testing.T) {
	ctx := begin(t, 30*time.Second)
	began := time.Now()
	md := finished(t, ctx, schedule(t, ctx, "Timer", idFor(t, ""), nil))
	took := time.Since(began)
	expect(t, md, workflow.StatusCompleted, "-")
	var workflowMs int64
	if err := json.Unmarshal([]byte(md.Output.GetValue()), &workflowMs); err != nil {
		t.Fatal(err)
	}
	if took < 1500*time.Millisecond || workflowMs < 1500 || took > 10*time.Second {
		t.Fatalf("a 1.5 s timer: %v of wall time, %d ms of workflow time", took, workflowMs)
	}
}

func TestContinueAsNew(t *testing.T) {
	ctx := begin(t, 30*time.Second)
	md := finished(t, ctx, schedule(t, ctx, "Counter", idFor(t, ""), 0))
	expect(t, md, workflow.StatusCompleted, `"generation 4"`)
	if md.Input.GetValue() != "4" {
		t.Fatalf("the last generation's input is %q, want 4", md.Input.GetValue())
	}
}

func TestContinueAsNewKeepsEvents(t *testing.T) {
	ctx := begin(t, 30*time.Second)
	id := idFor(t, "")
	l := newLatch(id)
	schedule(t, ctx, "CarryEvents", id, 0)
	l.awaitReached(t, ctx)
	for _, n := range []int{1, 2, 3} {
		raise(t, ctx, id, "n", n)
	}
	close(l.opened)
	expect(t, finished(t, ctx, id), workflow.StatusCompleted, "6")
}

// ---------------------------------------------------------------------------------------------
// failures and retries

func TestActivityFailure(t *testing.T) {
	ctx := begin(t, 30*time.Second)
	uncaught := schedule(t, ctx, "CallBoom", idFor(t, "uncaught"), nil)
	cases := map[string][2]string{
		"caught":  {"Boom", "it broke"},
		"empty":   {"Boom", ""},
		"panic":   {"Panics", ""},
		"missing": {"Missing", ""},
	}
	want := map[string]string{
		"caught":  "caught: task failed with an error: it broke",
		"empty":   "caught: task failed with an error: ",
		"panic":   "caught: task failed with an error: panic: activity panicked",
		"missing": "caught: task failed with an error: no task activity named 'Missing' was registered",
	}
	for tag, in := range cases {
		schedule(t, ctx, "CatchFailure", idFor(t, tag), in)
	}
	md := finished(t, ctx, uncaught)
	expect(t, md, workflow.StatusFailed, "-")
	if !strings.Contains(md.FailureDetails.GetErrorMessage(), "kaboom") {
		t.Errorf("the uncaught failure reached the client as %q; want the activity's message", md.FailureDetails.GetErrorMessage())
	}
	for tag := range cases {
		md := finished(t, ctx, idFor(t, tag))
		expect(t, md, workflow.StatusCompleted, "-")
		var got string
		_ = json.Unmarshal([]byte(md.Output.GetValue()), &got)
		if got != want[tag] {
			t.Errorf("%s: the workflow saw %q, want %q", tag, got, want[tag])
		}
	}
}

func TestWorkflowFailure(t *testing.T) {
	ctx := begin(t, 30*time.Second)
	md := finished(t, ctx, schedule(t, ctx, "WorkflowFails", idFor(t, ""), nil))
	expect(t, md, workflow.StatusFailed, "-")
	if md.FailureDetails.GetErrorMessage() != "workflow boom" {
		t.Fatalf("failure details: %v", md.FailureDetails)
	}
	md = finished(t, ctx, schedule(t, ctx, "NotRegistered", idFor(t, "unregistered"), nil))
	expect(t, md, workflow.StatusFailed, "-")
}

func TestActivityRetries(t *testing.T) {
	ctx := begin(t, 30*time.Second)
	ok, spent := idFor(t, "ok"), idFor(t, "spent")
	began := time.Now()
	schedule(t, ctx, "RetryFlaky", ok, retryArgs{flakyArgs{ok, 3}, 5})
	schedule(t, ctx, "RetryFlaky", spent, retryArgs{flakyArgs{spent, 0}, 2})
	expect(t, finished(t, ctx, ok), workflow.StatusCompleted, `"ok on attempt 3"`)
	if took := time.Since(began); took < 750*time.Millisecond {
		t.Fatalf("three attempts 250 ms and 500 ms apart took %v", took)
	}
	expect(t, finished(t, ctx, spent), workflow.StatusFailed, "-")
	if n := count(spent); n != 2 {
		t.Fatalf("MaxAttempts 2: the activity ran %d times", n)
	}
}

// TestTaskExecutionIDOnRetry: a retried activity keeps its task execution ID. The SDK takes the
// retry's ID from the TaskFailed event (TaskFailedEvent.taskExecutionId, field 3), which the
// sidecar fills from the scheduled task: the worker's ActivityResponse carries none.
func TestTaskExecutionIDOnRetry(t *testing.T) {
	ctx := begin(t, 30*time.Second)
	id := schedule(t, ctx, "ExecIDRetry", idFor(t, ""), nil)
	md := finished(t, ctx, id)
	expect(t, md, workflow.StatusCompleted, "-")
	seen := execIDsSeen(id)
	if len(seen) != 2 || len(seen[0]) != 36 || seen[1] != seen[0] {
		t.Fatalf("the two attempts saw task execution IDs %q; want the same UUID twice", seen)
	}
}

func TestChildWorkflowRetries(t *testing.T) {
	ctx := begin(t, 30*time.Second)
	id := schedule(t, ctx, "RetryChild", idFor(t, ""), nil)
	expect(t, finished(t, ctx, id), workflow.StatusCompleted, `"ok on attempt 2"`)
	expect(t, metadata(t, ctx, id+"-child"), workflow.StatusCompleted, `"ok on attempt 2"`)
}

// ---------------------------------------------------------------------------------------------
// terminate, suspend/resume, custom status

func TestTerminate(t *testing.T) {
	ctx := begin(t, 30*time.Second)
	id := schedule(t, ctx, "Idle", idFor(t, ""), nil)
	until(t, ctx, id, "running", customIs("waiting"))
	if err := wf.TerminateWorkflow(ctx, id, workflow.WithOutput("stopped")); err != nil {
		t.Fatal(err)
	}
	expect(t, finished(t, ctx, id), workflow.StatusTerminated, `"stopped"`)
}

func TestTerminateRecursive(t *testing.T) {
	ctx := begin(t, 30*time.Second)
	deep := schedule(t, ctx, "ParentOfIdle", idFor(t, "deep"), nil)
	flat := schedule(t, ctx, "ParentOfIdle", idFor(t, "flat"), nil)
	for _, child := range []string{deep + "-child", flat + "-child"} {
		until(t, ctx, child, "the child running", customIs("waiting"))
	}
	if err := wf.TerminateWorkflow(ctx, deep); err != nil { // recursive unless told otherwise
		t.Fatal(err)
	}
	if err := wf.TerminateWorkflow(ctx, flat, workflow.WithRecursiveTerminate(false)); err != nil {
		t.Fatal(err)
	}
	expect(t, finished(t, ctx, deep+"-child"), workflow.StatusTerminated, "-")
	expect(t, finished(t, ctx, flat), workflow.StatusTerminated, "-")
	expect(t, metadata(t, ctx, flat+"-child"), workflow.StatusRunning, "-")
	if err := wf.TerminateWorkflow(ctx, flat+"-child"); err != nil {
		t.Fatal(err)
	}
}

func TestSuspendResume(t *testing.T) {
	ctx := begin(t, 30*time.Second)
	id := schedule(t, ctx, "Collect", idFor(t, ""), nil)
	until(t, ctx, id, "running", customIs("waiting"))
	if err := wf.SuspendWorkflow(ctx, id, "paused by the test"); err != nil {
		t.Fatal(err)
	}
	expect(t, metadata(t, ctx, id), workflow.StatusSuspended, "-")
	for _, v := range []string{"x", "y", "z"} {
		raise(t, ctx, id, "item", v)
	}
	short, cancel := context.WithTimeout(ctx, time.Second)
	_, err := wf.WaitForWorkflowCompletion(short, id)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a suspended workflow's wait for completion ended with %v", err)
	}
	expect(t, metadata(t, ctx, id), workflow.StatusSuspended, "-")
	if err := wf.ResumeWorkflow(ctx, id, "resumed by the test"); err != nil {
		t.Fatal(err)
	}
	expect(t, finished(t, ctx, id), workflow.StatusCompleted, `["x","y","z"]`)
}

func TestTerminateSuspended(t *testing.T) {
	ctx := begin(t, 30*time.Second)
	id := schedule(t, ctx, "Idle", idFor(t, ""), nil)
	until(t, ctx, id, "running", customIs("waiting"))
	if err := wf.SuspendWorkflow(ctx, id, ""); err != nil {
		t.Fatal(err)
	}
	if err := wf.TerminateWorkflow(ctx, id, workflow.WithOutput("gone")); err != nil {
		t.Fatal(err)
	}
	expect(t, finished(t, ctx, id), workflow.StatusTerminated, `"gone"`)
}

func TestCustomStatus(t *testing.T) {
	ctx := begin(t, 30*time.Second)
	id := schedule(t, ctx, "Steps", idFor(t, ""), nil)
	expect(t, until(t, ctx, id, "step 1", customIs("step 1 of 2")), workflow.StatusRunning, "-")
	raise(t, ctx, id, "next", nil)
	md := finished(t, ctx, id)
	expect(t, md, workflow.StatusCompleted, `"done"`)
	if md.CustomStatus.GetValue() != `{"step":2,"of":2}` {
		t.Fatalf("final custom status %q", md.CustomStatus.GetValue())
	}
}

// ---------------------------------------------------------------------------------------------
// purge

func gone(t *testing.T, ctx context.Context, id string) {
	t.Helper()
	if _, err := wf.FetchWorkflowMetadata(ctx, id); !errors.Is(err, api.ErrInstanceNotFound) {
		t.Fatalf("%s should be gone; fetching it gave %v", id, err)
	}
}

func TestPurge(t *testing.T) {
	ctx := begin(t, 30*time.Second)
	id := schedule(t, ctx, "OneActivity", idFor(t, "done"), "purge")
	expect(t, finished(t, ctx, id), workflow.StatusCompleted, "-")
	if err := wf.PurgeWorkflowState(ctx, id); err != nil {
		t.Fatalf("purging a completed instance: %v", err)
	}
	gone(t, ctx, id)
	if err := wf.PurgeWorkflowState(ctx, id); !errors.Is(err, api.ErrInstanceNotFound) {
		t.Fatalf("purging it again: %v; want ErrInstanceNotFound", err)
	}
	running := schedule(t, ctx, "Idle", idFor(t, "running"), nil)
	until(t, ctx, running, "running", customIs("waiting"))
	if err := wf.PurgeWorkflowState(ctx, running); err == nil {
		t.Fatal("purging a running instance (without force) succeeded")
	}
	expect(t, metadata(t, ctx, running), workflow.StatusRunning, "-")
	_ = wf.TerminateWorkflow(ctx, running)
}

func TestPurgeRecursive(t *testing.T) {
	ctx := begin(t, 30*time.Second)
	id := schedule(t, ctx, "Parent", idFor(t, ""), 1)
	expect(t, finished(t, ctx, id), workflow.StatusCompleted, "-")
	if err := wf.PurgeWorkflowState(ctx, id, workflow.WithRecursivePurge(true)); err != nil {
		t.Fatal(err)
	}
	gone(t, ctx, id)
	gone(t, ctx, id+"-child")
}

// TestPurgeForce: force (PurgeInstancesRequest.force, field 4) purges whatever the instance's state.
func TestPurgeForce(t *testing.T) {
	ctx := begin(t, 30*time.Second)
	id := schedule(t, ctx, "Idle", idFor(t, ""), nil)
	until(t, ctx, id, "running", customIs("waiting"))
	if err := wf.PurgeWorkflowState(ctx, id, workflow.WithForcePurge(true)); err != nil {
		_ = wf.TerminateWorkflow(ctx, id)
		t.Fatalf("a forced purge of a running instance: %v", err)
	}
	gone(t, ctx, id)
}

// ---------------------------------------------------------------------------------------------
// waiting, fetching, listing, history

func TestWaitForStart(t *testing.T) {
	ctx := begin(t, 30*time.Second)
	id := schedule(t, ctx, "Idle", idFor(t, ""), nil)
	md, err := wf.WaitForWorkflowStart(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, md, workflow.StatusRunning, "-")
	_ = wf.TerminateWorkflow(ctx, id)
}

func TestWaitForUnknownInstance(t *testing.T) {
	ctx := begin(t, 30*time.Second)
	waits := map[string]func(context.Context, string, ...workflow.FetchWorkflowMetadataOptions) (*workflow.WorkflowMetadata, error){
		"start": wf.WaitForWorkflowStart, "completion": wf.WaitForWorkflowCompletion,
	}
	for what, wait := range waits {
		short, cancel := context.WithTimeout(ctx, 5*time.Second)
		began := time.Now()
		_, err := wait(short, idFor(t, what))
		cancel()
		if !errors.Is(err, api.ErrInstanceNotFound) || time.Since(began) > 3*time.Second {
			t.Fatalf("waiting for the %s of an unknown instance: %v after %v; want ErrInstanceNotFound at once", what, err, time.Since(began))
		}
	}
}

func TestFetchUnknownInstance(t *testing.T) {
	ctx := begin(t, 10*time.Second)
	gone(t, ctx, idFor(t, "nobody"))
}

func TestListInstanceIDs(t *testing.T) {
	ctx := begin(t, 30*time.Second)
	mine := map[string]bool{}
	for _, tag := range []string{"a", "b", "c"} {
		id := schedule(t, ctx, "OneActivity", idFor(t, tag), tag)
		finished(t, ctx, id)
		mine[id] = false
	}
	seen := map[string]bool{}
	var token *string
	for pages := 0; ; pages++ {
		opts := []workflow.ListInstanceIDsOptions{workflow.WithListInstanceIDsPageSize(2)}
		if token != nil {
			opts = append(opts, workflow.WithListInstanceIDsContinuationToken(*token))
		}
		page, err := wf.ListInstanceIDs(ctx, opts...)
		if err != nil {
			t.Fatalf("ListInstanceIDs (page %d): %v", pages+1, err)
		}
		if len(page.InstanceIds) > 2 || pages > 10000 {
			t.Fatalf("page %d: %d IDs for page size 2", pages+1, len(page.InstanceIds))
		}
		for _, id := range page.InstanceIds {
			if seen[id] {
				t.Fatalf("%s listed twice", id)
			}
			seen[id] = true
		}
		if token = page.ContinuationToken; token == nil || *token == "" {
			break
		}
	}
	for id := range mine {
		if !seen[id] {
			t.Fatalf("%s is not listed (%d IDs listed)", id, len(seen))
		}
	}
}

func TestInstanceHistory(t *testing.T) {
	ctx := begin(t, 30*time.Second)
	id := schedule(t, ctx, "ExecIDs", idFor(t, ""), nil)
	md := finished(t, ctx, id)
	var ids []string
	_ = json.Unmarshal([]byte(md.Output.GetValue()), &ids)
	hist, err := wf.GetInstanceHistory(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var kinds, scheduled []string
	for _, e := range hist.Events {
		switch {
		case e.GetExecutionStarted() != nil:
			kinds = append(kinds, "started:"+e.GetExecutionStarted().GetName())
		case e.GetTaskScheduled() != nil:
			kinds = append(kinds, "scheduled:"+e.GetTaskScheduled().GetName())
			scheduled = append(scheduled, e.GetTaskScheduled().GetTaskExecutionId())
		case e.GetTaskCompleted() != nil:
			kinds = append(kinds, "completed")
		case e.GetExecutionCompleted() != nil:
			kinds = append(kinds, "finished:"+e.GetExecutionCompleted().GetWorkflowStatus().String())
		}
	}
	want := "started:ExecIDs scheduled:ExecID completed scheduled:ExecID completed finished:ORCHESTRATION_STATUS_COMPLETED"
	if got := strings.Join(kinds, " "); got != want {
		t.Fatalf("history: %s\nwant:    %s", got, want)
	}
	if len(ids) != 2 || strings.Join(scheduled, ",") != strings.Join(ids, ",") {
		t.Fatalf("TaskScheduled events carry task execution IDs %q; the activities saw %q", scheduled, ids)
	}
}

func TestScheduledStart(t *testing.T) {
	ctx := begin(t, 30*time.Second)
	at := time.Now().Add(1500 * time.Millisecond)
	id, err := wf.ScheduleWorkflow(ctx, "Now", workflow.WithInstanceID(idFor(t, "")), workflow.WithStartTime(at))
	if err != nil {
		t.Fatal(err)
	}
	if time.Until(at) > 500*time.Millisecond {
		expect(t, metadata(t, ctx, id), workflow.StatusPending, "-")
	}
	md := finished(t, ctx, id)
	expect(t, md, workflow.StatusCompleted, "-")
	var ran string
	_ = json.Unmarshal([]byte(md.Output.GetValue()), &ran)
	if ranAt, err := time.Parse(time.RFC3339Nano, ran); err != nil || ranAt.Before(at.Add(-10*time.Millisecond)) {
		t.Fatalf("scheduled for %v, the workflow ran at %q (%v)", at, ran, err)
	}
}

// ---------------------------------------------------------------------------------------------
// instance IDs

func TestDuplicateInstanceID(t *testing.T) {
	ctx := begin(t, 30*time.Second)
	id := schedule(t, ctx, "Idle", idFor(t, ""), nil)
	_, err := wf.ScheduleWorkflow(ctx, "Idle", workflow.WithInstanceID(id))
	if codeOf(err) != codes.AlreadyExists {
		t.Fatalf("starting a running instance's ID again: %v; want AlreadyExists", err)
	}
	_ = wf.TerminateWorkflow(ctx, id)
}

// TestReuseCompletedInstanceID: without WithEnforceUniqueInstanceID a completed instance is
// replaced by the new start.
func TestReuseCompletedInstanceID(t *testing.T) {
	ctx := begin(t, 30*time.Second)
	id := schedule(t, ctx, "OneActivity", idFor(t, ""), "first")
	expect(t, finished(t, ctx, id), workflow.StatusCompleted, `"Hello, first!"`)
	schedule(t, ctx, "OneActivity", id, "second")
	expect(t, finished(t, ctx, id), workflow.StatusCompleted, `"Hello, second!"`)
}

// TestEnforceUniqueInstanceID: with it (CreateInstanceRequest.enforceUniqueInstanceId, field 10)
// a completed instance's ID is refused too.
func TestEnforceUniqueInstanceID(t *testing.T) {
	ctx := begin(t, 30*time.Second)
	id := schedule(t, ctx, "OneActivity", idFor(t, ""), "first")
	expect(t, finished(t, ctx, id), workflow.StatusCompleted, "-")
	_, err := wf.ScheduleWorkflow(ctx, "OneActivity", workflow.WithInstanceID(id), workflow.WithInput("second"),
		workflow.NewWorkflowOptions(api.WithEnforceUniqueInstanceID()))
	if codeOf(err) != codes.AlreadyExists {
		t.Fatalf("a start with WithEnforceUniqueInstanceID of a completed instance's ID: %v; want AlreadyExists; now %s",
			err, show(metadata(t, ctx, id)))
	}
}

// ---------------------------------------------------------------------------------------------
// versions and patches

func TestPatchesReplay(t *testing.T) {
	ctx := begin(t, 30*time.Second)
	md := finished(t, ctx, schedule(t, ctx, "Patches", idFor(t, ""), nil))
	// Each patch was first checked at the end of history (so true), and then again on replay,
	// where only the patches recorded with that turn (WorkflowStartedEvent.version) count.
	expect(t, md, workflow.StatusCompleted, "[true,true]")
}

func TestPatchOldInstance(t *testing.T) {
	ctx := begin(t, 30*time.Second)
	id := idFor(t, "")
	l := newLatch(id)
	schedule(t, ctx, "Upgrade", id, nil)
	l.awaitReached(t, ctx)
	deployed.Store(id, true) // the new code reaches an instance whose first turn ran the old
	close(l.opened)
	expect(t, finished(t, ctx, id), workflow.StatusCompleted, `"false"`)
}

// TestVersionPinned: an instance keeps the workflow version its first turn ran (the version name
// the worker reported, back in WorkflowStartedEvent.version) after a newer one is registered.
func TestVersionPinned(t *testing.T) {
	ctx := begin(t, 30*time.Second)
	id := idFor(t, "old")
	l := newLatch(id)
	schedule(t, ctx, "Pinned", id, nil)
	l.awaitReached(t, ctx)
	if err := reg.AddVersionedWorkflowN("Pinned", "Pinned_v2", true, pinnedV2); err != nil {
		t.Fatal(err)
	}
	close(l.opened)
	expect(t, finished(t, ctx, id), workflow.StatusCompleted, `"v1"`)
	expect(t, finished(t, ctx, schedule(t, ctx, "Pinned", idFor(t, "new"), nil)), workflow.StatusCompleted, `"v2"`)
}

// ---------------------------------------------------------------------------------------------
// rerun

func TestRerunFromEvent(t *testing.T) {
	ctx := begin(t, 30*time.Second)
	source := schedule(t, ctx, "Chain3", idFor(t, ""), 1)
	expect(t, finished(t, ctx, source), workflow.StatusCompleted, "4")
	hist, err := wf.GetInstanceHistory(ctx, source)
	if err != nil {
		t.Fatal(err)
	}
	var tasks []uint32
	for _, e := range hist.Events {
		if e.GetTaskScheduled() != nil {
			tasks = append(tasks, uint32(e.EventId))
		}
	}
	if len(tasks) != 3 {
		t.Fatalf("history has %d TaskScheduled events, want 3", len(tasks))
	}
	// From the second activity, with a new input for it: 100+1+1.
	target := idFor(t, "rerun")
	got, err := wf.RerunWorkflowFromEvent(ctx, source, tasks[1], workflow.WithRerunNewInstanceID(target), workflow.WithRerunInput(100))
	if err != nil {
		t.Fatalf("RerunWorkflowFromEvent(%s, event %d): %v", source, tasks[1], err)
	}
	if got != target {
		t.Fatalf("the rerun is %q, want %q", got, target)
	}
	expect(t, finished(t, ctx, target), workflow.StatusCompleted, "102")
	// From the first, as it was, under an ID the server picks.
	fresh, err := wf.RerunWorkflowFromEvent(ctx, source, tasks[0])
	if err != nil || fresh == "" || fresh == source {
		t.Fatalf("a rerun without a new instance ID: %q, %v", fresh, err)
	}
	expect(t, finished(t, ctx, fresh), workflow.StatusCompleted, "4")
	expect(t, metadata(t, ctx, source), workflow.StatusCompleted, "4")
}

// ---------------------------------------------------------------------------------------------
// calls routed to another app: the emulator is one app, so the task fails

func expectOneAppFailure(t *testing.T, md *workflow.WorkflowMetadata) {
	t.Helper()
	expect(t, md, workflow.StatusCompleted, "-")
	var msg string
	_ = json.Unmarshal([]byte(md.Output.GetValue()), &msg)
	if !strings.Contains(strings.ToLower(msg), "app") {
		t.Fatalf("the routed task failed with %q; want a message about app IDs", msg)
	}
}

func TestCrossAppActivity(t *testing.T) {
	ctx := begin(t, 30*time.Second)
	id := schedule(t, ctx, "CrossAppActivity", idFor(t, ""), nil)
	md := finished(t, ctx, id)
	if n := count(id); n != 0 {
		t.Fatalf("the activity routed to %s ran %d time(s) in the emulator's app (%s)", otherApp, n, show(md))
	}
	expectOneAppFailure(t, md)
}

func TestCrossAppChildWorkflow(t *testing.T) {
	ctx := begin(t, 30*time.Second)
	id := schedule(t, ctx, "CrossAppChild", idFor(t, ""), nil)
	md := finished(t, ctx, id)
	if child, err := wf.FetchWorkflowMetadata(ctx, id+"-child"); err == nil {
		t.Fatalf("the child routed to %s ran in the emulator's app: %s (parent: %s)", otherApp, show(child), show(md))
	}
	expectOneAppFailure(t, md)
}

// TestCrossAppSchedule: a start routed to another app (CreateInstanceRequest.router, field 11)
// is refused rather than run here.
func TestCrossAppSchedule(t *testing.T) {
	ctx := begin(t, 30*time.Second)
	id := idFor(t, "")
	_, err := wf.ScheduleWorkflow(ctx, "OneActivity", workflow.WithInstanceID(id), workflow.WithInput("x"), workflow.WithAppID(otherApp))
	if err == nil {
		t.Fatalf("a start routed to %s was accepted: %s", otherApp, show(metadata(t, ctx, id)))
	}
	if !strings.Contains(strings.ToLower(err.Error()), "app") {
		t.Fatalf("a start routed to %s: %v; want a message about app IDs", otherApp, err)
	}
	gone(t, ctx, id)
}

// ---------------------------------------------------------------------------------------------
// what the SDK has no API for

func TestEntities(t *testing.T) {
	t.Skip("not supported by SDK: no durable entities in dapr/durabletask-go (its proto reserves the entity fields)")
}

func TestRestartInstance(t *testing.T) {
	t.Skip("not supported by SDK: workflow.Client has no restart (RerunWorkflowFromEvent needs an activity event)")
}

func TestRewindInstance(t *testing.T) {
	t.Skip("not supported by SDK: workflow.Client has no rewind")
}

func TestSendEventBetweenWorkflows(t *testing.T) {
	t.Skip("not supported by SDK: WorkflowContext has no SendEvent (the proto's SendEventAction is never emitted)")
}

func TestWorkItemFilters(t *testing.T) {
	t.Skip("not supported by SDK: the worker's GetWorkItemsRequest has only capabilities (no filters in Dapr's proto)")
}

func TestTaskHub(t *testing.T) {
	t.Skip("not supported by SDK: no task hub option; Dapr SDKs send no taskhub header")
}
