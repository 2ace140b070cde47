package sdktests

// Control of time: each task hub has a clock of its own. With time skipping on, the hub's clock
// jumps to its earliest pending timer whenever a client waits (WaitForInstanceStart/Completion)
// and none of the hub's work items is queued or with a worker; AdvanceTime moves it by hand.
//
// Every test has a task hub of its own (timeHub: its own client and work-item listener), so
// the default hub's scenarios, which run in parallel with these, keep real time. Nothing waits
// for a timer in real time: wall time is only read to show that days passed in seconds.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/microsoft/durabletask-go/api"
	"github.com/microsoft/durabletask-go/client"
	"github.com/microsoft/durabletask-go/task"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const day = 24 * time.Hour

// ---------------------------------------------------------------------------------------------
// orchestrators and activities (one registry, served by every time hub's listener)

var timeRegistry = func() *task.TaskRegistry {
	r := task.NewTaskRegistry()
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	// A 30-day timer; returns how far the orchestration's clock moved, in seconds.
	must(r.AddOrchestratorN("TimeThirtyDays", func(ctx *task.OrchestrationContext) (any, error) {
		start := ctx.CurrentTimeUtc
		if err := ctx.CreateTimer(30 * day).Await(nil); err != nil {
			return nil, err
		}
		return ctx.CurrentTimeUtc.Sub(start).Seconds(), nil
	}))
	// An event against a one-hour timer (the SDK has no WhenAny: WaitForSingleEvent's timeout is
	// a durable timer).
	must(r.AddOrchestratorN("TimeEventOrHour", func(ctx *task.OrchestrationContext) (any, error) {
		var payload string
		err := ctx.WaitForSingleEvent("go", time.Hour).Await(&payload)
		if errors.Is(err, task.ErrTaskCanceled) {
			return "timer", nil
		}
		if err != nil {
			return nil, err
		}
		return "event " + payload, nil
	}))
	// An activity that takes a real second, with a one-hour timer scheduled beside it. Returns
	// the activity's result and the orchestration time that had passed when it arrived: a jump
	// while the activity ran would fire the timer first and make that an hour or more.
	must(r.AddOrchestratorN("TimeActivityOrHour", func(ctx *task.OrchestrationContext) (any, error) {
		start := ctx.CurrentTimeUtc
		work := ctx.CallActivity("TimeSleepOneSecond")
		_ = ctx.CreateTimer(time.Hour) // races the activity; never awaited
		var result string
		if err := work.Await(&result); err != nil {
			return nil, err
		}
		return map[string]any{"result": result, "elapsed": ctx.CurrentTimeUtc.Sub(start).Seconds()}, nil
	}))
	must(r.AddActivityN("TimeSleepOneSecond", func(task.ActivityContext) (any, error) {
		time.Sleep(time.Second)
		return "slept for real", nil
	}))
	// Fails twice, then returns its attempt number.
	must(r.AddActivityN("TimeFlaky", func(ctx task.ActivityContext) (any, error) {
		var key string
		if err := ctx.GetInput(&key); err != nil {
			return nil, err
		}
		n := nextAttempt(key)
		if n < 3 {
			return nil, fmt.Errorf("attempt %d fails", n)
		}
		return n, nil
	}))
	// TimeFlaky with an hour between attempts; returns [attempt, elapsed seconds].
	must(r.AddOrchestratorN("TimeRetriesHourly", func(ctx *task.OrchestrationContext) (any, error) {
		var key string
		if err := ctx.GetInput(&key); err != nil {
			return nil, err
		}
		start := ctx.CurrentTimeUtc
		policy := &task.RetryPolicy{MaxAttempts: 5, InitialRetryInterval: time.Hour, BackoffCoefficient: 1}
		var attempt int
		if err := ctx.CallActivity("TimeFlaky", task.WithActivityInput(key), task.WithActivityRetryPolicy(policy)).Await(&attempt); err != nil {
			return nil, err
		}
		return []any{attempt, ctx.CurrentTimeUtc.Sub(start).Seconds()}, nil
	}))
	must(r.AddOrchestratorN("TimeTwoHours", func(ctx *task.OrchestrationContext) (any, error) {
		if err := ctx.CreateTimer(2 * time.Hour).Await(nil); err != nil {
			return nil, err
		}
		return "fired", nil
	}))
	// The orchestration's clock when it first runs.
	must(r.AddOrchestratorN("TimeNow", func(ctx *task.OrchestrationContext) (any, error) {
		return ctx.CurrentTimeUtc, nil
	}))
	return r
}()

