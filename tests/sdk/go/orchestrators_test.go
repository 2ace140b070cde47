package sdktests

import (
	"errors"
	"fmt"
	"time"

	"github.com/microsoft/durabletask-go/task"
)

// register adds every orchestrator and activity the scenarios use to the shared registry.
func register() {
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	activities := map[string]task.Activity{
		"Hello":     helloActivity,
		"Add1":      add1Activity,
		"Square":    squareActivity,
		"Gate":      gateActivity,
		"Fail":      failActivity,
		"FailEmpty": failEmptyActivity,
		"Panic":     panicActivity,
		"Flaky":     flakyActivity,
	}
	for name, a := range activities {
		must(registry.AddActivityN(name, a))
	}
	orchestrators := map[string]task.Orchestrator{
		"SingleActivity":    singleActivity,
		"Chain":             chain,
		"FanOut":            fanOut,
		"Parent":            parent,
		"Double":            double,
		"ParentCatches":     parentCatches,
		"ParentPropagates":  parentPropagates,
		"ChildFails":        childFails,
		"GateThenEvent":     gateThenEvent,
		"WaitEvent":         waitEvent,
		"ThreeItems":        threeItems,
		"EventTimeout":      eventTimeout,
		"Timer2s":           timer2s,
		"Counter":           counter,
		"CarryEvents":       carryEvents,
		"CallsFailing":      callsFailing,
		"CatchesFailing":    catchesFailing,
		"OrchestratorFails": orchestratorFails,
		"RetryActivity":     retryActivity,
		"RetrySub":          retrySub,
		"FlakyChild":        flakyChild,
		"WaitForever":       waitForever,
		"ParentOfWaiter":    parentOfWaiter,
		"SuspendMe":         suspendMe,
		"StatusSteps":       statusSteps,
		"GateHello":         gateHello,
		"Now":               now,
	}
	for name, o := range orchestrators {
		must(registry.AddOrchestratorN(name, o))
	}
}

// ---------------------------------------------------------------------------------------------
// activities

func helloActivity(ctx task.ActivityContext) (any, error) {
	var name string
	if err := ctx.GetInput(&name); err != nil {
		return nil, err
	}
	return fmt.Sprintf("Hello, %s!", name), nil
}

func add1Activity(ctx task.ActivityContext) (any, error) {
	var n int
	if err := ctx.GetInput(&n); err != nil {
		return nil, err
	}
	return n + 1, nil
}

func squareActivity(ctx task.ActivityContext) (any, error) {
	var n int
	if err := ctx.GetInput(&n); err != nil {
		return nil, err
	}
	return n * n, nil
}

func failActivity(ctx task.ActivityContext) (any, error) {
	var msg string
	if err := ctx.GetInput(&msg); err != nil {
		return nil, err
	}
	return nil, errors.New(msg)
}

// failEmptyActivity fails with an empty error message: still a failure, never a result.
func failEmptyActivity(task.ActivityContext) (any, error) {
	return nil, errors.New("")
}

func panicActivity(task.ActivityContext) (any, error) {
	panic("ouch")
}

type flakyInput struct {
	Key       string
	SucceedOn int32
}

// flakyActivity fails until its SucceedOn-th attempt (counted per key).
func flakyActivity(ctx task.ActivityContext) (any, error) {
	var in flakyInput
	if err := ctx.GetInput(&in); err != nil {
		return nil, err
	}
	n := nextAttempt(in.Key)
	if in.SucceedOn == 0 || n < in.SucceedOn {
		return nil, fmt.Errorf("flaky failure on attempt %d", n)
	}
	return fmt.Sprintf("ok after %d", n), nil
}

// ---------------------------------------------------------------------------------------------
// orchestrators

func singleActivity(ctx *task.OrchestrationContext) (any, error) {
	var name string
	if err := ctx.GetInput(&name); err != nil {
		return nil, err
	}
	var out string
	err := ctx.CallActivity("Hello", task.WithActivityInput(name)).Await(&out)
	return out, err
}

type chainResult struct {
	Value     int
	Greetings []string
}

func chain(ctx *task.OrchestrationContext) (any, error) {
	var v int
	if err := ctx.GetInput(&v); err != nil {
		return nil, err
	}
	for i := 0; i < 5; i++ {
		if err := ctx.CallActivity("Add1", task.WithActivityInput(v)).Await(&v); err != nil {
			return nil, err
		}
	}
	res := chainResult{Value: v}
	for _, city := range []string{"Tokyo", "London", "Seattle"} {
		var g string
		if err := ctx.CallActivity("Hello", task.WithActivityInput(city)).Await(&g); err != nil {
			return nil, err
		}
		res.Greetings = append(res.Greetings, g)
	}
	return res, nil
}

func fanOut(ctx *task.OrchestrationContext) (any, error) {
	var n int
	if err := ctx.GetInput(&n); err != nil {
		return nil, err
	}
	tasks := make([]task.Task, 0, n)
	for i := 1; i <= n; i++ {
		tasks = append(tasks, ctx.CallActivity("Square", task.WithActivityInput(i)))
	}
	sum := 0
	for _, t := range tasks {
		var sq int
		if err := t.Await(&sq); err != nil {
			return nil, err
		}
		sum += sq
	}
	return sum, nil
}

