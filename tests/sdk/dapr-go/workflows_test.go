package daprsdk

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/dapr/durabletask-go/task"
	"github.com/dapr/durabletask-go/workflow"
)

// otherApp is an app ID that is not the emulator's: work routed there must fail.
const otherApp = "some-other-app"

// registerAll puts every workflow and activity the scenarios use into reg.
func registerAll() {
	check := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	for name, a := range map[string]workflow.Activity{
		"Greet": greet, "Inc": inc, "Square": square, "Latch": latchActivity, "Boom": boom,
		"Flaky": flaky, "ExecID": execID, "Remote": remote,
		"Panics": func(workflow.ActivityContext) (any, error) { panic("activity panicked") },
	} {
		check(reg.AddActivityN(name, a))
	}
	for name, w := range map[string]workflow.Workflow{
		"OneActivity": oneActivity, "Chain": chain, "FanOut": fanOut, "Double": double,
		"Parent": parent, "FailingChild": failingChild, "ParentCatches": parentCatches,
		"ParentPropagates": parentPropagates, "LatchThenEvent": latchThenEvent, "WaitEvent": waitEvent,
		"WaitNoTimeout": waitNoTimeout, "EventTimeout": eventTimeout, "Timer": timer, "Counter": counter,
		"CarryEvents": carryEvents, "CallBoom": callBoom, "CatchFailure": catchFailure,
		"WorkflowFails": func(*workflow.WorkflowContext) (any, error) { return nil, errors.New("workflow boom") },
		"RetryFlaky":    retryFlaky, "RetryChild": retryChild, "FlakyChild": flakyChild, "Idle": idle,
		"ParentOfIdle": parentOfIdle, "Collect": collect, "Steps": steps, "Now": now,
		"Patches": patches, "Upgrade": upgrade, "ExecIDs": execIDs, "ExecIDRetry": execIDRetry,
		"Chain3": chain3, "CrossAppActivity": crossAppActivity, "CrossAppChild": crossAppChild,
	} {
		check(reg.AddWorkflowN(name, w))
	}
	check(reg.AddVersionedWorkflowN("Pinned", "Pinned_v1", true, pinnedV1))
}

// ---------------------------------------------------------------------------------------------
// activities

func input[T any](ctx workflow.ActivityContext) (T, error) {
	var v T
	err := ctx.GetInput(&v)
	return v, err
}

func greet(ctx workflow.ActivityContext) (any, error) {
	name, err := input[string](ctx)
	return "Hello, " + name + "!", err
}

func inc(ctx workflow.ActivityContext) (any, error) {
	n, err := input[int](ctx)
	return n + 1, err
}

func square(ctx workflow.ActivityContext) (any, error) {
	n, err := input[int](ctx)
	return n * n, err
}

func boom(ctx workflow.ActivityContext) (any, error) {
	msg, _ := input[string](ctx)
	return nil, errors.New(msg)
}

type flakyArgs struct {
	Key  string
	OkOn int // the attempt that succeeds; 0: none does
}

func flaky(ctx workflow.ActivityContext) (any, error) {
	in, err := input[flakyArgs](ctx)
	if err != nil {
		return nil, err
	}
	n := bump(in.Key)
	if in.OkOn == 0 || n < in.OkOn {
		return nil, fmt.Errorf("attempt %d failed", n)
	}
	return fmt.Sprintf("ok on attempt %d", n), nil
}

// execID returns the task execution ID the activity was given; with a key, its first attempt fails.
func execID(ctx workflow.ActivityContext) (any, error) {
	key, _ := input[string](ctx)
	recordExecID(key, ctx.GetTaskExecutionID())
	if key != "" && bump(key) == 1 {
		return nil, errors.New("first attempt fails")
	}
	return ctx.GetTaskExecutionID(), nil
}

var execIDLog sync.Map // key -> []string, every attempt's execution ID

func recordExecID(key, id string) {
	counterMu.Lock()
	defer counterMu.Unlock()
	old, _ := execIDLog.Load(key)
	seen, _ := old.([]string)
	execIDLog.Store(key, append(seen, id))
}

func execIDsSeen(key string) []string {
	counterMu.Lock()
	defer counterMu.Unlock()
	v, _ := execIDLog.Load(key)
	seen, _ := v.([]string)
	return append([]string(nil), seen...)
}

// remote must never run here: the scenarios route it to another app.
func remote(ctx workflow.ActivityContext) (any, error) {
	key, _ := input[string](ctx)
	bump(key)
	return "ran in the emulator's app", nil
}

// ---------------------------------------------------------------------------------------------
// workflows

