// The workflows (orchestrators) and activities of the Dapr JavaScript scenarios, registered by name
// on one worker. In @dapr/durabletask-js 1.0.0 an orchestrator that schedules anything must be an
// async generator (`yield task`): the executor only drives results with Symbol.asyncIterator.
//
// The SDK encodes a falsy input, activity result or output as "none" (`x ? JSON.stringify(x) :
// undefined`), so the values passed around here are never 0, "" or false. Custom status is sent
// as the string given, not JSON-encoded.
"use strict";

const { gateActivity, sdk } = require("./helpers");

const { whenAll, whenAny, TaskFailedError } = sdk;

class ChildError extends Error {}
class PaymentDeclined extends Error {}

const activities = {
  Gate: gateActivity,
  Hello: (_ctx, name) => `Hello, ${name}!`,
  Twice: (_ctx, n) => 2 * n,
  Add1: (_ctx, n) => n + 1,
  Square: (_ctx, n) => n * n,
  // What the activity context says about the call (its orchestration and its task ID).
  Context: (ctx) => ({ orchestrationId: ctx.orchestrationId, taskId: ctx.taskId }),
  // A promise result is awaited.
  Later: async (_ctx, name) => {
    await new Promise((resolve) => setImmediate(resolve));
    return `later, ${name}`;
  },
  Fail: (_ctx, message) => {
    throw new Error(message);
  },
  FailEmpty: () => {
    throw new Error("");
  },
  Decline: (_ctx, amount) => {
    throw new PaymentDeclined(`card declined for ${amount}`);
  },
};

/** What an orchestrator saw when a task it awaited failed. */
function caught(e) {
  return {
    failed: true,
    isTaskFailedError: e instanceof TaskFailedError,
    message: e.message,
    errorType: e.details?.errorType,
    detailMessage: e.details?.message,
  };
}

// Pieces of orchestrators, delegated to with `yield*` (the SDK's next() and throw() pass through).

/** Awaits `task`: `{failed: false, got}`, or what was caught if it failed. */
async function* attempt(task) {
  try {
    return { failed: false, got: yield task };
  } catch (e) {
    return caught(e);
  }
}

/** The next `count` events named `name`, in the order they were raised. */
async function* receive(ctx, name, count) {
  const values = [];
  while (values.length < count) {
    values.push(yield ctx.waitForExternalEvent(name));
  }
  return values;
}

/** The orchestration clock, `ms` ahead: a deterministic fire time. */
const after = (ctx, ms) => new Date(ctx.currentUtcDateTime.getTime() + ms);

/** Sets custom status "waiting" (the test's sign that the orchestrator is parked), then awaits `task`. */
async function* parked(ctx, task) {
  ctx.setCustomStatus("waiting");
  return yield task;
}