func double(ctx *task.OrchestrationContext) (any, error) {
	var n int
	if err := ctx.GetInput(&n); err != nil {
		return nil, err
	}
	return 2 * n, nil
}

// parent calls one child with an explicit instance ID and one with an ID the SDK makes up.
func parent(ctx *task.OrchestrationContext) (any, error) {
	var n int
	if err := ctx.GetInput(&n); err != nil {
		return nil, err
	}
	named := ctx.CallSubOrchestrator("Double",
		task.WithSubOrchestrationInstanceID(string(ctx.ID)+"-child"),
		task.WithSubOrchestratorInput(n))
	unnamed := ctx.CallSubOrchestrator("Double", task.WithSubOrchestratorInput(n+1))
	var a, b int
	if err := named.Await(&a); err != nil {
		return nil, err
	}
	if err := unnamed.Await(&b); err != nil {
		return nil, err
	}
	return []int{a, b}, nil
}

func childFails(ctx *task.OrchestrationContext) (any, error) {
	var s string
	_ = ctx.GetInput(&s)
	return nil, fmt.Errorf("child boom (%s)", s)
}

func parentCatches(ctx *task.OrchestrationContext) (any, error) {
	err := ctx.CallSubOrchestrator("ChildFails",
		task.WithSubOrchestrationInstanceID(string(ctx.ID)+"-child"),
		task.WithSubOrchestratorInput("from "+string(ctx.ID))).Await(nil)
	if err == nil {
		return nil, errors.New("the failing child did not fail")
	}
	return "caught: " + err.Error(), nil
}

func parentPropagates(ctx *task.OrchestrationContext) (any, error) {
	err := ctx.CallSubOrchestrator("ChildFails",
		task.WithSubOrchestrationInstanceID(string(ctx.ID)+"-child"),
		task.WithSubOrchestratorInput("propagated")).Await(nil)
	return nil, err
}

// gateThenEvent is parked on the Gate activity while the test raises the event, so the event is
// in the history before the orchestrator asks for it.
func gateThenEvent(ctx *task.OrchestrationContext) (any, error) {
	var key string
	if err := ctx.GetInput(&key); err != nil {
		return nil, err
	}
	if err := ctx.CallActivity("Gate", task.WithActivityInput(key)).Await(nil); err != nil {
		return nil, err
	}
	var v string
	if err := ctx.WaitForSingleEvent("approval", 10*time.Second).Await(&v); err != nil {
		return nil, err
	}
	return v, nil
}

func waitEvent(ctx *task.OrchestrationContext) (any, error) {
	ctx.SetCustomStatus("waiting")
	var v string
	if err := ctx.WaitForSingleEvent("approval", 30*time.Second).Await(&v); err != nil {
		return nil, err
	}
	return v, nil
}

func threeItems(ctx *task.OrchestrationContext) (any, error) {
	ctx.SetCustomStatus("waiting")
	var got []string
	for i := 0; i < 3; i++ {
		var v string
		if err := ctx.WaitForSingleEvent("item", -1).Await(&v); err != nil {
			return nil, err
		}
		got = append(got, v)
	}
	return got, nil
}

func eventTimeout(ctx *task.OrchestrationContext) (any, error) {
	err := ctx.WaitForSingleEvent("never", time.Second).Await(nil)
	if errors.Is(err, task.ErrTaskCanceled) {
		return "timed out", nil
	}
	return nil, fmt.Errorf("expected the wait to time out, got %v", err)
}

// timer2s returns how much orchestration time a 2 s timer in the first step took, in ms.
func timer2s(ctx *task.OrchestrationContext) (any, error) {
	before := ctx.CurrentTimeUtc
	if before.IsZero() {
		return nil, errors.New("CurrentTimeUtc is zero: no orchestratorStarted event before the first step")
	}
	if err := ctx.CreateTimer(2 * time.Second).Await(nil); err != nil {
		return nil, err
	}
	return ctx.CurrentTimeUtc.Sub(before).Milliseconds(), nil
}

func counter(ctx *task.OrchestrationContext) (any, error) {
	var n int
	if err := ctx.GetInput(&n); err != nil {
		return nil, err
	}
	if n < 5 {
		ctx.ContinueAsNew(n + 1)
		return nil, nil
	}
	return n, nil
}

type carryInput struct {
	Generation int
	Key        string
}

// carryEvents: generation 0 receives three "item" events it never waits for and continues as
// new keeping them; generation 1 reads them.
func carryEvents(ctx *task.OrchestrationContext) (any, error) {
	var in carryInput
	if err := ctx.GetInput(&in); err != nil {
		return nil, err
	}
	if in.Generation == 0 {
		if err := ctx.CallActivity("Gate", task.WithActivityInput(in.Key)).Await(nil); err != nil {
			return nil, err
		}
		ctx.ContinueAsNew(carryInput{Generation: 1, Key: in.Key}, task.WithKeepUnprocessedEvents())
		return nil, nil
	}
	sum := 0
	for i := 0; i < 3; i++ {
		var v int
		if err := ctx.WaitForSingleEvent("item", 5*time.Second).Await(&v); err != nil {
			return nil, fmt.Errorf("event %d of 3 was not carried over: %w", i+1, err)
		}
		sum += v
	}
	return sum, nil
}

