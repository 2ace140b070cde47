// Plumbing for the Dapr JavaScript scenarios: the emulator's Dapr address, the SDK's client and
// worker, instance IDs, waits on conditions and "gates" (activities the test holds open).
//
// The SDK (@dapr/durabletask-js 1.0.0) has a small surface: a client and worker built from an
// address, orchestrators written as async generators, and a few things only reachable through its
// module files (the status enum, whenAll/whenAny, TaskFailedError), which `sdk` collects.
"use strict";

const assert = require("node:assert/strict");
const { test } = require("node:test");
const { TaskHubGrpcClient, TaskHubGrpcWorker } = require("@dapr/durabletask-js");

const sdk = {
  ...require("@dapr/durabletask-js/task"), // whenAll, whenAny
  ...require("@dapr/durabletask-js/orchestration/enum/orchestration-status.enum"), // OrchestrationStatus
  ...require("@dapr/durabletask-js/task/exception/task-failed-error"), // TaskFailedError
  ...require("@dapr/durabletask-js/exception/timeout-error"), // TimeoutError
  ...require("@dapr/durabletask-js/orchestration/orchestration-purge-criteria"), // PurgeInstanceCriteria
};
const S = sdk.OrchestrationStatus;

const ADDRESS = process.env.DTEMU_ADDRESS;
if (!ADDRESS) {
  throw new Error("DTEMU_ADDRESS is not set: start an emulator with --dapr-port and set DTEMU_ADDRESS=host:<dapr port>");
}

// The SDK logs every step with console.log/console.info. Only its connection trouble is kept
// (on stderr); console.error and console.warn are left as they are.
const KEEP = /^(Stream |Error on grpc stream|Connection will be retried|Received unknown work item)/;
console.log = console.info = (first, ...rest) => {
  if (typeof first === "string" && KEEP.test(first)) {
    process.stderr.write(`sdk: ${[first, ...rest].map(String).join(" ")}\n`);
  }
};

const UNSUPPORTED = "not supported by SDK";
const GRPC_NOT_FOUND = 5;
const GRPC_ALREADY_EXISTS = 6;

/** Unique to this run and process: a second run against the same emulator reuses no instance ID. */
const ID_PREFIX = `dapr-js-${Date.now().toString(36)}-${process.pid.toString(36)}-`;

const newClient = () => new TaskHubGrpcClient(ADDRESS);

function newWorker({ orchestrators = {}, activities = {} }) {
  const worker = new TaskHubGrpcWorker(ADDRESS);
  Object.entries(orchestrators).forEach(([name, fn]) => worker.addNamedOrchestrator(name, fn));
  Object.entries(activities).forEach(([name, fn]) => worker.addNamedActivity(name, fn));
  return worker;
}

/**
 * Calls `fn` with setTimeout making unref'd timers. The SDK races each wait against a setTimeout
 * of the wait's full length that it never clears; a ref'd one would keep node (and the test file)
 * alive that long after the wait has ended. The SDK sets that timer before its first await.
 */