func oneActivity(ctx *workflow.WorkflowContext) (any, error) {
	var name, out string
	if err := ctx.GetInput(&name); err != nil {
		return nil, err
	}
	err := ctx.CallActivity("Greet", workflow.WithActivityInput(name)).Await(&out)
	return out, err
}

func chain(ctx *workflow.WorkflowContext) (any, error) {
	var n int
	if err := ctx.GetInput(&n); err != nil {
		return nil, err
	}
	steps := []int{n}
	for i := 0; i < 4; i++ {
		if err := ctx.CallActivity("Inc", workflow.WithActivityInput(n)).Await(&n); err != nil {
			return nil, err
		}
		steps = append(steps, n)
	}
	var greeting string
	err := ctx.CallActivity("Greet", workflow.WithActivityInput(fmt.Sprint(n))).Await(&greeting)
	return map[string]any{"steps": steps, "greeting": greeting}, err
}

func fanOut(ctx *workflow.WorkflowContext) (any, error) {
	var n int
	if err := ctx.GetInput(&n); err != nil {
		return nil, err
	}
	pending := make([]workflow.Task, n)
	for i := range pending {
		pending[i] = ctx.CallActivity("Square", workflow.WithActivityInput(i+1))
	}
	total := 0
	for _, p := range pending {
		var sq int
		if err := p.Await(&sq); err != nil {
			return nil, err
		}
		total += sq
	}
	return total, nil
}

func double(ctx *workflow.WorkflowContext) (any, error) {
	var n int
	err := ctx.GetInput(&n)
	return n * 2, err
}

// parent calls Double twice: once with a chosen child instance ID, once with the SDK's.
func parent(ctx *workflow.WorkflowContext) (any, error) {
	var n int
	if err := ctx.GetInput(&n); err != nil {
		return nil, err
	}
	named := ctx.CallChildWorkflow("Double", workflow.WithChildWorkflowInput(n),
		workflow.WithChildWorkflowInstanceID(ctx.ID()+"-child"))
	generated := ctx.CallChildWorkflow("Double", workflow.WithChildWorkflowInput(n+10))
	var a, b int
	if err := named.Await(&a); err != nil {
		return nil, err
	}
	err := generated.Await(&b)
	return []int{a, b}, err
}

func failingChild(ctx *workflow.WorkflowContext) (any, error) {
	var why string
	_ = ctx.GetInput(&why)
	return nil, fmt.Errorf("child failed: %s", why)
}

func parentCatches(ctx *workflow.WorkflowContext) (any, error) {
	err := ctx.CallChildWorkflow("FailingChild", workflow.WithChildWorkflowInput("caught by "+ctx.ID()),
		workflow.WithChildWorkflowInstanceID(ctx.ID()+"-child")).Await(nil)
	if err == nil {
		return nil, errors.New("the failing child succeeded")
	}
	return "parent saw: " + err.Error(), nil
}

func parentPropagates(ctx *workflow.WorkflowContext) (any, error) {
	return nil, ctx.CallChildWorkflow("FailingChild", workflow.WithChildWorkflowInput("not caught"),
		workflow.WithChildWorkflowInstanceID(ctx.ID()+"-child")).Await(nil)
}

// latchThenEvent sits on the Latch activity while the test raises the event: the event is in
// history before the workflow waits for it.
func latchThenEvent(ctx *workflow.WorkflowContext) (any, error) {
	if err := ctx.CallActivity("Latch", workflow.WithActivityInput(ctx.ID())).Await(nil); err != nil {
		return nil, err
	}
	var v string
	err := ctx.WaitForExternalEvent("approval", 20*time.Second).Await(&v)
	return v, err
}

func waitEvent(ctx *workflow.WorkflowContext) (any, error) {
	ctx.SetCustomStatus("waiting")
	var v string
	err := ctx.WaitForExternalEvent("approval", 30*time.Second).Await(&v)
	return v, err
}

// waitNoTimeout waits without a timeout (the SDK's year-9999 timer), then runs an activity, so
// that a later turn replays the wait.
func waitNoTimeout(ctx *workflow.WorkflowContext) (any, error) {
	ctx.SetCustomStatus("waiting")
	var who, out string
	if err := ctx.WaitForExternalEvent("go", -1).Await(&who); err != nil {
		return nil, err
	}
	err := ctx.CallActivity("Greet", workflow.WithActivityInput(who)).Await(&out)
	return out, err
}