const orchestrators = {
  // ctx.isReplaying: true while the history is replayed, false once the new events are processed.
  WhoAmI: async function* (ctx) {
    const replayingBefore = ctx.isReplaying;
    const activity = yield ctx.callActivity("Context");
    const later = yield ctx.callActivity("Later", "promise");
    return { instanceId: ctx.instanceId, activity, later, replayingBefore, replayingAfter: ctx.isReplaying };
  },

  SingleActivity: async function* (ctx, name) {
    return yield ctx.callActivity("Hello", name);
  },

  // No yield: a plain function's return value is the output.
  Plain: (ctx, input) => ({ echo: input, instanceId: ctx.instanceId }),

  // Add1 five times, then three greetings: each call waits for the one before.
  Chain: async function* (ctx, start) {
    let value = start;
    while (value < start + 5) {
      value = yield ctx.callActivity("Add1", value);
    }
    const greetings = [
      yield ctx.callActivity("Hello", "Tokyo"),
      yield ctx.callActivity("Hello", "London"),
      yield ctx.callActivity("Hello", "Seattle"),
    ];
    return { value, greetings };
  },

  LongChain: async function* (ctx, steps) {
    let n = 1;
    for (let step = 1; step <= steps; step++) {
      n = yield ctx.callActivity("Add1", n);
    }
    return n;
  },

  FanOut: async function* (ctx, n) {
    const squares = yield whenAll(Array.from({ length: n }, (_, i) => ctx.callActivity("Square", i + 1)));
    return squares.reduce((sum, x) => sum + x, 0);
  },

  // whenAll fails as soon as one task fails, without waiting for the others: here two Gate
  // activities the test opens only after the workflow has finished. (Were one of them to complete
  // after the failure within the same replay, the SDK's WhenAllTask.onChildCompleted would throw
  // "Task is already completed" and fail the workflow: a 1.0.0 bug.)
  FanOutFails: async function* (ctx, [a, b]) {
    const tasks = [ctx.callActivity("Gate", a), ctx.callActivity("Fail", "one of many"), ctx.callActivity("Gate", b)];
    return yield* attempt(whenAll(tasks));
  },

  // whenAny resolves to the task that finished first.
  FirstOf: async function* (ctx) {
    const timer = ctx.createTimer(after(ctx, 30_000));
    const fast = ctx.callActivity("Hello", "fast");
    const winner = yield whenAny([timer, fast]);
    return winner === fast ? winner.getResult() : "the 30 s timer won";
  },

  // Child workflows: one with an explicit instance ID, one with the ID the SDK derives.
  Parent: async function* (ctx, n) {
    const first = yield ctx.callSubOrchestrator("Double", n, `${ctx.instanceId}-child`);
    const second = yield ctx.callSubOrchestrator("Double", n + 1);
    return [first, second];
  },

  Double: async function* (ctx, n) {
    return yield ctx.callActivity("Twice", n);
  },

  // Three levels: each level calls an activity, the first two a child too.
  Level: async function* (ctx, depth) {
    const greeting = yield ctx.callActivity("Hello", `level ${depth}`);
    if (depth >= 3) {
      return [greeting];
    }
    const below = yield ctx.callSubOrchestrator("Level", depth + 1, `${ctx.instanceId}-${depth + 1}`);
    return [greeting, ...below];
  },

  FailingChild: async function* (ctx, message) {
    yield ctx.callActivity("Hello", "before failing");
    throw new ChildError(message);
  },

  ParentCatches: async function* (ctx) {
    const me = ctx.instanceId;
    return yield* attempt(ctx.callSubOrchestrator("FailingChild", `child boom (from ${me})`, `${me}-child`));
  },

  ParentPropagates: async function* (ctx) {
    return yield ctx.callSubOrchestrator("FailingChild", "child boom (propagated)", `${ctx.instanceId}-child`);
  },

  // The event may arrive before the wait: the orchestrator is parked on a Gate activity first.
  GateThenEvent: async function* (ctx, key) {
    yield ctx.callActivity("Gate", key);
    return yield ctx.waitForExternalEvent("Approval");
  },

  WaitEvent: async function* (ctx) {
    return yield* parked(ctx, ctx.waitForExternalEvent("approval"));
  },

  ThreeItems: async function* (ctx) {
    return yield* receive(ctx, "item", 3);
  },

  // Two waits of different names, raised in the other order.
  TwoNames: async function* (ctx) {
    return yield* parked(ctx, whenAll([ctx.waitForExternalEvent("first"), ctx.waitForExternalEvent("second")]));
  },

  EventOrTimeout: async function* (ctx, seconds) {
    ctx.setCustomStatus("waiting");
    const event = ctx.waitForExternalEvent("approval");
    const winner = yield whenAny([event, ctx.createTimer(after(ctx, seconds * 1000))]);
    return winner === event ? { event: event.getResult() } : "timed out";
  },

  Timer2s: async function* (ctx) {
    const startedAt = ctx.currentUtcDateTime;
    yield ctx.createTimer(after(ctx, 2000));
    return { startedAt: startedAt.toISOString(), ms: ctx.currentUtcDateTime.getTime() - startedAt.getTime() };
  },

  // createTimer takes a Date or a number of seconds.
  ThreeTimers: async function* (ctx) {
    const startedAt = ctx.currentUtcDateTime.getTime();
    yield ctx.createTimer(after(ctx, 500));
    yield ctx.createTimer(0.5);
    yield ctx.createTimer(after(ctx, 500));
    return ctx.currentUtcDateTime.getTime() - startedAt;
  },

  // Four generations; each one's input is the previous one's count.
  Counter: async function* (ctx, { n }) {
    const next = yield ctx.callActivity("Add1", n);
    if (next >= 5) {
      return { final: next };
    }
    ctx.continueAsNew({ n: next }, false);
  },

  // Generation 0 is parked on a Gate while three events arrive, then continues as new keeping
  // them (saveEvents); generation 1 receives them.
  CarryEvents: async function* (ctx, input) {
    if (input.generation > 0) {
      const values = yield* receive(ctx, "Item", 3);
      return { generation: input.generation, sum: values.reduce((a, b) => a + b, 0) };
    }
    yield ctx.callActivity("Gate", input.key);
    ctx.continueAsNew({ ...input, generation: 1 }, true);
  },

  CallsFailing: async function* (ctx) {
    return yield ctx.callActivity("Fail", "kaboom");
  },

  // Calls activity `name` (input "kaboom", or 42) and reports what it caught.
  CatchesFailing: async function* (ctx, name) {
    return yield* attempt(ctx.callActivity(name, name === "Decline" ? 42 : "kaboom"));
  },

  OrchestratorFails: async function* (ctx) {
    yield ctx.callActivity("Hello", "before throwing");
    throw new ChildError(`orchestrator boom in ${ctx.instanceId}`);
  },

  WaitForever: async function* (ctx) {
    const never = yield* parked(ctx, ctx.waitForExternalEvent("never"));
    return `an event named never came: ${never}`;
  },

  ParentOfWaiter: async function* (ctx) {
    return yield ctx.callSubOrchestrator("WaitForever", undefined, `${ctx.instanceId}-child`);
  },

  SuspendMe: async function* (ctx) {
    const first = yield* parked(ctx, ctx.waitForExternalEvent("MyEvent"));
    return [first, ...(yield* receive(ctx, "MyEvent", 2))];
  },

  StatusSteps: async function* (ctx) {
    ctx.setCustomStatus("step1");
    const go = yield ctx.waitForExternalEvent("next");
    ctx.setCustomStatus(JSON.stringify({ step: 2, done: true }));
    return `finished on ${go}`;
  },

  GateHello: async function* (ctx, input) {
    yield ctx.callActivity("Gate", input.key);
    return yield ctx.callActivity("Hello", input.name);
  },

  // Not a generator: the value is the output.
  Now: (ctx) => ctx.currentUtcDateTime.toISOString(),
};

module.exports = { activities, orchestrators };
