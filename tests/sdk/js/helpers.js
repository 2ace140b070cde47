// Shared plumbing for the scenario files: the emulator address, the SDK's client and worker,
// instance IDs, waits and assertions, and "gates" (activities the test holds open).
//
// Nothing here sleeps to wait for readiness: a scenario waits on the SDK's own wait calls, on a
// gate it holds, or polls the instance until a condition holds (poll()).
"use strict";

const assert = require("node:assert/strict");
const { test } = require("node:test");
const { TaskHubGrpcClient, TaskHubGrpcWorker, OrchestrationStatus } = require("@microsoft/durabletask-js");
// The SDK's own copy of grpc-js: its Metadata class is the one the SDK's stubs accept.
const grpc = require(require.resolve("@grpc/grpc-js", { paths: [require.resolve("@microsoft/durabletask-js")] }));

const ADDRESS = process.env.DTEMU_ADDRESS;
if (!ADDRESS) {
  throw new Error("DTEMU_ADDRESS is not set: start an emulator and set DTEMU_ADDRESS=host:port");
}

/** Unique to this run, so that a second run against the same emulator never reuses an instance ID. */
const RUN_ID = `${Date.now().toString(36)}${process.pid.toString(36)}`;
const ID_PREFIX = `js-${RUN_ID}-`;

/** gRPC status codes (the SDK passes grpc-js errors through, with their numeric `code`). */
const GRPC = { INVALID_ARGUMENT: 3, NOT_FOUND: 5, ALREADY_EXISTS: 6, FAILED_PRECONDITION: 9 };

const UNSUPPORTED = "not supported by SDK";

/** The SDK's info chatter stays out of the output; its warnings and errors go to stderr. */
const quietLogger = {
  error: (message, ...args) => logLine("ERROR", message, args),
  warn: (message, ...args) => logLine("WARN", message, args),
  info: () => {},
  debug: () => {},
};

function logLine(level, message, args) {
  const extra = args.map((a) => (a instanceof Error ? a.stack : String(a))).join(" ");
  process.stderr.write(`sdk ${level}: ${message}${extra ? " " + extra : ""}\n`);
}

function newClient(options = {}) {
  return new TaskHubGrpcClient({ hostAddress: ADDRESS, logger: quietLogger, ...options });
}

function newWorker(options = {}) {
  return new TaskHubGrpcWorker({ hostAddress: ADDRESS, logger: quietLogger, shutdownTimeoutMs: 5000, ...options });
}

/**
 * Client and worker options that put every call in task hub `hub`: the SDK's metadataGenerator
 * adds a `taskhub` header to each call (unary calls and the work-item and history streams).
 */
function onTaskHub(hub) {
  return {
    metadataGenerator: async () => {
      const metadata = new grpc.Metadata();
      metadata.set("taskhub", hub);
      return metadata;
    },
  };
}