func eventTimeout(ctx *workflow.WorkflowContext) (any, error) {
	err := ctx.WaitForExternalEvent("never", time.Second).Await(nil)
	if errors.Is(err, task.ErrTaskCanceled) {
		return "timed out", nil
	}
	return nil, fmt.Errorf("the wait ended with %v, not its timeout", err)
}

// timer returns how much workflow time a 1.5 s timer took, in ms.
func timer(ctx *workflow.WorkflowContext) (any, error) {
	before := ctx.CurrentTimeUTC()
	if err := ctx.CreateTimer(1500*time.Millisecond, workflow.WithTimerName("pause")).Await(nil); err != nil {
		return nil, err
	}
	return ctx.CurrentTimeUTC().Sub(before).Milliseconds(), nil
}

func counter(ctx *workflow.WorkflowContext) (any, error) {
	var n int
	if err := ctx.GetInput(&n); err != nil {
		return nil, err
	}
	if n < 4 {
		ctx.ContinueAsNew(n + 1)
		return nil, nil
	}
	return fmt.Sprintf("generation %d", n), nil
}

// carryEvents: generation 0 gets three events it never waits for and continues as new keeping
// them; generation 1 adds them up.
func carryEvents(ctx *workflow.WorkflowContext) (any, error) {
	var generation int
	if err := ctx.GetInput(&generation); err != nil {
		return nil, err
	}
	if generation == 0 {
		if err := ctx.CallActivity("Latch", workflow.WithActivityInput(ctx.ID())).Await(nil); err != nil {
			return nil, err
		}
		ctx.ContinueAsNew(1, workflow.WithKeepUnprocessedEvents())
		return nil, nil
	}
	sum := 0
	for i := 0; i < 3; i++ {
		var v int
		if err := ctx.WaitForExternalEvent("n", 5*time.Second).Await(&v); err != nil {
			return nil, fmt.Errorf("carried event %d: %w", i+1, err)
		}
		sum += v
	}
	return sum, nil
}

func callBoom(ctx *workflow.WorkflowContext) (any, error) {
	return nil, ctx.CallActivity("Boom", workflow.WithActivityInput("kaboom")).Await(nil)
}

// catchFailure calls the activity named by its input's first item (with the second as input)
// and returns the error it saw.
func catchFailure(ctx *workflow.WorkflowContext) (any, error) {
	var in [2]string
	if err := ctx.GetInput(&in); err != nil {
		return nil, err
	}
	if err := ctx.CallActivity(in[0], workflow.WithActivityInput(in[1])).Await(nil); err != nil {
		return "caught: " + err.Error(), nil
	}
	return nil, fmt.Errorf("%s did not fail", in[0])
}

type retryArgs struct {
	flakyArgs
	Attempts int
}

func retryFlaky(ctx *workflow.WorkflowContext) (any, error) {
	var in retryArgs
	if err := ctx.GetInput(&in); err != nil {
		return nil, err
	}
	var out string
	err := ctx.CallActivity("Flaky", workflow.WithActivityInput(in.flakyArgs),
		workflow.WithActivityRetryPolicy(&workflow.RetryPolicy{
			MaxAttempts: in.Attempts, InitialRetryInterval: 250 * time.Millisecond, BackoffCoefficient: 2,
		})).Await(&out)
	return out, err
}

// retryChild retries a child (same instance ID each time) that fails on its first attempt.
func retryChild(ctx *workflow.WorkflowContext) (any, error) {
	var out string
	err := ctx.CallChildWorkflow("FlakyChild", workflow.WithChildWorkflowInput(ctx.ID()),
		workflow.WithChildWorkflowInstanceID(ctx.ID()+"-child"),
		workflow.WithChildWorkflowRetryPolicy(&workflow.RetryPolicy{MaxAttempts: 3, InitialRetryInterval: 100 * time.Millisecond}),
	).Await(&out)
	return out, err
}

func flakyChild(ctx *workflow.WorkflowContext) (any, error) {
	var key, out string
	if err := ctx.GetInput(&key); err != nil {
		return nil, err
	}
	err := ctx.CallActivity("Flaky", workflow.WithActivityInput(flakyArgs{Key: key, OkOn: 2})).Await(&out)
	return out, err
}

// idle waits (with a long timeout) for an event nobody sends.
func idle(ctx *workflow.WorkflowContext) (any, error) {
	ctx.SetCustomStatus("waiting")
	return "woken", ctx.WaitForExternalEvent("never", time.Hour).Await(nil)
}

func parentOfIdle(ctx *workflow.WorkflowContext) (any, error) {
	ctx.SetCustomStatus("waiting")
	return "child ended", ctx.CallChildWorkflow("Idle", workflow.WithChildWorkflowInstanceID(ctx.ID()+"-child")).Await(nil)
}

