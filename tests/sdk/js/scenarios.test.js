// The JavaScript Durable Task SDK (@microsoft/durabletask-js) against a running durabletask-emulator:
// the SDK's gRPC client (TaskHubGrpcClient) and worker (TaskHubGrpcWorker) over a real connection.
//
// DTEMU_ADDRESS names the emulator (host:port). Run with tests/sdk_js_runner.py, or by hand:
//
//   DTEMU_ADDRESS=localhost:4001 npm test
//
// (time.test.js also calls the emulator's control service, through the .proto DTEMU_CONTROL_PROTO
// names; by default the repository's emulator/control/control.proto.)
//
// Each scenario is a test named "<feature-key>: <what it checks>" with its own timeout; they run
// concurrently against one worker (started in before(), stopped in after()). A scenario the SDK
// cannot express is skipped with a message starting with "not supported by SDK".
"use strict";

const assert = require("node:assert/strict");
const { after, before, describe } = require("node:test");
const { OrchestrationStatus: S, EntityInstanceId, terminateOptions } = require("@microsoft/durabletask-js");
const h = require("./helpers");
const { activities, entities, orchestrators, counter, account } = require("./orchestrators");

const client = h.newClient();
const worker = h.newWorker();
h.register(worker, { orchestrators, activities, entities });

const scenario = (name, timeoutMs, fn) => h.scenario(client, name, timeoutMs, fn);