// ---------------------------------------------------------------------------------------------
// a task hub of the test's own

type timeHub struct {
	name   string
	client *client.TaskHubGrpcClient
	ctl    *emulatorControl
}

var timeHubCount int32

// timeHubName is a hub name unique to this run and test, reset when the test ends.
func timeHubName(t *testing.T, label string) (string, *emulatorControl) {
	t.Helper()
	ctl, err := control()
	if err != nil {
		t.Fatalf("EmulatorControl: %v", err)
	}
	name := fmt.Sprintf("go-time-%s-%d-%s", runID, atomic.AddInt32(&timeHubCount, 1), label)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := ctl.ResetTaskHub(ctx, name); err != nil {
			t.Errorf("ResetTaskHub(%s): %v", name, err)
		}
	})
	return name, ctl
}

// newTimeHub is a hub of the test's own with time skipping on or off, a client, and a work-item
// listener serving timeRegistry; the listener stops (then the hub is reset) when the test ends.
func newTimeHub(t *testing.T, ctx context.Context, label string, skipping bool) *timeHub {
	t.Helper()
	name, ctl := timeHubName(t, label)
	clock, err := ctl.SetTimeSkipping(ctx, name, skipping)
	if err != nil {
		t.Fatalf("SetTimeSkipping(%s, %v): %v", name, skipping, err)
	}
	if clock.Hub != name || clock.Skipping != skipping {
		t.Fatalf("SetTimeSkipping(%s, %v) answered %+v", name, skipping, clock)
	}
	h := &timeHub{name: name, client: client.NewTaskHubGrpcClient(dialTaskHub(t, name), quietLogger{}), ctl: ctl}
	listening, stop := context.WithCancel(context.Background())
	t.Cleanup(stop) // before the reset (cleanups run last-registered first)
	if err := h.client.StartWorkItemListener(listening, timeRegistry); err != nil {
		t.Fatalf("the %s work-item listener did not start: %v", name, err)
	}
	return h
}

func (h *timeHub) start(t *testing.T, ctx context.Context, orchestrator string, opts ...api.NewOrchestrationOptions) api.InstanceID {
	t.Helper()
	id, err := h.client.ScheduleNewOrchestration(ctx, orchestrator, append([]api.NewOrchestrationOptions{api.WithInstanceID(newID(t, ""))}, opts...)...)
	if err != nil {
		t.Fatalf("ScheduleNewOrchestration(%s) on %s: %v", orchestrator, h.name, err)
	}
	return id
}

// completed waits (which lets a skipping hub jump) and expects COMPLETED.
func (h *timeHub) completed(t *testing.T, ctx context.Context, id api.InstanceID) *api.OrchestrationMetadata {
	t.Helper()
	md, err := h.client.WaitForOrchestrationCompletion(ctx, id, api.WithFetchPayloads(true))
	if err != nil {
		t.Fatalf("WaitForOrchestrationCompletion(%s) on %s: %v", id, h.name, err)
	}
	expectStatus(t, md, api.RUNTIME_STATUS_COMPLETED)
	return md
}

// notDoneWithin waits for completion for d of real time and expects the wait to time out.
func (h *timeHub) notDoneWithin(t *testing.T, ctx context.Context, id api.InstanceID, d time.Duration) {
	t.Helper()
	bounded, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	md, err := h.client.WaitForOrchestrationCompletion(bounded, id, api.WithFetchPayloads(true))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%s on %s: a %v wait for completion gave %s, %v; want it to time out", id, h.name, d, describe(md), err)
	}
}