/** Registers a module's orchestrators, activities and entities ({name: fn}, {name: factory}). */
function register(worker, { orchestrators = {}, activities = {}, entities = {} }) {
  for (const [name, fn] of Object.entries(orchestrators)) {
    worker.addNamedOrchestrator(name, fn);
  }
  for (const [name, fn] of Object.entries(activities)) {
    worker.addNamedActivity(name, fn);
  }
  for (const [name, factory] of Object.entries(entities)) {
    worker.addNamedEntity(name, factory);
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** `promise`, or a rejection naming `what` after `ms` (the timer does not keep node alive). */
function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const statusName = (s) => (s === undefined ? "<none>" : (OrchestrationStatus[s] ?? String(s)));

function describeState(st) {
  if (!st) {
    return "<no state>";
  }
  const fd = st.failureDetails
    ? ` failureDetails={errorType: ${JSON.stringify(st.failureDetails.errorType)}, message: ${JSON.stringify(st.failureDetails.message)}}`
    : "";
  return (
    `status=${statusName(st.runtimeStatus)} output=${JSON.stringify(st.serializedOutput)} ` +
    `customStatus=${JSON.stringify(st.serializedCustomStatus)} input=${JSON.stringify(st.serializedInput)}${fd}`
  );
}

function expectStatus(st, want) {
  assert.ok(st, `no orchestration state (want ${statusName(want)})`);
  assert.equal(
    st.runtimeStatus,
    want,
    `${st.instanceId}: status ${statusName(st.runtimeStatus)}, want ${statusName(want)} (${describeState(st)})`,
  );
}

function expectOutput(st, want) {
  assert.equal(st.serializedOutput, want, `${st.instanceId}: output ${st.serializedOutput}, want ${want} (${describeState(st)})`);
}

/** The output, parsed. */
function output(st) {
  assert.ok(st.serializedOutput !== undefined, `${st.instanceId}: no output (${describeState(st)})`);
  return JSON.parse(st.serializedOutput);
}

const TERMINAL = new Set([OrchestrationStatus.COMPLETED, OrchestrationStatus.FAILED, OrchestrationStatus.TERMINATED]);

// ---------------------------------------------------------------------------------------------
// gates: an activity that blocks until the test releases it, so that a test can act while an
// orchestration is known to be parked on that activity.

const gates = new Map();

function newGate(key) {
  const gate = {};
  gate.entered = new Promise((resolve) => (gate.enter = resolve));
  gate.released = new Promise((resolve) => (gate.release = resolve));
  gates.set(key, gate);
  return gate;
}

async function gateActivity(_ctx, key) {
  const gate = gates.get(key);
  if (!gate) {
    throw new Error(`no gate ${JSON.stringify(key)}`);
  }
  gate.enter();
  await within(gate.released, 60_000, "the gate was never released");
  return "opened";
}

function releaseAllGates() {
  for (const gate of gates.values()) {
    gate.release();
  }
}

/** Attempts per key (for the retry and rewind scenarios). */
const attempts = new Map();
const nextAttempt = (key) => {
  const n = (attempts.get(key) ?? 0) + 1;
  attempts.set(key, n);
  return n;
};
const attemptCount = (key) => attempts.get(key) ?? 0;

// ---------------------------------------------------------------------------------------------
// scenarios

let scenarioCount = 0;

/**
 * One scenario: a node:test test with its own timeout, given a Scenario (IDs, logging, waits).
 * Call it inside a describe(); the runner reads the describe's direct children as scenarios.
 */
function scenario(client, name, timeoutMs, fn) {
  const index = ++scenarioCount;
  test(name, { timeout: timeoutMs }, async (t) => {
    await fn(new Scenario(client, t, name, index));
  });
}

/** A scenario the SDK cannot express: skipped with "not supported by SDK: <what>". */
function unsupported(name, what) {
  test(name, (t) => t.skip(`${UNSUPPORTED}: ${what}`));
}

class Scenario {
  constructor(client, t, name, index) {
    this.client = client;
    this.t = t;
    this.name = name;
    const slug = name
      .replace(/[^A-Za-z0-9]+/g, "-")
      .replace(/^-|-$/g, "")
      .slice(0, 40);
    this.base = `${ID_PREFIX}${index}-${slug}`;
  }

  /** An instance ID unique to this run and scenario. */
  id(suffix = "") {
    return suffix ? `${this.base}-${suffix}` : this.base;
  }

  log(message) {
    this.t.diagnostic(message);
  }

  async start(orchestrator, input, options = {}) {
    const { suffix, ...rest } = options;
    const instanceId = rest.instanceId ?? this.id(suffix);
    return await this.client.scheduleNewOrchestration(orchestrator, input, { ...rest, instanceId });
  }

  /** Waits (the SDK's waitForOrchestrationCompletion) and returns the final state, payloads included. */
  async waitDone(id, seconds = 20) {
    const st = await this.client.waitForOrchestrationCompletion(id, true, seconds);
    assert.ok(st, `waitForOrchestrationCompletion(${id}) found no instance`);
    return st;
  }

  async fetch(id) {
    const st = await this.client.getOrchestrationState(id, true);
    assert.ok(st, `getOrchestrationState(${id}) found no instance`);
    return st;
  }

  /** Fetches the instance until cond(state) holds. */
  async poll(id, what, cond, timeoutMs = 15_000) {
    const deadline = Date.now() + timeoutMs;
    let last;
    for (;;) {
      last = await this.client.getOrchestrationState(id, true);
      if (last && cond(last)) {
        return last;
      }
      if (Date.now() > deadline) {
        assert.fail(`${id}: gave up waiting for ${what} after ${timeoutMs} ms; last state: ${describeState(last)}`);
      }
      await sleep(25);
    }
  }

  /** Polls until the orchestrator has set its custom status to "waiting" (it is parked on a wait). */
  async waiting(id) {
    return await this.poll(id, 'custom status "waiting"', (st) => st.serializedCustomStatus === '"waiting"');
  }
}

/** Terminates every instance of this run that is still going, so no wait is left hanging. */
async function terminateLeftovers(client) {
  const statuses = [OrchestrationStatus.RUNNING, OrchestrationStatus.PENDING, OrchestrationStatus.SUSPENDED];
  const ids = [];
  for await (const st of client.getAllInstances({ instanceIdPrefix: ID_PREFIX, statuses })) {
    ids.push(st.instanceId);
  }
  await Promise.allSettled(ids.map((id) => client.terminateOrchestration(id, "left over at the end of the suite")));
  return ids;
}

module.exports = {
  ADDRESS,
  GRPC,
  ID_PREFIX,
  RUN_ID,
  Scenario,
  TERMINAL,
  UNSUPPORTED,
  attemptCount,
  describeState,
  expectOutput,
  expectStatus,
  gateActivity,
  grpc,
  newClient,
  newGate,
  newWorker,
  nextAttempt,
  onTaskHub,
  output,
  quietLogger,
  register,
  releaseAllGates,
  scenario,
  sleep,
  statusName,
  terminateLeftovers,
  unsupported,
  within,
};