describe("durabletask-js against the emulator", { concurrency: true }, () => {
  before(async () => {
    await worker.start();
  });

  after(async () => {
    h.releaseAllGates();
    try {
      const left = await h.terminateLeftovers(client);
      if (left.length) {
        process.stderr.write(`terminated ${left.length} instance(s) still running at the end: ${left.join(", ")}\n`);
      }
    } catch (e) {
      process.stderr.write(`could not terminate the instances still running at the end: ${e}\n`);
    }
    await worker.stop();
    await client.stop();
  });

  // -------------------------------------------------------------------------------------------
  // activities, chains, fan-out/fan-in

  scenario("activity: one activity; state, payloads and timestamps", 30_000, async (s) => {
    const before = Date.now();
    const id = await s.start("SingleActivity", "世界");
    assert.equal(id, s.id());
    const st = await s.waitDone(id);
    h.expectStatus(st, S.COMPLETED);
    h.expectOutput(st, '"Hello, 世界!"');
    assert.equal(st.name, "SingleActivity");
    assert.equal(st.instanceId, id);
    assert.equal(st.serializedInput, '"世界"');
    assert.equal(st.failureDetails, undefined, "a completed instance has no failureDetails");
    assert.ok(
      st.createdAt.getTime() >= before - 1000 && st.lastUpdatedAt.getTime() >= st.createdAt.getTime(),
      `timestamps: created ${st.createdAt.toISOString()}, last updated ${st.lastUpdatedAt.toISOString()} (scheduled at ${new Date(before).toISOString()})`,
    );
    // Without payloads: no input or output.
    const bare = await client.getOrchestrationState(id, false);
    h.expectStatus(bare, S.COMPLETED);
    assert.ok(!bare.serializedInput && !bare.serializedOutput, `getOrchestrationState(fetchPayloads=false): ${h.describeState(bare)}`);
  });

  scenario("chain: five Add1 then three Hello activities, one after another", 30_000, async (s) => {
    const st = await s.waitDone(await s.start("Chain", 10));
    h.expectStatus(st, S.COMPLETED);
    assert.deepEqual(h.output(st), { value: 15, greetings: ["Hello, Tokyo!", "Hello, London!", "Hello, Seattle!"] });
  });

  scenario("chain: 30 activities in sequence (each work item carries the full past history inline)", 60_000, async (s) => {
    const st = await s.waitDone(await s.start("LongChain", 30), 50);
    h.expectStatus(st, S.COMPLETED);
    h.expectOutput(st, "30");
  });

  scenario("fan-out: 50 activities at once, whenAll sums them", 60_000, async (s) => {
    const st = await s.waitDone(await s.start("FanOut", 50), 50);
    h.expectStatus(st, S.COMPLETED);
    h.expectOutput(st, "42925"); // 1² + ... + 50²
  });

  scenario("fan-out: whenAny returns the activity that finished before a 30 s timer", 30_000, async (s) => {
    const st = await s.waitDone(await s.start("FirstOf"));
    h.expectStatus(st, S.COMPLETED);
    h.expectOutput(st, '"Hello, fast!"');
  });

  // -------------------------------------------------------------------------------------------
  // sub-orchestrations

  scenario("sub-orchestration: one child with an explicit instance ID and one with an SDK-derived ID", 30_000, async (s) => {
    const id = await s.start("Parent", 21);
    const st = await s.waitDone(id);
    h.expectStatus(st, S.COMPLETED);
    assert.deepEqual(h.output(st), [42, 44]);
    const child = await s.fetch(`${id}-child`);
    h.expectStatus(child, S.COMPLETED);
    h.expectOutput(child, "42");
    assert.equal(child.name, "Double");
    assert.equal(child.serializedInput, "21");
  });

  scenario("sub-orchestration: the child sees its parent (ctx.parent: name, instance ID)", 30_000, async (s) => {
    const id = await s.start("AskParent");
    const st = await s.waitDone(id);
    h.expectStatus(st, S.COMPLETED);
    const { parent, me } = h.output(st);
    assert.equal(me, id);
    assert.ok(parent, "ctx.parent is undefined in the sub-orchestration");
    assert.equal(parent.instanceId, id, `ctx.parent: ${JSON.stringify(parent)}`);
    assert.equal(parent.name, "AskParent", `ctx.parent: ${JSON.stringify(parent)}`);
  });

  scenario("sub-orchestration-failure: a failing child's errorType and message reach the parent unchanged", 30_000, async (s) => {
    const id = await s.start("ParentCatches");
    const st = await s.waitDone(id);
    h.expectStatus(st, S.COMPLETED);
    const seen = h.output(st);
    const message = `child boom (from ${id})`;
    assert.equal(seen.failed, true, `the parent did not see the child fail: ${JSON.stringify(seen)}`);
    assert.equal(seen.isTaskFailedError, true, `the parent caught ${seen.name}, not a TaskFailedError`);
    assert.equal(seen.errorType, "ChildError", `TaskFailedError.details.errorType: ${JSON.stringify(seen)}`);
    assert.equal(seen.detailMessage, message, `TaskFailedError.details.message: ${JSON.stringify(seen)}`);
    assert.ok(seen.message.includes(message), `TaskFailedError.message ${JSON.stringify(seen.message)}`);
    const child = await s.waitDone(`${id}-child`);
    h.expectStatus(child, S.FAILED);
    assert.equal(child.failureDetails?.errorType, "ChildError", h.describeState(child));
    assert.equal(child.failureDetails?.message, message, h.describeState(child));
  });

  scenario("sub-orchestration-failure: an uncaught child failure fails the parent", 30_000, async (s) => {
    const id = await s.start("ParentPropagates");
    const st = await s.waitDone(id);
    h.expectStatus(st, S.FAILED);
    assert.equal(st.failureDetails?.errorType, "TaskFailedError", h.describeState(st));
    assert.ok(st.failureDetails?.message.includes("child boom (propagated)"), h.describeState(st));
    h.expectStatus(await s.waitDone(`${id}-child`), S.FAILED);
  });

  // -------------------------------------------------------------------------------------------
  // external events

  scenario("external-event: raised before the orchestration waits for it (event names are case-insensitive)", 30_000, async (s) => {
    const id = s.id();
    const gate = h.newGate(id);
    await s.start("GateThenEvent", id);
    await h.within(gate.entered, 15_000, "the Gate activity never ran");
    // The orchestrator is parked on the Gate activity: it has not asked for the event yet.
    await client.raiseOrchestrationEvent(id, "Approval", "approved early");
    gate.release();
    const st = await s.waitDone(id);
    h.expectStatus(st, S.COMPLETED);
    h.expectOutput(st, '"approved early"');
  });

  scenario("external-event: raised after the orchestration waits for it", 30_000, async (s) => {
    const id = await s.start("WaitEvent");
    // The custom status reaches the emulator with the response that parks the orchestrator on the wait.
    await s.waiting(id);
    await client.raiseOrchestrationEvent(id, "approval", "approved late");
    const st = await s.waitDone(id);
    h.expectStatus(st, S.COMPLETED);
    h.expectOutput(st, '"approved late"');
  });

  scenario("external-event: three events of one name are received in order", 30_000, async (s) => {
    const id = await s.start("ThreeItems");
    for (const v of ["a", "b", "c"]) {
      await client.raiseOrchestrationEvent(id, "item", v);
    }
    const st = await s.waitDone(id);
    h.expectStatus(st, S.COMPLETED);
    assert.deepEqual(h.output(st), ["a", "b", "c"]);
  });

  scenario("external-event: raising an event on an unknown instance is refused (NOT_FOUND)", 10_000, async (s) => {
    await assert.rejects(client.raiseOrchestrationEvent(s.id("nobody"), "approval", 1), (e) => {
      assert.equal(e.code, h.GRPC.NOT_FOUND, `raiseOrchestrationEvent on an unknown instance: ${e}`);
      return true;
    });
  });

  // -------------------------------------------------------------------------------------------
  // waits with a timeout (the SDK's pattern: whenAny([waitForExternalEvent, createTimer]))

  scenario("event-timeout: a 1 s wait for an event that never comes times out", 30_000, async (s) => {
    const began = Date.now();
    const st = await s.waitDone(await s.start("EventOrTimeout", 1));
    const took = Date.now() - began;
    h.expectStatus(st, S.COMPLETED);
    h.expectOutput(st, '"timed out"');
    assert.ok(took >= 1000, `a 1 s event timeout ended after ${took} ms`);
  });

  scenario("event-timeout: an event that arrives before the timeout wins", 30_000, async (s) => {
    const id = await s.start("EventOrTimeout", 30);
    await s.waiting(id);
    await client.raiseOrchestrationEvent(id, "approval", { ok: true });
    const st = await s.waitDone(id);
    h.expectStatus(st, S.COMPLETED);
    assert.deepEqual(h.output(st), { event: { ok: true } });
  });

  // -------------------------------------------------------------------------------------------
  // timers

  scenario("timer: a 2 s timer in the first step waits at least 2 s", 30_000, async (s) => {
    const began = Date.now();
    const st = await s.waitDone(await s.start("Timer2s"));
    const took = Date.now() - began;
    h.expectStatus(st, S.COMPLETED);
    const { ms, startedAt } = h.output(st);
    const started = Date.parse(startedAt);
    assert.ok(
      Math.abs(started - began) < 5000,
      `ctx.currentUtcDateTime in the first step was ${startedAt}, the test scheduled the instance at ${new Date(began).toISOString()}`,
    );
    assert.ok(took >= 2000 && ms >= 2000, `a 2 s timer in the first step fired early: ${took} ms of wall time, ${ms} ms of orchestration time`);
    assert.ok(took < 10_000, `a 2 s timer took ${took} ms`);
  });

  scenario("timer: three 0.5 s timers in sequence (Date and seconds forms)", 30_000, async (s) => {
    const began = Date.now();
    const st = await s.waitDone(await s.start("ThreeTimers"));
    const took = Date.now() - began;
    h.expectStatus(st, S.COMPLETED);
    assert.ok(took >= 1500 && h.output(st) >= 1500, `three 0.5 s timers: ${took} ms of wall time, ${st.serializedOutput} ms of orchestration time`);
  });

  // -------------------------------------------------------------------------------------------
  // continue-as-new

  scenario("continue-as-new: five generations; the last one's input and output", 30_000, async (s) => {
    const st = await s.waitDone(await s.start("Counter", 0));
    h.expectStatus(st, S.COMPLETED);
    h.expectOutput(st, "5");
    assert.equal(st.serializedInput, "5", `the last generation's input is ${st.serializedInput}, want 5`);
  });

  scenario("continue-as-new: with saveEvents the unprocessed events carry over to the next generation", 30_000, async (s) => {
    const id = s.id();
    const gate = h.newGate(id);
    await s.start("CarryEvents", { generation: 0, key: id });
    await h.within(gate.entered, 15_000, "the Gate activity never ran");
    for (const v of [1, 2, 3]) {
      await client.raiseOrchestrationEvent(id, "item", v);
    }
    gate.release();
    const st = await s.waitDone(id);
    h.expectStatus(st, S.COMPLETED);
    h.expectOutput(st, "6");
  });

  // -------------------------------------------------------------------------------------------
  // failures

  scenario("activity-failure: an uncaught activity failure fails the orchestration", 30_000, async (s) => {
    const st = await s.waitDone(await s.start("CallsFailing"));
    h.expectStatus(st, S.FAILED);
    assert.equal(st.failureDetails?.errorType, "TaskFailedError", h.describeState(st));
    assert.ok(st.failureDetails?.message.includes("kaboom"), h.describeState(st));
  });

  scenario("activity-failure: the orchestrator catches the failure with its errorType and message", 30_000, async (s) => {
    const st = await s.waitDone(await s.start("CatchesFailing", "Fail"));
    h.expectStatus(st, S.COMPLETED);
    const seen = h.output(st);
    assert.equal(seen.failed, true, JSON.stringify(seen));
    assert.equal(seen.isTaskFailedError, true, JSON.stringify(seen));
    assert.equal(seen.errorType, "Error", JSON.stringify(seen));
    assert.equal(seen.detailMessage, "kaboom", JSON.stringify(seen));
  });

  scenario("activity-failure: an activity that throws an Error with an empty message still failed", 30_000, async (s) => {
    const st = await s.waitDone(await s.start("CatchesFailing", "FailEmpty"));
    h.expectStatus(st, S.COMPLETED);
    const seen = h.output(st);
    assert.equal(
      seen.failed,
      true,
      `the activity threw new Error("") (failureDetails {errorType: "Error", errorMessage: ""}) but the orchestrator got a result: ${JSON.stringify(seen)}`,
    );
    assert.equal(seen.errorType, "Error", JSON.stringify(seen));
    assert.equal(seen.detailMessage, "", JSON.stringify(seen));
  });

  scenario("activity-failure: calling an unregistered activity fails the task", 30_000, async (s) => {
    const st = await s.waitDone(await s.start("CatchesFailing", "NotRegistered"));
    h.expectStatus(st, S.COMPLETED);
    const seen = h.output(st);
    assert.equal(seen.failed, true, JSON.stringify(seen));
    assert.equal(seen.errorType, "ActivityNotRegisteredError", JSON.stringify(seen));
    assert.ok(seen.detailMessage.includes("NotRegistered"), JSON.stringify(seen));
  });

  scenario("activity-failure: an orchestrator that throws fails with its errorType and message", 30_000, async (s) => {
    const st = await s.waitDone(await s.start("OrchestratorFails", undefined, { suffix: "boom" }));
    h.expectStatus(st, S.FAILED);
    assert.equal(st.failureDetails?.errorType, "Error", h.describeState(st));
    assert.equal(st.failureDetails?.message, "orchestrator boom", h.describeState(st));
    const empty = await s.waitDone(await s.start("OrchestratorFailsEmpty", undefined, { suffix: "empty" }));
    h.expectStatus(empty, S.FAILED);
    assert.equal(empty.failureDetails?.errorType, "Error", h.describeState(empty));
    assert.equal(empty.failureDetails?.message, "", h.describeState(empty));
    const unknown = await s.waitDone(await s.start("NoSuchOrchestrator", undefined, { suffix: "unregistered" }));
    h.expectStatus(unknown, S.FAILED);
    assert.equal(unknown.failureDetails?.errorType, "OrchestratorNotRegisteredError", h.describeState(unknown));
  });

  // -------------------------------------------------------------------------------------------
  // retries

  scenario("retry: a RetryPolicy retries a failing activity with back-off until it succeeds", 30_000, async (s) => {
    const key = s.id();
    const began = Date.now();
    const st = await s.waitDone(await s.start("RetryActivity", { key, succeedOn: 3, maxAttempts: 5 }));
    const took = Date.now() - began;
    h.expectStatus(st, S.COMPLETED);
    h.expectOutput(st, '"ok after 3"');
    // Two retries: 200 ms then 400 ms, each a durable timer.
    assert.ok(took >= 600, `three attempts with 200 ms and 400 ms back-off took only ${took} ms`);
  });

  scenario("retry: maxNumberOfAttempts 2 runs the activity twice, then the orchestration fails", 30_000, async (s) => {
    const key = s.id();
    const st = await s.waitDone(await s.start("RetryActivity", { key, succeedOn: 0, maxAttempts: 2 }));
    h.expectStatus(st, S.FAILED);
    assert.equal(h.attemptCount(key), 2, `maxNumberOfAttempts 2: the activity ran ${h.attemptCount(key)} times`);
  });

  scenario("retry: a retry handler function decides (100 ms delay, up to 4 attempts)", 30_000, async (s) => {
    const key = s.id();
    const st = await s.waitDone(await s.start("RetryHandler", { key, succeedOn: 3 }));
    h.expectStatus(st, S.COMPLETED);
    const { result, seen } = h.output(st);
    assert.equal(result, "ok after 3");
    assert.deepEqual(seen.slice(-2), ["flaky failure on attempt 1", "flaky failure on attempt 2"]);
  });

  scenario("retry: a RetryPolicy on a sub-orchestration retries the child under the same instance ID", 30_000, async (s) => {
    const id = s.id();
    await s.start("RetrySub", id);
    const st = await s.waitDone(id);
    h.expectStatus(st, S.COMPLETED);
    h.expectOutput(st, '"ok after 2"');
    h.expectStatus(await s.fetch(`${id}-child`), S.COMPLETED);
  });

  // -------------------------------------------------------------------------------------------
  // terminate, suspend/resume, custom status

  scenario("terminate: a running instance, with an output", 30_000, async (s) => {
    const id = await s.start("WaitForever");
    await s.waiting(id);
    await client.terminateOrchestration(id, "stopped by test");
    const st = await s.waitDone(id);
    h.expectStatus(st, S.TERMINATED);
    h.expectOutput(st, '"stopped by test"');
  });

  scenario("terminate: recursive (terminateOptions) ends the child too; the default leaves it running", 30_000, async (s) => {
    const rec = await s.start("ParentOfWaiter", undefined, { suffix: "recursive" });
    const flat = await s.start("ParentOfWaiter", undefined, { suffix: "flat" });
    await s.waiting(`${rec}-child`);
    await s.waiting(`${flat}-child`);
    await client.terminateOrchestration(rec, terminateOptions({ output: "recursive", recursive: true }));
    await client.terminateOrchestration(flat, "flat");
    h.expectStatus(await s.waitDone(rec), S.TERMINATED);
    h.expectStatus(await s.waitDone(`${rec}-child`), S.TERMINATED);
    h.expectStatus(await s.waitDone(flat), S.TERMINATED);
    await h.sleep(300); // nothing should happen to the child: give a wrong termination time to show
    h.expectStatus(await s.fetch(`${flat}-child`), S.RUNNING);
    await client.terminateOrchestration(`${flat}-child`);
    h.expectStatus(await s.waitDone(`${flat}-child`), S.TERMINATED);
  });

  scenario("terminate: terminating, suspending or resuming an unknown instance is refused (NOT_FOUND)", 10_000, async (s) => {
    const nobody = s.id("nobody");
    for (const [what, call] of [
      ["terminateOrchestration", () => client.terminateOrchestration(nobody, "x")],
      ["suspendOrchestration", () => client.suspendOrchestration(nobody)],
      ["resumeOrchestration", () => client.resumeOrchestration(nobody)],
    ]) {
      await assert.rejects(call(), (e) => {
        assert.equal(e.code, h.GRPC.NOT_FOUND, `${what} on an unknown instance: ${e}`);
        return true;
      });
    }
  });

  scenario("suspend-resume: a suspended instance holds its events until resumed", 30_000, async (s) => {
    const id = await s.start("SuspendMe");
    await s.waiting(id);
    await client.suspendOrchestration(id);
    h.expectStatus(await s.fetch(id), S.SUSPENDED);
    for (const v of [0, 1, 2]) {
      await client.raiseOrchestrationEvent(id, "MyEvent", v);
    }
    // Suspended: the events wait, and so does a wait for completion (the SDK's 1 s timeout ends it).
    await assert.rejects(client.waitForOrchestrationCompletion(id, true, 1), (e) => {
      assert.equal(e.name, "TimeoutError", `a suspended instance's wait for completion ended with ${e}`);
      return true;
    });
    h.expectStatus(await s.fetch(id), S.SUSPENDED);
    await client.resumeOrchestration(id);
    const st = await s.waitDone(id);
    h.expectStatus(st, S.COMPLETED);
    assert.deepEqual(h.output(st), [0, 1, 2]);
  });

  scenario("suspend-resume: terminating a suspended instance", 30_000, async (s) => {
    const id = await s.start("WaitForever");
    await s.waiting(id);
    await client.suspendOrchestration(id);
    await client.terminateOrchestration(id, "gone");
    const st = await s.waitDone(id);
    h.expectStatus(st, S.TERMINATED);
    h.expectOutput(st, '"gone"');
  });

  scenario("custom-status: set while running, changed before completing", 30_000, async (s) => {
    const id = await s.start("StatusSteps");
    const running = await s.poll(id, 'custom status "step1"', (st) => st.serializedCustomStatus === '"step1"');
    h.expectStatus(running, S.RUNNING);
    await client.raiseOrchestrationEvent(id, "next");
    const st = await s.waitDone(id);
    h.expectStatus(st, S.COMPLETED);
    h.expectOutput(st, '"finished"');
    assert.equal(st.serializedCustomStatus, '{"step":2,"done":true}');
  });

  // -------------------------------------------------------------------------------------------
  // purge (by filter: exclusive.test.js, which runs alone)

  scenario("purge: a completed instance; purging it again and purging a running one purge nothing", 30_000, async (s) => {
    const id = await s.start("SingleActivity", "purge", { suffix: "done" });
    h.expectStatus(await s.waitDone(id), S.COMPLETED);
    const purged = await client.purgeOrchestration(id);
    assert.equal(purged?.deletedInstanceCount, 1, `purging a completed instance: ${JSON.stringify(purged)}`);
    assert.equal(await client.getOrchestrationState(id), undefined, "the purged instance is still there");
    const again = await client.purgeOrchestration(id);
    assert.equal(again?.deletedInstanceCount, 0, `purging it again: ${JSON.stringify(again)}`);

    const running = await s.start("WaitForever", undefined, { suffix: "running" });
    await s.waiting(running);
    const notPurged = await client.purgeOrchestration(running);
    assert.equal(notPurged?.deletedInstanceCount, 0, `purging a running instance: ${JSON.stringify(notPurged)}`);
    h.expectStatus(await s.fetch(running), S.RUNNING);
    await client.terminateOrchestration(running);
  });

  scenario("purge: recursive purge removes the sub-orchestrations too", 30_000, async (s) => {
    const id = await s.start("Parent", 1);
    h.expectStatus(await s.waitDone(id), S.COMPLETED);
    h.expectStatus(await s.fetch(`${id}-child`), S.COMPLETED);
    const purged = await client.purgeOrchestration(id, { recursive: true });
    assert.equal(purged?.deletedInstanceCount, 3, `parent and two children: ${JSON.stringify(purged)}`);
    assert.equal(await client.getOrchestrationState(id), undefined);
    assert.equal(await client.getOrchestrationState(`${id}-child`), undefined);
  });

  // -------------------------------------------------------------------------------------------
  // queries

  scenario("query: getAllInstances by ID prefix and status, two per page", 30_000, async (s) => {
    const created = Date.now();
    const ids = [];
    for (let i = 0; i < 5; i++) {
      ids.push(await s.start("SingleActivity", `q${i}`, { suffix: `done-${i}` }));
    }
    const running = await s.start("WaitForever", undefined, { suffix: "running" });
    for (const id of ids) {
      h.expectStatus(await s.waitDone(id), S.COMPLETED);
    }
    await s.waiting(running);

    const pageable = client.getAllInstances({
      instanceIdPrefix: s.id(),
      statuses: [S.COMPLETED],
      fetchInputsAndOutputs: true,
      pageSize: 2,
    });
    const sizes = [];
    const seen = [];
    for await (const page of pageable.asPages(undefined, 2)) {
      sizes.push(page.values.length);
      for (const st of page.values) {
        seen.push(st.instanceId);
        h.expectStatus(st, S.COMPLETED);
        assert.ok(st.serializedOutput?.startsWith('"Hello, q'), `fetchInputsAndOutputs: ${h.describeState(st)}`);
      }
      assert.ok(sizes.length < 20, "the pages never end");
    }
    assert.deepEqual([...seen].sort(), [...ids].sort(), `pages of ${JSON.stringify(sizes)}`);
    assert.ok(sizes.every((n) => n <= 2) && sizes.length >= 3, `page sizes ${JSON.stringify(sizes)} (page size 2, 5 instances)`);

    const runningOnes = [];
    for await (const st of client.getAllInstances({ instanceIdPrefix: s.id(), statuses: [S.RUNNING] })) {
      runningOnes.push(st.instanceId);
    }
    assert.deepEqual(runningOnes, [running]);

    const none = [];
    for await (const st of client.getAllInstances({ instanceIdPrefix: s.id(), createdFrom: new Date(Date.now() + 60_000) })) {
      none.push(st.instanceId);
    }
    assert.deepEqual(none, [], "createdFrom in the future matched");
    const all = [];
    for await (const st of client.getAllInstances({ instanceIdPrefix: s.id(), createdFrom: new Date(created - 5000) })) {
      all.push(st.instanceId);
    }
    assert.equal(all.length, 6, `createdFrom before they were made: ${JSON.stringify(all)}`);
    await client.terminateOrchestration(running);
  });

  scenario("query: listInstanceIds of completed instances, key-based paging", 30_000, async (s) => {
    const from = new Date();
    const ids = [];
    for (let i = 0; i < 3; i++) {
      ids.push(await s.start("SingleActivity", `l${i}`, { suffix: `${i}` }));
    }
    for (const id of ids) {
      h.expectStatus(await s.waitDone(id), S.COMPLETED);
    }
    const seen = [];
    let lastInstanceKey;
    for (let pages = 0; ; pages++) {
      assert.ok(pages < 1000, "the pages never end");
      const page = await client.listInstanceIds({ runtimeStatus: [S.COMPLETED], completedTimeFrom: from, pageSize: 2, lastInstanceKey });
      assert.ok(page.values.length <= 2, `a page of ${page.values.length} (page size 2)`);
      seen.push(...page.values);
      if (!page.hasMoreResults) {
        break;
      }
      lastInstanceKey = page.continuationToken;
    }
    assert.equal(new Set(seen).size, seen.length, `an instance ID came twice: ${JSON.stringify(seen)}`);
    for (const id of ids) {
      assert.ok(seen.includes(id), `${id} is missing from the listed IDs`);
    }
  });

  // -------------------------------------------------------------------------------------------
  // history

  scenario("history: getOrchestrationHistory lists the events, with current timestamps", 30_000, async (s) => {
    const began = Date.now();
    const id = await s.start("HistoryMix", "history");
    h.expectStatus(await s.waitDone(id), S.COMPLETED);
    const history = await client.getOrchestrationHistory(id);
    const types = history.map((e) => e.type);
    for (const want of ["OrchestratorStarted", "ExecutionStarted", "TaskScheduled", "TaskCompleted", "TimerCreated", "TimerFired", "ExecutionCompleted"]) {
      assert.ok(types.includes(want), `no ${want} in ${JSON.stringify(types)}`);
    }
    const started = history.find((e) => e.type === "ExecutionStarted");
    assert.equal(started.name, "HistoryMix");
    assert.equal(started.input, '"history"');
    assert.equal(history.find((e) => e.type === "TaskScheduled").name, "Hello");
    assert.equal(history.find((e) => e.type === "TaskCompleted").result, '"Hello, history!"');
    assert.equal(history.find((e) => e.type === "ExecutionCompleted").result, '"Hello, history!"');
    for (const e of history) {
      const t = e.timestamp?.getTime();
      assert.ok(t >= began - 5000 && t <= Date.now() + 5000, `${e.type} (event ${e.eventId}) has timestamp ${e.timestamp?.toISOString()}`);
    }
    assert.deepEqual(await client.getOrchestrationHistory(s.id("nobody")), [], "the history of an unknown instance");
  });

  // -------------------------------------------------------------------------------------------
  // entities

  scenario("entities: signals from the client; getEntity reads the state", 30_000, async (s) => {
    const id = counter(s.id());
    await client.signalEntity(id, "add", 10);
    await client.signalEntity(id, "add", 5);
    await client.signalEntity(id, "subtract", 3);
    let last;
    for (const deadline = Date.now() + 15_000; ; ) {
      last = await client.getEntity(id);
      if (last?.state?.count === 12) {
        break;
      }
      assert.ok(Date.now() < deadline, `the entity state never reached count 12: ${JSON.stringify(last)}`);
      await h.sleep(25);
    }
    assert.equal(String(last.id), String(id));
    assert.ok(last.lastModifiedTime.getTime() > Date.now() - 60_000, `lastModifiedTime ${last.lastModifiedTime.toISOString()}`);
    const bare = await client.getEntity(id, false);
    assert.ok(bare && bare.includesState === false, `getEntity(includeState=false): includesState ${bare?.includesState}`);
    assert.equal(await client.getEntity(counter(s.id("nobody"))), undefined, "getEntity of an unknown entity");
  });

  scenario("entities: an orchestration calls an entity and gets its results", 30_000, async (s) => {
    const key = s.id();
    const st = await s.waitDone(await s.start("CallCounter", key));
    h.expectStatus(st, S.COMPLETED);
    assert.deepEqual(h.output(st), { first: 50, second: 75, final: 75 });
    assert.equal((await client.getEntity(counter(key)))?.state?.count, 75);
  });

  scenario("entities: an orchestration's signals reach the entity before its later call", 30_000, async (s) => {
    const st = await s.waitDone(await s.start("SignalThenCall", s.id()));
    h.expectStatus(st, S.COMPLETED);
    h.expectOutput(st, "101");
  });

  scenario("entities: locks (critical sections) keep 5 concurrent read-modify-writes apart", 45_000, async (s) => {
    const key = s.id();
    const ids = [];
    for (let i = 0; i < 5; i++) {
      ids.push(await s.start("LockedIncrement", key, { suffix: `${i}` }));
    }
    const reads = [];
    for (const id of ids) {
      const st = await s.waitDone(id, 40);
      h.expectStatus(st, S.COMPLETED);
      const out = h.output(st);
      assert.equal(out.inSection, true, JSON.stringify(out));
      assert.deepEqual(out.locked, [String(counter(key))]);
      reads.push(out.read);
    }
    assert.deepEqual([...reads].sort(), [0, 1, 2, 3, 4], `each critical section read a distinct value: ${JSON.stringify(reads)}`);
    const entity = await client.getEntity(counter(key));
    assert.equal(entity?.state?.count, 5, `after 5 locked increments: ${JSON.stringify(entity)}`);
    assert.equal(entity?.lockedBy, undefined, `the lock is still held: ${JSON.stringify(entity)}`);
  });

  scenario("entities: a transfer locks two entities at once", 30_000, async (s) => {
    const from = s.id("from");
    const to = s.id("to");
    h.expectStatus(await s.waitDone(await s.start("Deposit", { key: from, amount: 100 }, { suffix: "deposit" })), S.COMPLETED);
    const st = await s.waitDone(await s.start("Transfer", { from, to, amount: 30 }, { suffix: "transfer" }));
    h.expectStatus(st, S.COMPLETED);
    assert.deepEqual(h.output(st), { left: 70, right: 30 });
    assert.equal((await client.getEntity(account(from)))?.state?.balance, 70);
    assert.equal((await client.getEntity(account(to)))?.state?.balance, 30);
  });

  scenario("entities: a failing operation reaches the caller as EntityOperationFailedException", 30_000, async (s) => {
    const st = await s.waitDone(await s.start("CallFailingEntity", s.id()));
    h.expectStatus(st, S.COMPLETED);
    const seen = h.output(st);
    assert.equal(seen.failed, true, JSON.stringify(seen));
    assert.equal(seen.name, "EntityOperationFailedException", JSON.stringify(seen));
    assert.equal(seen.errorType, "CounterError", JSON.stringify(seen));
    assert.equal(seen.errorMessage, "the counter refuses", JSON.stringify(seen));
  });

  scenario("entities: getEntities queries by name and key prefix; delete removes an entity", 30_000, async (s) => {
    const keys = [s.id("a"), s.id("b"), s.id("c")];
    for (const key of keys) {
      await client.signalEntity(counter(key), "add", 1);
    }
    const wanted = keys.map((k) => String(counter(k))).sort();
    let found = [];
    for (const deadline = Date.now() + 15_000; ; ) {
      found = [];
      for await (const e of client.getEntities({ instanceIdStartsWith: `@counter@${s.id()}`, includeState: true, pageSize: 2 })) {
        found.push({ id: String(e.id), count: e.state?.count });
      }
      if (found.length === 3) {
        break;
      }
      assert.ok(Date.now() < deadline, `getEntities found ${JSON.stringify(found)}`);
      await h.sleep(25);
    }
    assert.deepEqual(
      found.map((e) => e.id).sort(),
      wanted,
    );
    assert.ok(found.every((e) => e.count === 1), JSON.stringify(found));

    await client.signalEntity(counter(keys[0]), "delete");
    for (const deadline = Date.now() + 15_000; ; ) {
      const e = await client.getEntity(counter(keys[0]));
      if (e === undefined) {
        break;
      }
      assert.ok(Date.now() < deadline, `the deleted entity is still there: ${JSON.stringify(e)}`);
      await h.sleep(25);
    }
  });

  scenario("entities: a signal scheduled 1.5 s ahead (signalTime) is not delivered before then", 30_000, async (s) => {
    const id = counter(s.id());
    const at = new Date(Date.now() + 1500);
    await client.signalEntity(id, "add", 1, { signalTime: at });
    if (at.getTime() - Date.now() > 500) {
      assert.equal(await client.getEntity(id), undefined, "the scheduled signal was delivered at once");
    }
    let last;
    for (const deadline = Date.now() + 15_000; ; ) {
      last = await client.getEntity(id);
      if (last?.state?.count === 1) {
        break;
      }
      assert.ok(Date.now() < deadline, `the scheduled signal never arrived: ${JSON.stringify(last)}`);
      await h.sleep(25);
    }
    assert.ok(
      Date.now() >= at.getTime() && last.lastModifiedTime.getTime() >= at.getTime() - 50,
      `delivered before its signalTime ${at.toISOString()}: modified at ${last.lastModifiedTime.toISOString()}`,
    );
  });

  scenario("entities: an entity signals other entities and starts an orchestration", 30_000, async (s) => {
    const keys = [s.id("x"), s.id("y")];
    const coordinator = new EntityInstanceId("Coordinator", s.id());
    const started = s.id("started");
    await client.signalEntity(coordinator, "fanOut", { keys, amount: 7 });
    await client.signalEntity(coordinator, "startGreeting", { instanceId: started, name: "from an entity" });
    for (const key of keys) {
      let last;
      for (const deadline = Date.now() + 15_000; ; ) {
        last = await client.getEntity(counter(key));
        if (last?.state?.count === 7) {
          break;
        }
        assert.ok(Date.now() < deadline, `${key}: the entity's signal never arrived: ${JSON.stringify(last)}`);
        await h.sleep(25);
      }
    }
    const st = await s.poll(started, "the orchestration the entity started to complete", (x) => h.TERMINAL.has(x.runtimeStatus));
    h.expectStatus(st, S.COMPLETED);
    h.expectOutput(st, '"Hello, from an entity!"');
    assert.deepEqual((await client.getEntity(coordinator))?.state, { sent: 2 });
  });

  // -------------------------------------------------------------------------------------------
  // waiting

  scenario("wait: waitForOrchestrationStart returns a started (not PENDING) instance", 30_000, async (s) => {
    const id = await s.start("WaitForever");
    const st = await client.waitForOrchestrationStart(id, false, 20);
    assert.ok(st, "waitForOrchestrationStart found no instance");
    assert.notEqual(st.runtimeStatus, S.PENDING, `waitForOrchestrationStart returned ${h.describeState(st)}`);
    await client.terminateOrchestration(id);
  });

  scenario("wait: a completion wait made while the instance runs resumes when it ends (the SDK sets no gRPC deadline)", 30_000, async (s) => {
    const id = s.id();
    const gate = h.newGate(id);
    await s.start("GateHello", { key: id, name: "waiter" });
    await h.within(gate.entered, 15_000, "the Gate activity never ran");
    const waiting = client.waitForOrchestrationCompletion(id, true, 20);
    let settled = false;
    waiting.then(
      () => (settled = true),
      () => (settled = true),
    );
    await h.sleep(200); // the wait is now blocked on the server: the instance cannot finish yet
    assert.equal(settled, false, "the wait for completion ended while the instance was parked on its Gate activity");
    gate.release();
    const st = await waiting;
    h.expectStatus(st, S.COMPLETED);
    h.expectOutput(st, '"Hello, waiter!"');
  });

  // The SDK documents `undefined` for an unknown instance (client.d.ts); a NOT_FOUND error is accepted too.
  for (const [wait, call] of [
    ["waitForOrchestrationStart", (id) => client.waitForOrchestrationStart(id, false, 10)],
    ["waitForOrchestrationCompletion", (id) => client.waitForOrchestrationCompletion(id, true, 10)],
  ]) {
    scenario(`wait: ${wait} on an unknown instance answers promptly: not found`, 15_000, async (s) => {
      const began = Date.now();
      let outcome;
      try {
        const st = await call(s.id("nobody"));
        outcome = st === undefined ? "resolved undefined" : `resolved ${h.describeState(st)}`;
      } catch (e) {
        outcome = e.code === h.GRPC.NOT_FOUND ? "rejected NOT_FOUND" : `rejected ${e}`;
      }
      const took = Date.now() - began;
      s.log(`${wait}(unknown instance): ${outcome} after ${took} ms`);
      assert.ok(outcome === "resolved undefined" || outcome === "rejected NOT_FOUND", `${wait}(unknown instance): ${outcome}`);
      assert.ok(took < 3000, `${wait}(unknown instance) took ${took} ms to answer`);
    });
  }

  scenario("wait: getOrchestrationState of an unknown instance is undefined", 10_000, async (s) => {
    assert.equal(await client.getOrchestrationState(s.id("nobody")), undefined);
  });

  // -------------------------------------------------------------------------------------------
  // instance IDs, scheduled start, tags

  scenario("duplicate-id: starting a running instance's ID again is refused (ALREADY_EXISTS)", 30_000, async (s) => {
    const id = await s.start("WaitForever");
    await assert.rejects(s.start("WaitForever", undefined, { instanceId: id }), (e) => {
      assert.equal(e.code, h.GRPC.ALREADY_EXISTS, `starting a running instance's ID again: ${e}`);
      return true;
    });
    await client.terminateOrchestration(id);
  });

  h.unsupported(
    "duplicate-id: an ID reuse policy (terminate or ignore the running instance)",
    "StartOrchestrationOptions has no orchestrationIdReusePolicy in 0.4.0 (task/options/task-options.d.ts)",
  );

  scenario("scheduled-start: a start time 2 s ahead is honoured (PENDING until then)", 30_000, async (s) => {
    const at = new Date(Date.now() + 2000);
    const id = await s.start("Now", undefined, { startAt: at });
    // Checked only while there is time left, so that a slow machine cannot make this flaky.
    if (at.getTime() - Date.now() > 800) {
      h.expectStatus(await s.fetch(id), S.PENDING);
      const seconds = (at.getTime() - Date.now() - 300) / 1000;
      await assert.rejects(client.waitForOrchestrationStart(id, false, seconds), (e) => {
        assert.equal(e.name, "TimeoutError", `waiting for the start of an instance scheduled for ${at.toISOString()} ended at ${new Date().toISOString()} with ${e}`);
        return true;
      });
    }
    const st = await s.waitDone(id);
    assert.ok(Date.now() >= at.getTime(), `completed before its scheduled start time ${at.toISOString()}`);
    h.expectStatus(st, S.COMPLETED);
    const ranAt = Date.parse(h.output(st));
    assert.ok(ranAt >= at.getTime() - 10, `the orchestrator ran at ${h.output(st)}, before its scheduled start ${at.toISOString()}`);
  });

  scenario("scheduled-start: no start time (the SDK sends the Unix epoch) starts at once, the clock reads now", 30_000, async (s) => {
    const before = Date.now();
    const st = await s.waitDone(await s.start("Now"));
    const after = Date.now();
    h.expectStatus(st, S.COMPLETED);
    const ranAt = Date.parse(h.output(st));
    assert.ok(
      ranAt >= before - 2000 && ranAt <= after + 2000,
      `ctx.currentUtcDateTime was ${h.output(st)}; the test scheduled it at ${new Date(before).toISOString()} and saw it complete at ${new Date(after).toISOString()}`,
    );
    assert.ok(after - before < 5000, `an instance without a start time took ${after - before} ms to run`);
  });

  scenario("scheduled-start: an instance scheduled for later can be terminated before it starts", 30_000, async (s) => {
    const id = await s.start("Now", undefined, { startAt: new Date(Date.now() + 30_000) });
    h.expectStatus(await s.fetch(id), S.PENDING);
    await client.terminateOrchestration(id, "never started");
    const st = await s.waitDone(id);
    h.expectStatus(st, S.TERMINATED);
    h.expectOutput(st, '"never started"');
  });

  scenario("tags: tags set at schedule time are read back from the orchestration state", 30_000, async (s) => {
    const tags = { env: "test", owner: "durable" };
    const id = await s.start("SingleActivity", "tags", { tags });
    const st = await s.waitDone(id);
    h.expectStatus(st, S.COMPLETED);
    assert.deepEqual(st.tags, tags, "waitForOrchestrationCompletion: state.tags");
    assert.deepEqual((await s.fetch(id)).tags, tags, "getOrchestrationState: state.tags");
    const listed = [];
    for await (const q of client.getAllInstances({ instanceIdPrefix: id })) {
      listed.push(q);
    }
    assert.equal(listed.length, 1);
    assert.deepEqual(listed[0].tags, tags, "getAllInstances: state.tags");
  });

  scenario("tags: tags on an activity call and on a sub-orchestration call", 30_000, async (s) => {
    const id = await s.start("TaggedCalls");
    const st = await s.waitDone(id);
    h.expectStatus(st, S.COMPLETED);
    assert.deepEqual(h.output(st), { greeting: "Hello, tags!", doubled: 2 });
    const scheduled = (await client.getOrchestrationHistory(id)).find((e) => e.type === "TaskScheduled");
    assert.deepEqual(scheduled?.tags, { kind: "activity" }, `TaskScheduled event: ${JSON.stringify(scheduled)}`);
    assert.deepEqual((await s.fetch(`${id}-child`)).tags, { kind: "child" }, "the sub-orchestration's state.tags");
  });

  // -------------------------------------------------------------------------------------------
  // restart, rewind, send event

  scenario("restart: a completed instance restarts under the same ID, and under a new one", 30_000, async (s) => {
    const id = await s.start("SingleActivity", "again");
    const first = await s.waitDone(id);
    h.expectStatus(first, S.COMPLETED);
    assert.equal(await client.restartOrchestration(id), id);
    const st = await s.poll(id, "the restarted instance to complete", (x) => x.runtimeStatus === S.COMPLETED && x.createdAt > first.createdAt);
    h.expectOutput(st, '"Hello, again!"');
    assert.equal(st.serializedInput, '"again"');

    const other = await client.restartOrchestration(id, true);
    assert.notEqual(other, id, "restartWithNewInstanceId returned the same ID");
    const copy = await s.waitDone(other);
    h.expectStatus(copy, S.COMPLETED);
    h.expectOutput(copy, '"Hello, again!"');
    await client.purgeOrchestration(other);
  });

  scenario("restart: a running instance (same ID) and an unknown one are refused", 30_000, async (s) => {
    const id = await s.start("WaitForever");
    await s.waiting(id);
    await assert.rejects(client.restartOrchestration(id), (e) => {
      assert.equal(e.cause?.code, h.GRPC.FAILED_PRECONDITION, `restarting a running instance: ${e} (cause ${e.cause})`);
      return true;
    });
    await client.terminateOrchestration(id);
    await assert.rejects(client.restartOrchestration(s.id("nobody")), (e) => {
      assert.equal(e.cause?.code, h.GRPC.NOT_FOUND, `restarting an unknown instance: ${e} (cause ${e.cause})`);
      return true;
    });
  });

  scenario("rewind: a failed instance, rewound, reruns the failed activity and completes", 30_000, async (s) => {
    const id = s.id();
    await s.start("RewindMe", id);
    const failed = await s.waitDone(id);
    h.expectStatus(failed, S.FAILED);
    assert.equal(failed.failureDetails?.errorType, "TaskFailedError", h.describeState(failed));
    await client.rewindInstance(id, "rewound by test");
    const st = await s.poll(id, "the rewound instance to complete", (x) => h.TERMINAL.has(x.runtimeStatus) && x.runtimeStatus !== S.FAILED);
    h.expectStatus(st, S.COMPLETED);
    h.expectOutput(st, '"ok after 2"');
    assert.equal(h.attemptCount(id), 2);
  });

  scenario("rewind: a parent that failed because its child failed is rewound together with the child", 30_000, async (s) => {
    const id = s.id();
    await s.start("RewindParent", id);
    h.expectStatus(await s.waitDone(id), S.FAILED);
    h.expectStatus(await s.waitDone(`${id}-child`), S.FAILED);
    await client.rewindInstance(id, "rewound by test");
    const st = await s.poll(id, "the rewound parent to complete", (x) => h.TERMINAL.has(x.runtimeStatus) && x.runtimeStatus !== S.FAILED);
    h.expectStatus(st, S.COMPLETED);
    h.expectOutput(st, '"ok after 2"');
    h.expectStatus(await s.fetch(`${id}-child`), S.COMPLETED);
  });

  scenario("rewind: rewinding a completed instance or an unknown one is refused", 30_000, async (s) => {
    const id = await s.start("SingleActivity", "done");
    h.expectStatus(await s.waitDone(id), S.COMPLETED);
    await assert.rejects(client.rewindInstance(id, "not failed"), (e) => {
      assert.equal(e.cause?.code, h.GRPC.FAILED_PRECONDITION, `rewinding a completed instance: ${e} (cause ${e.cause})`);
      return true;
    });
    await assert.rejects(client.rewindInstance(s.id("nobody"), "unknown"), (e) => {
      assert.equal(e.cause?.code, h.GRPC.NOT_FOUND, `rewinding an unknown instance: ${e} (cause ${e.cause})`);
      return true;
    });
  });

  scenario("send-event: one orchestration sends an event to another (ctx.sendEvent)", 30_000, async (s) => {
    const receiver = await s.start("Receiver", undefined, { suffix: "receiver" });
    await s.waiting(receiver);
    const sender = await s.start("Sender", { target: receiver, value: { hello: "from sender" } }, { suffix: "sender" });
    h.expectStatus(await s.waitDone(sender), S.COMPLETED);
    const st = await s.waitDone(receiver);
    h.expectStatus(st, S.COMPLETED);
    assert.deepEqual(h.output(st), { hello: "from sender" });
  });

  scenario("send-event: an event sent to an unknown instance is dropped; the sender completes", 30_000, async (s) => {
    const st = await s.waitDone(await s.start("Sender", { target: s.id("nobody"), value: 1 }));
    h.expectStatus(st, S.COMPLETED);
    h.expectOutput(st, '"sent"');
  });
});