// started polls (a fetch never lets the clock jump) until the instance has run its first step.
func (h *timeHub) started(t *testing.T, ctx context.Context, id api.InstanceID) *api.OrchestrationMetadata {
	t.Helper()
	var last *api.OrchestrationMetadata
	for {
		md, err := h.client.FetchOrchestrationMetadata(ctx, id, api.WithFetchPayloads(true))
		if err != nil && !errors.Is(err, api.ErrInstanceNotFound) {
			t.Fatalf("FetchOrchestrationMetadata(%s) on %s: %v", id, h.name, err)
		}
		if err == nil {
			last = md
			if md.RuntimeStatus != api.RUNTIME_STATUS_PENDING {
				return md
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s on %s never started; last state: %s", id, h.name, describe(last))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (h *timeHub) now(t *testing.T, ctx context.Context) hubTime {
	t.Helper()
	clock, err := h.ctl.GetTime(ctx, h.name)
	if err != nil {
		t.Fatalf("GetTime(%s): %v", h.name, err)
	}
	return clock
}

func outputOf(t *testing.T, md *api.OrchestrationMetadata, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(md.SerializedOutput), v); err != nil {
		t.Fatalf("%s: output %q: %v", md.InstanceID, md.SerializedOutput, err)
	}
}

// ---------------------------------------------------------------------------------------------
// scenarios (parallel with each other and with the default hub's, each on its own hub)

func TestTimeThirtyDayTimer(t *testing.T) {
	ctx := scenario(t, 60*time.Second)
	h := newTimeHub(t, ctx, "month", true)
	wall := time.Now()
	id := h.start(t, ctx, "TimeThirtyDays")
	md := h.completed(t, ctx, id)
	took := time.Since(wall)
	t.Logf("a 30-day timer completed in %v of wall time", took)
	var elapsed float64
	outputOf(t, md, &elapsed)
	if elapsed < (30 * day).Seconds() {
		t.Fatalf("the orchestration's clock moved %vs, want at least 30 days", elapsed)
	}
	if took > 20*time.Second {
		t.Fatalf("30 days took %v of wall time", took)
	}
	clock := h.now(t, ctx)
	if want := time.Now().Add(30*day - time.Minute); clock.Now.Before(want) || !clock.Skipping {
		t.Fatalf("GetTime(%s) = %+v, want skipping and at least %v", h.name, clock, want)
	}
	// The timestamps the hub reports moved with its clock.
	if md.LastUpdatedAt.Before(time.Now().Add(29 * day)) {
		t.Fatalf("last updated at %v: not on the hub's clock", md.LastUpdatedAt)
	}
}

func TestTimeEventBeatsHourTimer(t *testing.T) {
	ctx := scenario(t, 60*time.Second)
	h := newTimeHub(t, ctx, "race", true)
	id := h.start(t, ctx, "TimeEventOrHour")
	// Raised before anyone waits: the event is queued work, so the clock cannot jump past it.
	if err := h.client.RaiseEvent(ctx, id, "go", api.WithEventPayload("early")); err != nil {
		t.Fatal(err)
	}
	expectOutput(t, h.completed(t, ctx, id), `"event early"`)
}

func TestTimeActivityRunsInRealTime(t *testing.T) {
	ctx := scenario(t, 60*time.Second)
	h := newTimeHub(t, ctx, "busy", true)
	id := h.start(t, ctx, "TimeActivityOrHour")
	md := h.completed(t, ctx, id)
	var out struct {
		Result  string
		Elapsed float64
	}
	outputOf(t, md, &out)
	if out.Result != "slept for real" || out.Elapsed >= time.Hour.Seconds() {
		t.Fatalf("%s: %+v; want the activity's result before the hour timer (the clock jumped while it ran?)", id, out)
	}
}

func TestTimeRetryHourlyBackoff(t *testing.T) {
	ctx := scenario(t, 60*time.Second)
	h := newTimeHub(t, ctx, "retry", true)
	key := h.name // unique to this run of the test, also with -count
	id := h.start(t, ctx, "TimeRetriesHourly", api.WithInput(key))
	md := h.completed(t, ctx, id)
	var out []float64
	outputOf(t, md, &out)
	if len(out) != 2 || out[0] != 3 || out[1] < (2*time.Hour).Seconds() {
		t.Fatalf("%s: [attempt, elapsed seconds] = %v; want attempt 3 after two backoffs of an hour", id, out)
	}
	if n := attemptCount(key); n != 3 {
		t.Fatalf("TimeFlaky ran %d times, want 3", n)
	}
}

func TestTimeScheduledStartNextWeek(t *testing.T) {
	ctx := scenario(t, 60*time.Second)
	h := newTimeHub(t, ctx, "week", true)
	week := time.Now().Add(7 * day)
	id := h.start(t, ctx, "TimeNow", api.WithStartTime(week))
	md := h.completed(t, ctx, id)
	var ran time.Time
	outputOf(t, md, &ran)
	// A millisecond of slack: the emulator keeps times as float seconds.
	if ran.Before(week.Add(-time.Millisecond)) {
		t.Fatalf("%s ran at %v, before its start time %v", id, ran, week)
	}
}

func TestTimeAdvanceFiresTimer(t *testing.T) {
	ctx := scenario(t, 60*time.Second)
	h := newTimeHub(t, ctx, "advance", false)
	id := h.start(t, ctx, "TimeTwoHours")
	// RUNNING: the first step is done, so its timer exists.
	expectStatus(t, h.started(t, ctx, id), api.RUNTIME_STATUS_RUNNING)
	before := h.now(t, ctx)
	after, err := h.ctl.AdvanceTime(ctx, h.name, 2*time.Hour)
	if err != nil {
		t.Fatalf("AdvanceTime(%s, 2h): %v", h.name, err)
	}
	if after.Now.Sub(before.Now) < 2*time.Hour || after.Offset < 2*time.Hour || after.Skipping {
		t.Fatalf("AdvanceTime(%s, 2h): %+v, before %+v", h.name, after, before)
	}
	// Skipping is off: this wait cannot move the clock; the advance fired the timer.
	bounded, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	expectOutput(t, h.completed(t, bounded, id), `"fired"`)
}

func TestTimeHubsSkipIndependently(t *testing.T) {
	ctx := scenario(t, 60*time.Second)
	fast := newTimeHub(t, ctx, "fast", true)
	slow := newTimeHub(t, ctx, "slow", false)
	slowID := slow.start(t, ctx, "TimeThirtyDays")
	fastID := fast.start(t, ctx, "TimeThirtyDays")
	slow.notDoneWithin(t, ctx, slowID, time.Second)
	fast.completed(t, ctx, fastID)
	expectStatus(t, slow.started(t, ctx, slowID), api.RUNTIME_STATUS_RUNNING)
	fastNow, slowNow := fast.now(t, ctx), slow.now(t, ctx)
	if gap := fastNow.Now.Sub(slowNow.Now); gap < 29*day {
		t.Fatalf("%s is %v ahead of %s, want at least 29 days", fast.name, gap, slow.name)
	}
	// The default hub keeps its own (real) time too.
	def, err := fast.ctl.GetTime(ctx, "default")
	if err != nil {
		t.Fatalf("GetTime(default): %v", err)
	}
	if def.Now.After(time.Now().Add(time.Minute)) {
		t.Fatalf("the default hub's clock moved: %+v", def)
	}
}

func TestTimeRealTimeWithoutSkipping(t *testing.T) {
	ctx := scenario(t, 60*time.Second)
	h := newTimeHub(t, ctx, "real", false)
	id := h.start(t, ctx, "TimeTwoHours")
	h.notDoneWithin(t, ctx, id, time.Second)
	expectStatus(t, h.started(t, ctx, id), api.RUNTIME_STATUS_RUNNING)
	if clock := h.now(t, ctx); clock.Offset < -5*time.Second || clock.Offset > 5*time.Second || clock.Skipping {
		t.Fatalf("GetTime(%s) = %+v; want real time (offset under 5s), not skipping", h.name, clock)
	}
}

func TestTimeOnlyMovesForward(t *testing.T) {
	ctx := scenario(t, 30*time.Second)
	hub, ctl := timeHubName(t, "back")
	_, err := ctl.AdvanceTime(ctx, hub, -time.Second)
	if grpcCode(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), "only moves forward") {
		t.Fatalf("AdvanceTime(%s, -1s) gave %v; want InvalidArgument saying time only moves forward", hub, err)
	}
	clock, err := ctl.GetTime(ctx, hub)
	if err != nil {
		t.Fatalf("GetTime(%s): %v", hub, err)
	}
	if clock.Offset < 0 || clock.Offset > 5*time.Second {
		t.Fatalf("after a refused AdvanceTime, %s's clock is %+v", hub, clock)
	}
}
