// Every orchestrator, activity and entity the scenarios in scenarios.test.js use, registered on
// one worker by name. Orchestrators are async generators (the SDK's style: `yield task`) or plain
// async functions when they schedule nothing.
"use strict";

const { EntityInstanceId, RetryPolicy, TaskEntity, TaskFailedError, whenAll, whenAny } = require("@microsoft/durabletask-js");
const { gateActivity, nextAttempt } = require("./helpers");

// ---------------------------------------------------------------------------------------------
// activities

const activities = {
  Hello: (_ctx, name) => `Hello, ${name}!`,
  Add1: (_ctx, n) => n + 1,
  Square: (_ctx, n) => n * n,
  Gate: gateActivity,
  Fail: (_ctx, message) => {
    throw new Error(message);
  },
  // An Error with an empty message: the SDK still reports failureDetails (errorType "Error", message "").
  FailEmpty: () => {
    throw new Error("");
  },
  // Fails until its succeedOn-th attempt (counted per key); succeedOn 0 never succeeds.
  Flaky: (_ctx, { key, succeedOn }) => {
    const n = nextAttempt(key);
    if (!succeedOn || n < succeedOn) {
      throw new Error(`flaky failure on attempt ${n}`);
    }
    return `ok after ${n}`;
  },
  // Fails on its first attempt only (for rewind).
  FailOnce: (_ctx, key) => {
    const n = nextAttempt(key);
    if (n === 1) {
      const e = new Error("the first attempt fails");
      e.name = "FirstAttemptError";
      throw e;
    }
    return `ok after ${n}`;
  },
};

// ---------------------------------------------------------------------------------------------
// entities

class CounterEntity extends TaskEntity {
  add(n) {
    this.state.count += n;
    return this.state.count;
  }
  subtract(n) {
    this.state.count -= n;
    return this.state.count;
  }
  get() {
    return this.state.count;
  }
  set(v) {
    this.state.count = v;
  }
  fail() {
    const e = new Error("the counter refuses");
    e.name = "CounterError";
    throw e;
  }
  initializeState() {
    return { count: 0 };
  }
}

class AccountEntity extends TaskEntity {
  deposit(amount) {
    this.state.balance += amount;
    return this.state.balance;
  }
  withdraw(amount) {
    if (amount > this.state.balance) {
      throw new Error(`insufficient funds: ${this.state.balance} < ${amount}`);
    }
    this.state.balance -= amount;
    return this.state.balance;
  }
  balance() {
    return this.state.balance;
  }
  initializeState() {
    return { balance: 0 };
  }
}

const counter = (key) => new EntityInstanceId("Counter", key);
const account = (key) => new EntityInstanceId("Account", key);

// An entity that signals other entities and starts an orchestration (TaskEntityContext).
class CoordinatorEntity extends TaskEntity {
  fanOut({ keys, amount }) {
    for (const key of keys) {
      this.context.signalEntity(counter(key), "add", amount);
    }
    this.state.sent += keys.length;
    return this.state.sent;
  }
  startGreeting({ instanceId, name }) {
    return this.context.scheduleNewOrchestration("SingleActivity", name, { instanceId });
  }
  initializeState() {
    return { sent: 0 };
  }
}

const entities = {
  Counter: () => new CounterEntity(),
  Account: () => new AccountEntity(),
  Coordinator: () => new CoordinatorEntity(),
};

/** What an orchestrator saw when a task failed. */
function caught(e) {
  return {
    name: e.name,
    message: e.message,
    isTaskFailedError: e instanceof TaskFailedError,
    errorType: e.details?.errorType,
    detailMessage: e.details?.message,
  };
}

// ---------------------------------------------------------------------------------------------
// orchestrators