// collect returns the first three "item" events' payloads, in order.
func collect(ctx *workflow.WorkflowContext) (any, error) {
	ctx.SetCustomStatus("waiting")
	var items []string
	for len(items) < 3 {
		var v string
		if err := ctx.WaitForExternalEvent("item", time.Minute).Await(&v); err != nil {
			return nil, err
		}
		items = append(items, v)
	}
	return items, nil
}

func steps(ctx *workflow.WorkflowContext) (any, error) {
	ctx.SetCustomStatus("step 1 of 2")
	if err := ctx.WaitForExternalEvent("next", 30*time.Second).Await(nil); err != nil {
		return nil, err
	}
	ctx.SetCustomStatus(`{"step":2,"of":2}`)
	return "done", nil
}

func now(ctx *workflow.WorkflowContext) (any, error) {
	return ctx.CurrentTimeUTC().Format(time.RFC3339Nano), nil
}

// patches checks one patch before and one after an activity; the last turn replays both checks,
// which must give what the first evaluation gave (from the patches history recorded).
func patches(ctx *workflow.WorkflowContext) (any, error) {
	first := ctx.IsPatched("before-activity")
	if err := ctx.CallActivity("Inc", workflow.WithActivityInput(1)).Await(nil); err != nil {
		return nil, err
	}
	second := ctx.IsPatched("after-activity")
	if err := ctx.CallActivity("Inc", workflow.WithActivityInput(2)).Await(nil); err != nil {
		return nil, err
	}
	return []bool{first, second}, nil
}

// deployed says whether upgrade's new code is "deployed" (per instance ID).
var deployed sync.Map

// upgrade: an instance started before the patch was deployed must keep the old path on replay.
func upgrade(ctx *workflow.WorkflowContext) (any, error) {
	patched := "not checked"
	if _, ok := deployed.Load(ctx.ID()); ok {
		patched = fmt.Sprint(ctx.IsPatched("new-step"))
	}
	if err := ctx.CallActivity("Latch", workflow.WithActivityInput(ctx.ID())).Await(nil); err != nil {
		return nil, err
	}
	return patched, nil
}

func pinnedV1(ctx *workflow.WorkflowContext) (any, error) {
	if err := ctx.CallActivity("Latch", workflow.WithActivityInput(ctx.ID())).Await(nil); err != nil {
		return nil, err
	}
	return "v1", nil
}

func pinnedV2(*workflow.WorkflowContext) (any, error) { return "v2", nil }

// execIDs runs ExecID twice and returns the two task execution IDs.
func execIDs(ctx *workflow.WorkflowContext) (any, error) {
	ids := make([]string, 2)
	for i := range ids {
		if err := ctx.CallActivity("ExecID", workflow.WithActivityInput("")).Await(&ids[i]); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// execIDRetry retries ExecID once (its first attempt fails).
func execIDRetry(ctx *workflow.WorkflowContext) (any, error) {
	var id string
	err := ctx.CallActivity("ExecID", workflow.WithActivityInput(ctx.ID()),
		workflow.WithActivityRetryPolicy(&workflow.RetryPolicy{MaxAttempts: 2, InitialRetryInterval: 100 * time.Millisecond}),
	).Await(&id)
	return id, err
}

// chain3 adds 1 three times, one activity each.
func chain3(ctx *workflow.WorkflowContext) (any, error) {
	var n int
	if err := ctx.GetInput(&n); err != nil {
		return nil, err
	}
	for i := 0; i < 3; i++ {
		if err := ctx.CallActivity("Inc", workflow.WithActivityInput(n)).Await(&n); err != nil {
			return nil, err
		}
	}
	return n, nil
}

func crossAppActivity(ctx *workflow.WorkflowContext) (any, error) {
	err := ctx.CallActivity("Remote", workflow.WithActivityInput(ctx.ID()), workflow.WithActivityAppID(otherApp)).Await(nil)
	if err == nil {
		return nil, errors.New("the activity routed to " + otherApp + " succeeded")
	}
	return err.Error(), nil
}

func crossAppChild(ctx *workflow.WorkflowContext) (any, error) {
	err := ctx.CallChildWorkflow("Double", workflow.WithChildWorkflowInput(1), workflow.WithChildWorkflowAppID(otherApp),
		workflow.WithChildWorkflowInstanceID(ctx.ID()+"-child")).Await(nil)
	if err == nil {
		return nil, errors.New("the child workflow routed to " + otherApp + " succeeded")
	}
	return err.Error(), nil
}
