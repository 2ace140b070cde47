// Control of time: each task hub has a clock, which the emulator skips to the hub's next timer
// while a client waits (WaitForInstanceStart/Completion) and none of the hub's work is queued or
// with a worker, and which the control service (control.js) reads and moves.
//
// Every scenario runs on task hubs of its own (js-time-<run>-<n>), with its own worker and
// client there (the taskhub header), so skipping never touches the default hub's scenarios; at
// the end it stops them and resets its hubs. Nothing waits for a timer in real time: wall time is
// only read to show that days of orchestration time passed in seconds, and the "real time"
// scenarios use a one-second wait that is expected to time out.
"use strict";

const assert = require("node:assert/strict");
const { after, describe, test } = require("node:test");
const { OrchestrationStatus: S, RetryPolicy, whenAny } = require("@microsoft/durabletask-js");
const h = require("./helpers");
const control = require("./control");

const SECOND = 1000;
const HOUR = 3600 * SECOND;
const DAY = 24 * HOUR;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const elapsedSeconds = (ctx, start) => (ctx.currentUtcDateTime.getTime() - start.getTime()) / 1000;

const activities = {
  SleepOneSecond: async () => {
    await sleep(SECOND);
    return "slept for real";
  },
  // Fails on its first two attempts (counted per key), then returns the attempt number.
  FailsTwice: (_ctx, key) => {
    const n = h.nextAttempt(key);
    if (n < 3) {
      throw new Error(`attempt ${n} fails`);
    }
    return n;
  },
};

const orchestrators = {
  ThirtyDays: async function* (ctx) {
    const start = ctx.currentUtcDateTime;
    yield ctx.createTimer(new Date(start.getTime() + 30 * DAY));
    return elapsedSeconds(ctx, start);
  },

  EventOrHour: async function* (ctx) {
    const timer = ctx.createTimer(3600);
    const event = ctx.waitForExternalEvent("go");
    const winner = yield whenAny([timer, event]);
    return winner === event ? "event" : "timer";
  },

  ActivityOrHour: async function* (ctx) {
    const timer = ctx.createTimer(3600);
    const work = ctx.callActivity("SleepOneSecond");
    const winner = yield whenAny([timer, work]);
    return winner === work ? work.getResult() : "timer";
  },

  RetriesHourly: async function* (ctx, key) {
    const retry = new RetryPolicy({ maxNumberOfAttempts: 5, firstRetryIntervalInMilliseconds: HOUR });
    const start = ctx.currentUtcDateTime;
    const attempts = yield ctx.callActivity("FailsTwice", key, { retry });
    return [attempts, elapsedSeconds(ctx, start)];
  },

  TwoHours: async function* (ctx) {
    yield ctx.createTimer(2 * 3600);
    return "fired";
  },

  NowOf: async (ctx) => ctx.currentUtcDateTime.getTime(),
};

let scenarioCount = 0;

/**
 * One scenario on hubs of its own: fn(s, hub) where hub(skipping) opens the scenario's next task
 * hub (js-time-<run>-<n>, then -<n>b, ...) with time skipping on or off, a worker with this file's
 * orchestrators and activities, and a client; it returns {name, client, worker, s} (s: a
 * Scenario on that hub's client). Whatever happens, each hub's worker and client are stopped and
 * the hub is reset at the end.
 */
function scenario(name, timeoutMs, fn) {
  const index = ++scenarioCount;
  test(name, { timeout: timeoutMs }, async (t) => {
    const opened = [];
    const hub = async (skipping) => {
      const hubName = `js-time-${h.RUN_ID}-${index}${opened.length ? String.fromCharCode(97 + opened.length) : ""}`;
      const entry = { name: hubName, client: undefined, worker: undefined, s: undefined };
      opened.push(entry);
      const set = await control.setTimeSkipping(hubName, skipping);
      assert.equal(set.timeSkipping, skipping, `SetTimeSkipping(${hubName}, ${skipping}): ${JSON.stringify(set)}`);
      entry.worker = h.newWorker(h.onTaskHub(hubName));
      h.register(entry.worker, { orchestrators, activities });
      await entry.worker.start();
      entry.client = h.newClient(h.onTaskHub(hubName));
      entry.s = new h.Scenario(entry.client, t, name, index);
      return entry;
    };
    try {
      await fn(hub, t);
    } finally {
      await Promise.allSettled(opened.map((e) => e.worker?.stop()));
      const reset = await Promise.allSettled(opened.map((e) => control.resetTaskHub(e.name)));
      await Promise.allSettled(opened.map((e) => e.client?.stop()));
      for (const r of reset) {
        if (r.status === "rejected") {
          process.stderr.write(`could not reset a time-skipping hub: ${r.reason}\n`);
        }
      }
    }
  });
}