const orchestrators = {
  SingleActivity: async function* (ctx, name) {
    return yield ctx.callActivity("Hello", name);
  },

  Chain: async function* (ctx, start) {
    let value = start;
    for (let i = 0; i < 5; i++) {
      value = yield ctx.callActivity("Add1", value);
    }
    const greetings = [];
    for (const city of ["Tokyo", "London", "Seattle"]) {
      greetings.push(yield ctx.callActivity("Hello", city));
    }
    return { value, greetings };
  },

  // n activities one after another: every work item carries the whole past history.
  LongChain: async function* (ctx, n) {
    let value = 0;
    for (let i = 0; i < n; i++) {
      value = yield ctx.callActivity("Add1", value);
    }
    return value;
  },

  FanOut: async function* (ctx, n) {
    const tasks = [];
    for (let i = 1; i <= n; i++) {
      tasks.push(ctx.callActivity("Square", i));
    }
    const squares = yield whenAll(tasks);
    return squares.reduce((a, b) => a + b, 0);
  },

  FirstOf: async function* (ctx) {
    const hello = ctx.callActivity("Hello", "fast");
    const timer = ctx.createTimer(30);
    const winner = yield whenAny([hello, timer]);
    if (winner !== hello) {
      return "the 30 s timer won";
    }
    timer.cancel();
    return hello.getResult();
  },

  Double: async (_ctx, n) => 2 * n,

  // One child with an explicit instance ID, one with an ID the SDK derives.
  Parent: async function* (ctx, n) {
    const named = ctx.callSubOrchestrator("Double", n, { instanceId: `${ctx.instanceId}-child` });
    const unnamed = ctx.callSubOrchestrator("Double", n + 1);
    const a = yield named;
    const b = yield unnamed;
    return [a, b];
  },

  WhoIsMyParent: async (ctx) => ctx.parent ?? null,

  AskParent: async function* (ctx) {
    const parent = yield ctx.callSubOrchestrator("WhoIsMyParent", undefined, { instanceId: `${ctx.instanceId}-child` });
    return { parent, me: ctx.instanceId };
  },

  ChildFails: async (_ctx, text) => {
    const e = new Error(`child boom (${text})`);
    e.name = "ChildError";
    throw e;
  },

  ParentCatches: async function* (ctx) {
    try {
      yield ctx.callSubOrchestrator("ChildFails", `from ${ctx.instanceId}`, { instanceId: `${ctx.instanceId}-child` });
      return { failed: false };
    } catch (e) {
      return { failed: true, ...caught(e) };
    }
  },

  ParentPropagates: async function* (ctx) {
    yield ctx.callSubOrchestrator("ChildFails", "propagated", { instanceId: `${ctx.instanceId}-child` });
  },

  // Parked on the Gate activity while the test raises the event: the event is in the history
  // before the orchestrator asks for it.
  GateThenEvent: async function* (ctx, key) {
    yield ctx.callActivity("Gate", key);
    return yield ctx.waitForExternalEvent("approval");
  },

  WaitEvent: async function* (ctx) {
    ctx.setCustomStatus("waiting");
    return yield ctx.waitForExternalEvent("approval");
  },

  ThreeItems: async function* (ctx) {
    ctx.setCustomStatus("waiting");
    const got = [];
    for (let i = 0; i < 3; i++) {
      got.push(yield ctx.waitForExternalEvent("item"));
    }
    return got;
  },

  // A wait for an event with a timeout: the SDK's pattern is whenAny([event, timer]).
  EventOrTimeout: async function* (ctx, seconds) {
    ctx.setCustomStatus("waiting");
    const event = ctx.waitForExternalEvent("approval");
    const timer = ctx.createTimer(seconds);
    const winner = yield whenAny([event, timer]);
    if (winner === timer) {
      return "timed out";
    }
    timer.cancel();
    return { event: event.getResult() };
  },

  // How much orchestration time a 2 s timer in the first step took, and the clock before it.
  Timer2s: async function* (ctx) {
    const before = ctx.currentUtcDateTime;
    yield ctx.createTimer(2);
    return { ms: ctx.currentUtcDateTime.getTime() - before.getTime(), startedAt: before.toISOString() };
  },

  // Three 0.5 s timers, one at an absolute Date, one in seconds, one at a Date again.
  ThreeTimers: async function* (ctx) {
    const before = ctx.currentUtcDateTime.getTime();
    yield ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 500));
    yield ctx.createTimer(0.5);
    yield ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 500));
    return ctx.currentUtcDateTime.getTime() - before;
  },

  Counter: async (ctx, n) => {
    if (n < 5) {
      ctx.continueAsNew(n + 1, false);
      return;
    }
    return n;
  },

  // Generation 0 receives three "item" events it never waits for and continues as new keeping
  // them (saveEvents); generation 1 reads them.
  CarryEvents: async function* (ctx, { generation, key }) {
    if (generation === 0) {
      yield ctx.callActivity("Gate", key);
      ctx.continueAsNew({ generation: 1, key }, true);
      return;
    }
    let sum = 0;
    for (let i = 0; i < 3; i++) {
      const event = ctx.waitForExternalEvent("item");
      const timer = ctx.createTimer(5);
      const winner = yield whenAny([event, timer]);
      if (winner !== event) {
        throw new Error(`event ${i + 1} of 3 was not carried over`);
      }
      timer.cancel();
      sum += event.getResult();
    }
    return sum;
  },

  CallsFailing: async function* (ctx) {
    yield ctx.callActivity("Fail", "kaboom");
  },

  // Calls the activity named by its input and returns what it caught.
  CatchesFailing: async function* (ctx, name) {
    try {
      const result = yield ctx.callActivity(name, "kaboom");
      return { failed: false, result: result ?? null };
    } catch (e) {
      return { failed: true, ...caught(e) };
    }
  },

  OrchestratorFails: async () => {
    throw new Error("orchestrator boom");
  },

  OrchestratorFailsEmpty: async () => {
    throw new Error("");
  },

  RetryActivity: async function* (ctx, { key, succeedOn, maxAttempts }) {
    const retry = new RetryPolicy({
      maxNumberOfAttempts: maxAttempts,
      firstRetryIntervalInMilliseconds: 200,
      backoffCoefficient: 2,
    });
    return yield ctx.callActivity("Flaky", { key, succeedOn }, { retry });
  },

  // A retry handler (a function of the RetryContext) instead of a policy: 100 ms delay, at most 4 attempts.
  RetryHandler: async function* (ctx, { key, succeedOn }) {
    const seen = [];
    const retry = (rc) => {
      seen.push(rc.lastFailure.message);
      return rc.lastAttemptNumber < 4 ? 100 : false;
    };
    const result = yield ctx.callActivity("Flaky", { key, succeedOn }, { retry });
    return { result, seen };
  },

  // Retries a child (with a fixed instance ID) whose first attempt fails.
  RetrySub: async function* (ctx, key) {
    const retry = new RetryPolicy({ maxNumberOfAttempts: 3, firstRetryIntervalInMilliseconds: 100 });
    return yield ctx.callSubOrchestrator("FlakyChild", key, { instanceId: `${ctx.instanceId}-child`, retry });
  },

  FlakyChild: async function* (ctx, key) {
    return yield ctx.callActivity("Flaky", { key, succeedOn: 2 });
  },

  WaitForever: async function* (ctx) {
    ctx.setCustomStatus("waiting");
    yield ctx.waitForExternalEvent("never");
    return "woke";
  },

  ParentOfWaiter: async function* (ctx) {
    ctx.setCustomStatus("waiting");
    yield ctx.callSubOrchestrator("WaitForever", undefined, { instanceId: `${ctx.instanceId}-child` });
    return "child done";
  },

  SuspendMe: async function* (ctx) {
    ctx.setCustomStatus("waiting");
    const got = [];
    for (let i = 0; i < 3; i++) {
      got.push(yield ctx.waitForExternalEvent("MyEvent"));
    }
    return got;
  },

  StatusSteps: async function* (ctx) {
    ctx.setCustomStatus("step1");
    yield ctx.waitForExternalEvent("next");
    ctx.setCustomStatus({ step: 2, done: true });
    return "finished";
  },

  GateHello: async function* (ctx, { key, name }) {
    yield ctx.callActivity("Gate", key);
    return yield ctx.callActivity("Hello", name);
  },

  Now: async (ctx) => ctx.currentUtcDateTime.toISOString(),

  HistoryMix: async function* (ctx, name) {
    const greeting = yield ctx.callActivity("Hello", name);
    yield ctx.createTimer(0.2);
    return greeting;
  },

  // Tags on an activity call and on a sub-orchestration call.
  TaggedCalls: async function* (ctx) {
    const greeting = yield ctx.callActivity("Hello", "tags", { tags: { kind: "activity" } });
    const doubled = yield ctx.callSubOrchestrator("Double", 1, {
      instanceId: `${ctx.instanceId}-child`,
      tags: { kind: "child" },
    });
    return { greeting, doubled };
  },

  // No retry: the FailOnce activity fails the first execution; after a rewind it succeeds.
  RewindMe: async function* (ctx, key) {
    return yield ctx.callActivity("FailOnce", key);
  },

  // The parent fails because its child's FailOnce activity failed; rewinding the parent rewinds the child.
  RewindParent: async function* (ctx, key) {
    return yield ctx.callSubOrchestrator("RewindMe", key, { instanceId: `${ctx.instanceId}-child` });
  },

  Sender: async (ctx, { target, value }) => {
    ctx.sendEvent(target, "Ping", value);
    return "sent";
  },

  Receiver: async function* (ctx) {
    ctx.setCustomStatus("waiting");
    return yield ctx.waitForExternalEvent("ping");
  },

  // ------------------------------------------------------------------ entities

  CallCounter: async function* (ctx, key) {
    const id = counter(key);
    const first = yield ctx.entities.callEntity(id, "add", 50);
    const second = yield ctx.entities.callEntity(id, "add", 25);
    const final = yield ctx.entities.callEntity(id, "get");
    return { first, second, final };
  },

  // Signals (one-way) then calls the same entity: messages from one sender arrive in order.
  SignalThenCall: async function* (ctx, key) {
    const id = counter(key);
    ctx.entities.signalEntity(id, "add", 100);
    ctx.entities.signalEntity(id, "add", 1);
    return yield ctx.entities.callEntity(id, "get");
  },

  // Read-modify-write inside a critical section: concurrent instances must not lose updates.
  LockedIncrement: async function* (ctx, key) {
    const id = counter(key);
    const lock = yield ctx.entities.lockEntities(id);
    try {
      const info = ctx.entities.isInCriticalSection();
      const value = yield ctx.entities.callEntity(id, "get");
      yield ctx.entities.callEntity(id, "set", value + 1);
      return { inSection: info.inSection, locked: (info.lockedEntities ?? []).map(String), read: value };
    } finally {
      lock.release();
    }
  },

  Transfer: async function* (ctx, { from, to, amount }) {
    const lock = yield ctx.entities.lockEntities(account(from), account(to));
    try {
      const left = yield ctx.entities.callEntity(account(from), "withdraw", amount);
      const right = yield ctx.entities.callEntity(account(to), "deposit", amount);
      return { left, right };
    } finally {
      lock.release();
    }
  },

  Deposit: async function* (ctx, { key, amount }) {
    return yield ctx.entities.callEntity(account(key), "deposit", amount);
  },

  CallFailingEntity: async function* (ctx, key) {
    try {
      yield ctx.entities.callEntity(counter(key), "fail");
      return { failed: false };
    } catch (e) {
      return {
        failed: true,
        name: e.name,
        message: e.message,
        errorType: e.failureDetails?.errorType,
        errorMessage: e.failureDetails?.errorMessage,
      };
    }
  },
};

module.exports = { activities, entities, orchestrators, counter, account };