function unrefTimers(fn) {
  const setTimeoutBefore = globalThis.setTimeout;
  globalThis.setTimeout = (...args) => {
    const timer = setTimeoutBefore(...args);
    timer.unref?.();
    return timer;
  };
  try {
    return fn();
  } finally {
    globalThis.setTimeout = setTimeoutBefore;
  }
}

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Rejects naming `what` if `promise` has not settled after `ms`. */
async function inTime(promise, ms, what) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} (waited ${ms} ms)`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** `RUNNING`, `COMPLETED`, ... for a status number. */
const statusText = (status) => Object.keys(S).find((key) => S[key] === status) ?? `status ${status}`;

function show(st) {
  if (!st) {
    return "no such instance";
  }
  const failure = st.failureDetails ? ` failure=[${st.failureDetails.errorType}] ${JSON.stringify(st.failureDetails.message)}` : "";
  return `${statusText(st.runtimeStatus)} input=${st.serializedInput} output=${st.serializedOutput} customStatus=${JSON.stringify(st.serializedCustomStatus)}${failure}`;
}

function assertStatus(st, status) {
  assert.ok(st, `no state, want ${statusText(status)}`);
  assert.equal(statusText(st.runtimeStatus), statusText(status), `${st.instanceId}: ${show(st)}`);
}

/** The parsed output of a finished instance. */
function result(st) {
  assert.ok(st.serializedOutput, `${st.instanceId} has no output: ${show(st)}`);
  return JSON.parse(st.serializedOutput);
}

/** Asserts that `promise` rejects with gRPC status `code` (the SDK passes grpc-js errors through). */
async function rejectsWith(promise, code, what) {
  await assert.rejects(promise, (e) => {
    assert.equal(e.code, code, `${what}: ${e}`);
    return true;
  });
}

// ---------------------------------------------------------------------------------------------
// gates: `yield ctx.callActivity("Gate", key)` parks an orchestration on an activity until the
// test opens that gate, so that the test can act at a known point.

class Gate {
  constructor() {
    this.reached = new Promise((resolve) => (this.arrive = resolve));
    this.opened = new Promise((resolve) => (this.open = resolve));
  }
}

const gates = new Map();

function gate(key) {
  const made = new Gate();
  gates.set(key, made);
  return made;
}

async function gateActivity(_ctx, key) {
  const held = gates.get(key);
  assert.ok(held, `no gate named ${key}`);
  held.arrive();
  await inTime(held.opened, 60_000, `gate ${key} was never opened`);
  return `passed ${key}`;
}

const openAllGates = () => gates.forEach((g) => g.open());

// ---------------------------------------------------------------------------------------------
// scenarios

let scenarios = 0;
/** Every instance ID a scenario scheduled (the SDK cannot list instances). */
const started = new Set();

/** Terminates the instances scenarios started that are still going; resolves to their IDs. */
async function terminateLeftovers(client) {
  const going = [];
  for (const id of started) {
    const st = await client.getOrchestrationState(id, false).catch(() => undefined);
    if (st && [S.RUNNING, S.PENDING, S.SUSPENDED].includes(st.runtimeStatus)) {
      going.push(id);
    }
  }
  await Promise.allSettled(going.map((id) => client.terminateOrchestration(id, "left over at the end of the file")));
  return going;
}

/** A scenario: a node:test test directly inside the file's describe(), given a Run. */
function scenario(client, name, timeoutMs, body) {
  const number = ++scenarios;
  test(name, { timeout: timeoutMs }, (t) => body(new Run(client, t, name, number)));
}

/** A scenario the SDK cannot express: it skips itself with "not supported by SDK: <why>". */
function unsupported(name, why) {
  test(name, (t) => t.skip(`${UNSUPPORTED}: ${why}`));
}

/** One scenario's run: its instance IDs, and waits on its instances. */
class Run {
  constructor(client, t, name, number) {
    this.client = client;
    this.t = t;
    const words = name.replace(/[^A-Za-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
    this.base = `${ID_PREFIX}${number}-${words.slice(0, 36)}`;
  }

  id(suffix) {
    return suffix === undefined ? this.base : `${this.base}-${suffix}`;
  }

  /** Schedules `name` with `input` under this scenario's ID (plus `suffix`); resolves to the ID. */
  start(name, input, { suffix, instanceId, startAt } = {}) {
    const id = instanceId ?? this.id(suffix);
    started.add(id);
    return this.client.scheduleNewOrchestration(name, input, id, startAt);
  }

  /** waitForOrchestrationCompletion, with payloads: the final state. */
  async finished(id, seconds = 20) {
    const st = await unrefTimers(() => this.client.waitForOrchestrationCompletion(id, true, seconds));
    assert.ok(st, `waitForOrchestrationCompletion(${id}): no such instance`);
    return st;
  }

  async state(id) {
    const st = await this.client.getOrchestrationState(id, true);
    assert.ok(st, `getOrchestrationState(${id}): no such instance`);
    return st;
  }

  /** Reads the instance until `holds(state)`; fails with the last state after `ms`. */
  async until(id, what, holds, ms = 15_000) {
    const giveUp = Date.now() + ms;
    for (;;) {
      const st = await this.client.getOrchestrationState(id, true);
      if (st && holds(st)) {
        return st;
      }
      assert.ok(Date.now() < giveUp, `${id}: no ${what} within ${ms} ms (${show(st)})`);
      await pause(25);
    }
  }

  /** Until the orchestrator has reported custom status "waiting" (it set it just before a wait). */
  waiting(id) {
    return this.until(id, 'custom status "waiting"', (st) => st.serializedCustomStatus === "waiting");
  }
}

module.exports = {
  ADDRESS,
  GRPC_ALREADY_EXISTS,
  GRPC_NOT_FOUND,
  ID_PREFIX,
  S,
  assertStatus,
  gate,
  gateActivity,
  inTime,
  newClient,
  newWorker,
  openAllGates,
  pause,
  rejectsWith,
  result,
  scenario,
  sdk,
  show,
  terminateLeftovers,
  unrefTimers,
  unsupported,
};