/** The wait rejects with the SDK's TimeoutError: the instance did not complete within `seconds`. */
async function expectNoCompletion(entry, id, seconds) {
  await assert.rejects(
    entry.client.waitForOrchestrationCompletion(id, true, seconds),
    (e) => e.name === "TimeoutError",
    `${entry.name}/${id} completed within ${seconds} s`,
  );
}

describe("durabletask-js: control of time (task hubs with time skipping)", { concurrency: true }, () => {
  after(() => control.closeControl());

  scenario("time-skipping: a 30-day timer completes in seconds, the orchestration's clock 30 days on", 60_000, async (hub) => {
    const { name, s } = await hub(true);
    const wall = Date.now();
    const id = await s.start("ThirtyDays");
    const st = await s.waitDone(id, 30);
    const took = Date.now() - wall;
    s.log(`30-day timer: completed after ${took} ms of wall time`);
    h.expectStatus(st, S.COMPLETED);
    const elapsed = h.output(st);
    assert.ok(elapsed >= 30 * 86400, `the orchestration's clock moved ${elapsed} s, want at least 30 days (${30 * 86400} s)`);
    assert.ok(took < 20 * SECOND, `the 30-day timer took ${took} ms of wall time`);
    const clock = await control.getTime(name);
    const want = Date.now() + 30 * DAY - 60 * SECOND;
    assert.ok(clock.now.getTime() >= want, `GetTime(${name}) = ${clock.now.toISOString()}, want at least ${new Date(want).toISOString()}`);
    // every timestamp the hub reports moved with its clock
    assert.ok(
      st.lastUpdatedAt.getTime() >= Date.now() + 29 * DAY,
      `lastUpdatedAt ${st.lastUpdatedAt.toISOString()} is not a month ahead of the wall clock`,
    );
  });

  scenario("time-skipping: an event raised before the wait beats a one-hour timer", 30_000, async (hub) => {
    const { client, s } = await hub(true);
    const id = await s.start("EventOrHour");
    await client.raiseOrchestrationEvent(id, "go", "now");
    const st = await s.waitDone(id);
    h.expectStatus(st, S.COMPLETED);
    h.expectOutput(st, '"event"');
  });

  scenario("time-skipping: an activity sleeping one real second beats a one-hour timer (no jump while it runs)", 30_000, async (hub) => {
    const { s } = await hub(true);
    const st = await s.waitDone(await s.start("ActivityOrHour"));
    h.expectStatus(st, S.COMPLETED);
    h.expectOutput(st, '"slept for real"');
  });

  scenario("time-skipping: a retry policy with an hour's backoff completes (two failures, two hours skipped)", 30_000, async (hub) => {
    const { s } = await hub(true);
    const key = s.id();
    const st = await s.waitDone(await s.start("RetriesHourly", key));
    h.expectStatus(st, S.COMPLETED);
    const [attempts, elapsed] = h.output(st);
    assert.equal(attempts, 3, `the activity succeeded on attempt ${attempts}, want 3 (${h.attemptCount(key)} ran)`);
    assert.ok(elapsed >= 2 * 3600, `the orchestration's clock moved ${elapsed} s over two hour-long backoffs, want at least 7200 s`);
  });

  scenario("time-skipping: a start scheduled a week ahead runs, at its scheduled time", 30_000, async (hub) => {
    const { s } = await hub(true);
    const week = new Date(Date.now() + 7 * DAY);
    const id = await s.start("NowOf", undefined, { startAt: week });
    const st = await s.waitDone(id);
    h.expectStatus(st, S.COMPLETED);
    const ranAt = h.output(st);
    assert.ok(ranAt >= week.getTime(), `ran at ${new Date(ranAt).toISOString()}, scheduled for ${week.toISOString()}`);
  });

  scenario("time-skipping: AdvanceTime fires a two-hour timer with nobody waiting (skipping off)", 30_000, async (hub) => {
    const { name, s } = await hub(false);
    const id = await s.start("TwoHours");
    // RUNNING: the first episode's response (with the timer) has been applied.
    await s.poll(id, "RUNNING", (st) => st.runtimeStatus === S.RUNNING);
    const before = await control.getTime(name);
    assert.equal(before.timeSkipping, false);
    const advanced = await control.advanceTime(name, 2 * 3600);
    const moved = advanced.now.getTime() - before.now.getTime();
    assert.ok(moved >= 2 * HOUR, `AdvanceTime(2h) moved the clock by ${moved} ms`);
    assert.ok(advanced.offsetSeconds >= 2 * 3600, `offset after AdvanceTime(2h): ${advanced.offsetSeconds} s`);
    const st = await s.waitDone(id, 10);
    h.expectStatus(st, S.COMPLETED);
    h.expectOutput(st, '"fired"');
  });

  scenario("time-skipping: AdvanceTime by a negative duration is INVALID_ARGUMENT (time only moves forward)", 30_000, async (hub) => {
    const { name } = await hub(false);
    const before = await control.getTime(name);
    await assert.rejects(control.advanceTime(name, -5), (e) => {
      assert.equal(e.code, h.GRPC.INVALID_ARGUMENT, `code ${e.code} (${e.details}), want INVALID_ARGUMENT`);
      assert.match(e.details, /only moves forward/);
      return true;
    });
    const still = await control.getTime(name);
    assert.ok(
      Math.abs(still.offsetSeconds - before.offsetSeconds) < 1,
      `the refused advance moved the clock: ${before.offsetSeconds} s -> ${still.offsetSeconds} s`,
    );
  });

  scenario("time-skipping: two hubs skip independently (one skips a 30-day timer, the other keeps real time)", 60_000, async (hub) => {
    const fast = await hub(true);
    const slow = await hub(false);
    const id = fast.s.id(); // the same instance ID in both hubs
    await slow.s.start("ThirtyDays", undefined, { instanceId: id });
    await fast.s.start("ThirtyDays", undefined, { instanceId: id });
    await expectNoCompletion(slow, id, 1);
    const done = await fast.s.waitDone(id, 30);
    h.expectStatus(done, S.COMPLETED);
    h.expectStatus(await slow.s.fetch(id), S.RUNNING);
    const [a, b, dflt] = await Promise.all([control.getTime(fast.name), control.getTime(slow.name), control.getTime("default")]);
    const apart = a.now.getTime() - b.now.getTime();
    assert.ok(apart >= 29 * DAY, `GetTime(${fast.name}) - GetTime(${slow.name}) = ${apart / DAY} days, want at least 29`);
    assert.ok(dflt.now.getTime() < a.now.getTime(), `the default hub's clock (${dflt.now.toISOString()}) moved with ${fast.name}'s`);
  });

  scenario("time-skipping: skipping off keeps real time (a two-hour timer waits, the clock stays on the wall)", 30_000, async (hub) => {
    const entry = await hub(false);
    const id = await entry.s.start("TwoHours");
    await expectNoCompletion(entry, id, 1);
    h.expectStatus(await entry.s.fetch(id), S.RUNNING);
    const clock = await control.getTime(entry.name);
    const drift = clock.now.getTime() - Date.now();
    assert.ok(Math.abs(drift) < 5 * SECOND, `GetTime(${entry.name}) is ${drift} ms off the wall clock (offset ${clock.offsetSeconds} s)`);
    assert.ok(Math.abs(clock.offsetSeconds) < 5, `offset ${clock.offsetSeconds} s`);
  });
});