func callsFailing(ctx *task.OrchestrationContext) (any, error) {
	return nil, ctx.CallActivity("Fail", task.WithActivityInput("kaboom")).Await(nil)
}

// catchesFailing calls the activity named by its input and returns the error it got.
func catchesFailing(ctx *task.OrchestrationContext) (any, error) {
	var name string
	if err := ctx.GetInput(&name); err != nil {
		return nil, err
	}
	err := ctx.CallActivity(name, task.WithActivityInput("kaboom")).Await(nil)
	if err == nil {
		return nil, fmt.Errorf("activity %s did not fail", name)
	}
	return "caught: " + err.Error(), nil
}

func orchestratorFails(*task.OrchestrationContext) (any, error) {
	return nil, errors.New("orchestrator boom")
}

type retryInput struct {
	Key         string
	SucceedOn   int32
	MaxAttempts int
}

func retryActivity(ctx *task.OrchestrationContext) (any, error) {
	var in retryInput
	if err := ctx.GetInput(&in); err != nil {
		return nil, err
	}
	var out string
	err := ctx.CallActivity("Flaky",
		task.WithActivityInput(flakyInput{Key: in.Key, SucceedOn: in.SucceedOn}),
		task.WithActivityRetryPolicy(&task.RetryPolicy{
			MaxAttempts:          in.MaxAttempts,
			InitialRetryInterval: 200 * time.Millisecond,
			BackoffCoefficient:   2,
		})).Await(&out)
	return out, err
}

// retrySub retries a child (with a fixed instance ID) whose first attempt fails.
func retrySub(ctx *task.OrchestrationContext) (any, error) {
	var key string
	if err := ctx.GetInput(&key); err != nil {
		return nil, err
	}
	var out string
	err := ctx.CallSubOrchestrator("FlakyChild",
		task.WithSubOrchestrationInstanceID(string(ctx.ID)+"-child"),
		task.WithSubOrchestratorInput(key),
		task.WithSubOrchestrationRetryPolicy(&task.RetryPolicy{
			MaxAttempts:          3,
			InitialRetryInterval: 100 * time.Millisecond,
		})).Await(&out)
	return out, err
}

// flakyChild fails when its (non-retried) Flaky activity fails: on its first attempt only.
func flakyChild(ctx *task.OrchestrationContext) (any, error) {
	var key string
	if err := ctx.GetInput(&key); err != nil {
		return nil, err
	}
	var out string
	err := ctx.CallActivity("Flaky", task.WithActivityInput(flakyInput{Key: key, SucceedOn: 2})).Await(&out)
	return out, err
}

func waitForever(ctx *task.OrchestrationContext) (any, error) {
	ctx.SetCustomStatus("waiting")
	if err := ctx.WaitForSingleEvent("never", -1).Await(nil); err != nil {
		return nil, err
	}
	return "woke", nil
}

func parentOfWaiter(ctx *task.OrchestrationContext) (any, error) {
	ctx.SetCustomStatus("waiting")
	if err := ctx.CallSubOrchestrator("WaitForever",
		task.WithSubOrchestrationInstanceID(string(ctx.ID)+"-child")).Await(nil); err != nil {
		return nil, err
	}
	return "child done", nil
}

func suspendMe(ctx *task.OrchestrationContext) (any, error) {
	ctx.SetCustomStatus("waiting")
	var got []int
	for i := 0; i < 3; i++ {
		var v int
		if err := ctx.WaitForSingleEvent("MyEvent", -1).Await(&v); err != nil {
			return nil, err
		}
		got = append(got, v)
	}
	return got, nil
}

func statusSteps(ctx *task.OrchestrationContext) (any, error) {
	ctx.SetCustomStatus("step1")
	if err := ctx.WaitForSingleEvent("next", 30*time.Second).Await(nil); err != nil {
		return nil, err
	}
	ctx.SetCustomStatus(`{"step":2,"done":true}`)
	return "finished", nil
}

type gateHelloInput struct {
	Key  string
	Name string
}

func gateHello(ctx *task.OrchestrationContext) (any, error) {
	var in gateHelloInput
	if err := ctx.GetInput(&in); err != nil {
		return nil, err
	}
	if err := ctx.CallActivity("Gate", task.WithActivityInput(in.Key)).Await(nil); err != nil {
		return nil, err
	}
	var out string
	err := ctx.CallActivity("Hello", task.WithActivityInput(in.Name)).Await(&out)
	return out, err
}

func now(ctx *task.OrchestrationContext) (any, error) {
	return ctx.CurrentTimeUtc.Format(time.RFC3339Nano), nil
}
