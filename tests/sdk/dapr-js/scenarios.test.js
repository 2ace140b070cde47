// The Dapr Workflow JavaScript SDK (@dapr/durabletask-js 1.0.0, unmodified) against the emulator's
// Dapr dialect port (--dapr-port): its gRPC client (TaskHubGrpcClient) and worker
// (TaskHubGrpcWorker) over a real connection.
//
// DTEMU_ADDRESS is the Dapr port's host:port. Run with tests/sdk_dapr_js_runner.py, or by hand:
//
//   DTEMU_ADDRESS=localhost:50001 npm test
//
// Each scenario is a test named "<feature-key>: <what it checks>" with its own timeout; they run
// concurrently against one worker. A scenario the SDK cannot express skips itself with a message
// starting with "not supported by SDK".
"use strict";

const assert = require("node:assert/strict");
const h = require("./helpers");
const { onDaprPort } = require("./suite");

const { S } = h;

/** The orchestrator saw a TaskFailedError whose details carry `errorType` and `message`. */
function assertCaught(seen, errorType, message) {
  const said = JSON.stringify(seen);
  assert.equal(seen.failed, true, `the orchestrator did not see the task fail: ${said}`);
  assert.equal(seen.isTaskFailedError, true, `not a TaskFailedError: ${said}`);
  assert.equal(seen.errorType, errorType, `TaskFailedError.details.errorType: ${said}`);
  assert.equal(seen.detailMessage, message, `TaskFailedError.details.message: ${said}`);
  assert.ok(seen.message.includes(message), `TaskFailedError.message: ${said}`);
}

onDaprPort("@dapr/durabletask-js against the emulator's Dapr port", true, (client, scenario) => {
  // -------------------------------------------------------------------------------------------
  // activities, chains, fan-out/fan-in

  scenario("activity: one activity; state, payloads and timestamps", 30_000, async (r) => {
    const scheduledAt = Date.now();
    const id = await r.start("SingleActivity", "世界");
    assert.equal(id, r.id());
    const st = await r.finished(id);
    h.assertStatus(st, S.COMPLETED);
    assert.equal(st.serializedOutput, '"Hello, 世界!"', h.show(st));
    assert.equal(st.serializedInput, '"世界"');
    assert.equal(st.name, "SingleActivity");
    assert.equal(st.instanceId, id);
    assert.equal(st.failureDetails, undefined);
    const created = st.createdAt.getTime();
    assert.ok(created >= scheduledAt - 1000 && created <= Date.now(), `createdAt ${st.createdAt.toISOString()}`);
    assert.ok(st.lastUpdatedAt.getTime() >= created, `lastUpdatedAt ${st.lastUpdatedAt.toISOString()} < createdAt`);
    const bare = await client.getOrchestrationState(id, false);
    h.assertStatus(bare, S.COMPLETED);
    assert.ok(!bare.serializedInput && !bare.serializedOutput, `without payloads: ${h.show(bare)}`);
  });

  scenario("activity: the activity context names its orchestration and task; replay is visible to the orchestrator", 30_000, async (r) => {
    const id = await r.start("WhoAmI");
    const st = await r.finished(id);
    h.assertStatus(st, S.COMPLETED);
    assert.deepEqual(h.result(st), {
      instanceId: id,
      activity: { orchestrationId: id, taskId: 1 },
      later: "later, promise",
      replayingBefore: true,
      replayingAfter: false,
    });
  });

  scenario("activity: an orchestrator that schedules nothing completes with its return value", 30_000, async (r) => {
    const id = await r.start("Plain", { a: [1, 2] });
    const st = await r.finished(id);
    h.assertStatus(st, S.COMPLETED);
    assert.deepEqual(h.result(st), { echo: { a: [1, 2] }, instanceId: id });
  });

  scenario("chain: five Add1 then three Hello activities, one after another", 30_000, async (r) => {
    const st = await r.finished(await r.start("Chain", 10));
    h.assertStatus(st, S.COMPLETED);
    assert.deepEqual(h.result(st), { value: 15, greetings: ["Hello, Tokyo!", "Hello, London!", "Hello, Seattle!"] });
  });

  scenario("chain: 30 activities in sequence (each work item replays the whole history)", 60_000, async (r) => {
    const st = await r.finished(await r.start("LongChain", 30), 50);
    h.assertStatus(st, S.COMPLETED);
    assert.equal(st.serializedOutput, "31");
  });

  scenario("fan-out: 50 activities at once, whenAll sums them", 60_000, async (r) => {
    const st = await r.finished(await r.start("FanOut", 50), 50);
    h.assertStatus(st, S.COMPLETED);
    assert.equal(st.serializedOutput, "42925"); // 1² + ... + 50²
  });

  scenario("fan-out: whenAll fails as soon as one activity fails; the workflow catches its error", 30_000, async (r) => {
    const keys = [r.id("a"), r.id("b")];
    const held = keys.map((key) => h.gate(key));
    const id = await r.start("FanOutFails", keys);
    await h.inTime(Promise.all(held.map((g) => g.reached)), 15_000, "the Gate activities never ran");
    const st = await r.finished(id);
    h.assertStatus(st, S.COMPLETED);
    assertCaught(h.result(st), "Error", "one of many");
    held.forEach((g) => g.open());
  });

  scenario("fan-out: whenAny returns the activity that finished before a 30 s timer", 30_000, async (r) => {
    const began = Date.now();
    const st = await r.finished(await r.start("FirstOf"));
    h.assertStatus(st, S.COMPLETED);
    assert.equal(st.serializedOutput, '"Hello, fast!"');
    assert.ok(Date.now() - began < 20_000, "whenAny waited for the timer");
  });

  // -------------------------------------------------------------------------------------------
  // child workflows

  scenario("sub-orchestration: one child with an explicit instance ID, one with the ID the SDK derives", 30_000, async (r) => {
    const id = await r.start("Parent", 21);
    const st = await r.finished(id);
    h.assertStatus(st, S.COMPLETED);
    assert.deepEqual(h.result(st), [42, 44]);
    const child = await r.state(`${id}-child`);
    h.assertStatus(child, S.COMPLETED);
    assert.equal(child.name, "Double");
    assert.equal(child.serializedInput, "21");
    assert.equal(child.serializedOutput, "42");
    // The second call is the parent's action #2: the SDK names its child "<parent>:0002".
    const derived = await r.state(`${id}:0002`);
    h.assertStatus(derived, S.COMPLETED);
    assert.equal(derived.serializedOutput, "44");
  });

  scenario("sub-orchestration: three levels of child workflows, each with an activity", 30_000, async (r) => {
    const id = await r.start("Level", 1);
    const st = await r.finished(id);
    h.assertStatus(st, S.COMPLETED);
    assert.deepEqual(h.result(st), ["Hello, level 1!", "Hello, level 2!", "Hello, level 3!"]);
    const grandchild = await r.state(`${id}-2-3`);
    h.assertStatus(grandchild, S.COMPLETED);
    assert.deepEqual(h.result(grandchild), ["Hello, level 3!"]);
  });

  scenario("sub-orchestration-failure: a failing child's errorType and message reach the parent", 30_000, async (r) => {
    const id = await r.start("ParentCatches");
    const st = await r.finished(id);
    h.assertStatus(st, S.COMPLETED);
    const message = `child boom (from ${id})`;
    assertCaught(h.result(st), "ChildError", message);
    const child = await r.finished(`${id}-child`);
    h.assertStatus(child, S.FAILED);
    assert.equal(child.failureDetails?.errorType, "ChildError", h.show(child));
    assert.equal(child.failureDetails?.message, message, h.show(child));
  });

  scenario("sub-orchestration-failure: an uncaught child failure fails the parent", 30_000, async (r) => {
    const id = await r.start("ParentPropagates");
    const st = await r.finished(id);
    h.assertStatus(st, S.FAILED);
    assert.equal(st.failureDetails?.errorType, "TaskFailedError", h.show(st));
    assert.ok(st.failureDetails?.message.includes("child boom (propagated)"), h.show(st));
    h.assertStatus(await r.finished(`${id}-child`), S.FAILED);
  });

  // -------------------------------------------------------------------------------------------
  // external events

  scenario("external-event: raised before the workflow waits for it (names are case-insensitive)", 30_000, async (r) => {
    const id = r.id();
    const held = h.gate(id);
    await r.start("GateThenEvent", id);
    await h.inTime(held.reached, 15_000, "the Gate activity never ran");
    // Parked on the Gate activity: the workflow has not asked for the event yet.
    await client.raiseOrchestrationEvent(id, "APPROVAL", "approved early");
    held.open();
    const st = await r.finished(id);
    h.assertStatus(st, S.COMPLETED);
    assert.equal(st.serializedOutput, '"approved early"');
  });

  scenario("external-event: raised after the workflow waits for it", 30_000, async (r) => {
    const id = await r.start("WaitEvent");
    await r.waiting(id);
    await client.raiseOrchestrationEvent(id, "Approval", { by: "test", late: true });
    const st = await r.finished(id);
    h.assertStatus(st, S.COMPLETED);
    assert.deepEqual(h.result(st), { by: "test", late: true });
  });

  scenario("external-event: three events of one name are received in order", 30_000, async (r) => {
    const id = await r.start("ThreeItems");
    for (const v of ["a", "b", "c"]) {
      await client.raiseOrchestrationEvent(id, "item", v);
    }
    const st = await r.finished(id);
    h.assertStatus(st, S.COMPLETED);
    assert.deepEqual(h.result(st), ["a", "b", "c"]);
  });

  scenario("external-event: two waits of different names, raised in the other order", 30_000, async (r) => {
    const id = await r.start("TwoNames");
    await r.waiting(id);
    await client.raiseOrchestrationEvent(id, "second", 2);
    await client.raiseOrchestrationEvent(id, "first", 1);
    const st = await r.finished(id);
    h.assertStatus(st, S.COMPLETED);
    assert.deepEqual(h.result(st), [1, 2]);
  });

  scenario("external-event: raising an event on an unknown instance is refused (NOT_FOUND)", 10_000, async (r) => {
    await h.rejectsWith(client.raiseOrchestrationEvent(r.id("nobody"), "approval", 1), h.GRPC_NOT_FOUND, "raiseOrchestrationEvent");
  });

  // -------------------------------------------------------------------------------------------
  // waits with a timeout (whenAny of waitForExternalEvent and createTimer)

  scenario("event-timeout: a 1 s wait for an event that never comes times out", 30_000, async (r) => {
    const began = Date.now();
    const st = await r.finished(await r.start("EventOrTimeout", 1));
    const took = Date.now() - began;
    h.assertStatus(st, S.COMPLETED);
    assert.equal(st.serializedOutput, '"timed out"');
    assert.ok(took >= 1000, `a 1 s event timeout ended after ${took} ms`);
  });

  scenario("event-timeout: an event that arrives before the timeout wins", 30_000, async (r) => {
    const id = await r.start("EventOrTimeout", 30);
    await r.waiting(id);
    await client.raiseOrchestrationEvent(id, "approval", { ok: true });
    const st = await r.finished(id);
    h.assertStatus(st, S.COMPLETED);
    assert.deepEqual(h.result(st), { event: { ok: true } });
  });

  // -------------------------------------------------------------------------------------------
  // durable timers

  scenario("timer: a 2 s timer waits at least 2 s (wall time and workflow time)", 30_000, async (r) => {
    const began = Date.now();
    const st = await r.finished(await r.start("Timer2s"));
    const took = Date.now() - began;
    h.assertStatus(st, S.COMPLETED);
    const { startedAt, ms } = h.result(st);
    assert.ok(Math.abs(Date.parse(startedAt) - began) < 5000, `currentUtcDateTime ${startedAt} at the first step; scheduled at ${new Date(began).toISOString()}`);
    assert.ok(took >= 2000 && ms >= 2000, `a 2 s timer fired early: ${took} ms of wall time, ${ms} ms of workflow time`);
    assert.ok(took < 10_000, `a 2 s timer took ${took} ms`);
  });

  scenario("timer: three 0.5 s timers in sequence (Date and seconds forms)", 30_000, async (r) => {
    const began = Date.now();
    const st = await r.finished(await r.start("ThreeTimers"));
    const took = Date.now() - began;
    h.assertStatus(st, S.COMPLETED);
    assert.ok(took >= 1500 && h.result(st) >= 1500, `three 0.5 s timers: ${took} ms of wall time, ${st.serializedOutput} ms of workflow time`);
  });

  // -------------------------------------------------------------------------------------------
  // continue-as-new

  scenario("continue-as-new: four generations (three continue-as-new); the last one's input and output", 30_000, async (r) => {
    const st = await r.finished(await r.start("Counter", { n: 1 }));
    h.assertStatus(st, S.COMPLETED);
    assert.deepEqual(h.result(st), { final: 5 });
    assert.equal(st.serializedInput, '{"n":4}', `the last generation's input: ${h.show(st)}`);
  });

  scenario("continue-as-new: with saveEvents the unprocessed events carry over to the next generation", 30_000, async (r) => {
    const id = r.id();
    const held = h.gate(id);
    await r.start("CarryEvents", { generation: 0, key: id });
    await h.inTime(held.reached, 15_000, "the Gate activity never ran");
    for (const v of [1, 2, 3]) {
      await client.raiseOrchestrationEvent(id, "item", v);
    }
    held.open();
    const st = await r.finished(id);
    h.assertStatus(st, S.COMPLETED);
    assert.deepEqual(h.result(st), { generation: 1, sum: 6 });
  });

  // -------------------------------------------------------------------------------------------
  // failures

  scenario("activity-failure: an uncaught activity failure fails the workflow", 30_000, async (r) => {
    const st = await r.finished(await r.start("CallsFailing"));
    h.assertStatus(st, S.FAILED);
    assert.equal(st.failureDetails?.errorType, "TaskFailedError", h.show(st));
    assert.ok(st.failureDetails?.message.includes("kaboom"), h.show(st));
  });

  scenario("activity-failure: the workflow catches the failure with its errorType and message", 30_000, async (r) => {
    const plain = await r.finished(await r.start("CatchesFailing", "Fail", { suffix: "error" }));
    h.assertStatus(plain, S.COMPLETED);
    assertCaught(h.result(plain), "Error", "kaboom");
    const custom = await r.finished(await r.start("CatchesFailing", "Decline", { suffix: "custom" }));
    h.assertStatus(custom, S.COMPLETED);
    assertCaught(h.result(custom), "PaymentDeclined", "card declined for 42");
  });

  scenario("activity-failure: an activity that throws an Error with an empty message still failed", 30_000, async (r) => {
    const st = await r.finished(await r.start("CatchesFailing", "FailEmpty"));
    h.assertStatus(st, S.COMPLETED);
    const seen = h.result(st);
    assert.equal(seen.failed, true, `the activity threw new Error("") but the workflow got a result: ${JSON.stringify(seen)}`);
    assert.equal(seen.errorType, "Error", JSON.stringify(seen));
    assert.equal(seen.detailMessage, "", JSON.stringify(seen));
  });

  scenario("activity-failure: calling an unregistered activity fails the task", 30_000, async (r) => {
    const st = await r.finished(await r.start("CatchesFailing", "NotRegistered"));
    h.assertStatus(st, S.COMPLETED);
    const seen = h.result(st);
    assert.equal(seen.errorType, "ActivityNotRegisteredError", JSON.stringify(seen));
    assert.ok(seen.detailMessage.includes("NotRegistered"), JSON.stringify(seen));
  });

  scenario("activity-failure: a workflow that throws fails with its errorType and message; an unregistered one fails", 30_000, async (r) => {
    const id = await r.start("OrchestratorFails", undefined, { suffix: "throws" });
    const st = await r.finished(id);
    h.assertStatus(st, S.FAILED);
    assert.equal(st.failureDetails?.errorType, "ChildError", h.show(st));
    assert.equal(st.failureDetails?.message, `orchestrator boom in ${id}`, h.show(st));
    const unknown = await r.finished(await r.start("NoSuchWorkflow", undefined, { suffix: "unregistered" }));
    h.assertStatus(unknown, S.FAILED);
    assert.equal(unknown.failureDetails?.errorType, "OrchestratorNotRegisteredError", h.show(unknown));
  });

  h.unsupported(
    "retry: retry policies on activities and child workflows",
    "1.0.0 has no retry policy: callActivity(activity, input) and callSubOrchestrator(orchestrator, input, instanceId) take no options (task/context/orchestration-context.d.ts)",
  );

  // -------------------------------------------------------------------------------------------
  // terminate, suspend/resume, custom status

  scenario("terminate: a running instance, with an output", 30_000, async (r) => {
    const id = await r.start("WaitForever");
    await r.waiting(id);
    await client.terminateOrchestration(id, "stopped by test");
    const st = await r.finished(id);
    h.assertStatus(st, S.TERMINATED);
    assert.equal(st.serializedOutput, '"stopped by test"');
  });

  scenario("terminate: the SDK's terminate is not recursive (TerminateRequest.recursive unset): the child keeps running", 30_000, async (r) => {
    const id = await r.start("ParentOfWaiter");
    await r.waiting(`${id}-child`);
    await client.terminateOrchestration(id);
    h.assertStatus(await r.finished(id), S.TERMINATED);
    await h.pause(300); // a wrong termination of the child would show by now
    h.assertStatus(await r.state(`${id}-child`), S.RUNNING);
    await client.terminateOrchestration(`${id}-child`, "by itself");
    const child = await r.finished(`${id}-child`);
    h.assertStatus(child, S.TERMINATED);
    assert.equal(child.serializedOutput, '"by itself"');
  });

  scenario("terminate: terminating, suspending or resuming an unknown instance is refused (NOT_FOUND)", 10_000, async (r) => {
    const nobody = r.id("nobody");
    await h.rejectsWith(client.terminateOrchestration(nobody, "x"), h.GRPC_NOT_FOUND, "terminateOrchestration");
    await h.rejectsWith(client.suspendOrchestration(nobody), h.GRPC_NOT_FOUND, "suspendOrchestration");
    await h.rejectsWith(client.resumeOrchestration(nobody), h.GRPC_NOT_FOUND, "resumeOrchestration");
  });

  scenario("suspend-resume: a suspended instance holds its events until resumed", 30_000, async (r) => {
    const id = await r.start("SuspendMe");
    await r.waiting(id);
    await client.suspendOrchestration(id);
    h.assertStatus(await r.state(id), S.SUSPENDED);
    for (const v of ["x", "y", "z"]) {
      await client.raiseOrchestrationEvent(id, "MyEvent", v);
    }
    // Suspended: the events wait, and so does a wait for completion (the SDK's 1 s timeout ends it).
    await assert.rejects(
      h.unrefTimers(() => client.waitForOrchestrationCompletion(id, true, 1)),
      (e) => e instanceof h.sdk.TimeoutError || assert.fail(`a suspended instance's wait for completion ended with ${e}`),
    );
    h.assertStatus(await r.state(id), S.SUSPENDED);
    await client.resumeOrchestration(id);
    const st = await r.finished(id);
    h.assertStatus(st, S.COMPLETED);
    assert.deepEqual(h.result(st), ["x", "y", "z"]);
  });

  scenario("suspend-resume: terminating a suspended instance", 30_000, async (r) => {
    const id = await r.start("WaitForever");
    await r.waiting(id);
    await client.suspendOrchestration(id);
    h.assertStatus(await r.state(id), S.SUSPENDED);
    await client.terminateOrchestration(id, "gone");
    const st = await r.finished(id);
    h.assertStatus(st, S.TERMINATED);
    assert.equal(st.serializedOutput, '"gone"');
  });

  scenario("custom-status: set while running, changed before completing", 30_000, async (r) => {
    const id = await r.start("StatusSteps");
    const running = await r.until(id, 'custom status "step1"', (st) => st.serializedCustomStatus === "step1");
    h.assertStatus(running, S.RUNNING);
    await client.raiseOrchestrationEvent(id, "next", "go");
    const st = await r.finished(id);
    h.assertStatus(st, S.COMPLETED);
    assert.equal(st.serializedOutput, '"finished on go"');
    assert.deepEqual(JSON.parse(st.serializedCustomStatus), { step: 2, done: true });
  });

  // -------------------------------------------------------------------------------------------
  // purge (by a filter: solo.test.js, which runs alone)

  scenario("purge: a completed instance; purging it again and purging a running one purge nothing", 30_000, async (r) => {
    const id = await r.start("SingleActivity", "purge", { suffix: "done" });
    h.assertStatus(await r.finished(id), S.COMPLETED);
    const counts = [];
    for (let i = 0; i < 2; i++) {
      counts.push((await client.purgeOrchestration(id))?.deletedInstanceCount);
    }
    assert.deepEqual(counts, [1, 0], "instances purged by purging a completed instance, then by purging it again");
    assert.equal(await client.getOrchestrationState(id), undefined, "the purged instance is still there");

    const running = await r.start("WaitForever", undefined, { suffix: "running" });
    await r.waiting(running);
    const notPurged = await client.purgeOrchestration(running);
    assert.equal(notPurged?.deletedInstanceCount, 0, `purging a running instance: ${JSON.stringify(notPurged)}`);
    h.assertStatus(await r.state(running), S.RUNNING);
    await client.terminateOrchestration(running);
  });

  scenario("purge: failed and terminated instances are purged; the ID can then be used again", 30_000, async (r) => {
    const failed = await r.start("CallsFailing", undefined, { suffix: "failed" });
    h.assertStatus(await r.finished(failed), S.FAILED);
    const terminated = await r.start("WaitForever", undefined, { suffix: "terminated" });
    await r.waiting(terminated);
    await client.terminateOrchestration(terminated);
    h.assertStatus(await r.finished(terminated), S.TERMINATED);
    for (const id of [failed, terminated]) {
      assert.equal((await client.purgeOrchestration(id))?.deletedInstanceCount, 1, `purging ${id}`);
      assert.equal(await client.getOrchestrationState(id), undefined, `${id} is still there`);
    }
    await r.start("SingleActivity", "reborn", { instanceId: failed });
    const st = await r.finished(failed);
    h.assertStatus(st, S.COMPLETED);
    assert.equal(st.serializedOutput, '"Hello, reborn!"');
  });

  // -------------------------------------------------------------------------------------------
  // waiting

  scenario("wait: waitForOrchestrationStart returns a started (not PENDING) instance", 30_000, async (r) => {
    const id = await r.start("WaitForever");
    const st = await h.unrefTimers(() => client.waitForOrchestrationStart(id, false, 20));
    assert.ok(st, "waitForOrchestrationStart found no instance");
    h.assertStatus(st, S.RUNNING);
    await client.terminateOrchestration(id);
  });

  scenario("wait: a completion wait made while the instance runs resumes when it ends", 30_000, async (r) => {
    const id = r.id();
    const held = h.gate(id);
    await r.start("GateHello", { key: id, name: "waiter" });
    await h.inTime(held.reached, 15_000, "the Gate activity never ran");
    let settled = false;
    const waiting = r.finished(id).finally(() => (settled = true));
    await h.pause(200); // the wait is now blocked on the server: the instance cannot finish yet
    assert.equal(settled, false, "the wait for completion ended while the instance was parked on its Gate activity");
    held.open();
    const st = await waiting;
    h.assertStatus(st, S.COMPLETED);
    assert.equal(st.serializedOutput, '"Hello, waiter!"');
  });

  // The SDK turns a response with exists=false into `undefined`; a NOT_FOUND error is accepted too.
  for (const [wait, call] of [
    ["waitForOrchestrationStart", (id) => client.waitForOrchestrationStart(id, false, 10)],
    ["waitForOrchestrationCompletion", (id) => client.waitForOrchestrationCompletion(id, true, 10)],
  ]) {
    scenario(`wait: ${wait} on an unknown instance answers promptly: not found`, 15_000, async (r) => {
      const began = Date.now();
      let outcome;
      try {
        const st = await h.unrefTimers(() => call(r.id("nobody")));
        outcome = st === undefined ? "undefined" : `resolved ${h.show(st)}`;
      } catch (e) {
        outcome = e.code === h.GRPC_NOT_FOUND ? "NOT_FOUND" : `rejected ${e}`;
      }
      const took = Date.now() - began;
      r.t.diagnostic(`${wait}(unknown instance): ${outcome} after ${took} ms`);
      assert.ok(outcome === "undefined" || outcome === "NOT_FOUND", `${wait}(unknown instance): ${outcome}`);
      assert.ok(took < 3000, `${wait}(unknown instance) took ${took} ms to answer`);
    });
  }

  scenario("wait: getOrchestrationState of an unknown instance is undefined", 10_000, async (r) => {
    assert.equal(await client.getOrchestrationState(r.id("nobody")), undefined);
  });

  // -------------------------------------------------------------------------------------------
  // instance IDs and scheduled starts

  scenario("duplicate-id: starting a running instance's ID again is refused (ALREADY_EXISTS)", 30_000, async (r) => {
    const id = await r.start("WaitForever");
    await r.waiting(id);
    await h.rejectsWith(r.start("SingleActivity", "again", { instanceId: id }), h.GRPC_ALREADY_EXISTS, "starting a running instance's ID");
    const st = await r.state(id);
    h.assertStatus(st, S.RUNNING);
    assert.equal(st.name, "WaitForever", "the refused start replaced the running instance");
    await client.terminateOrchestration(id);
  });

  scenario("duplicate-id: a completed instance's ID can be started again and runs anew", 30_000, async (r) => {
    const id = await r.start("SingleActivity", "first");
    h.assertStatus(await r.finished(id), S.COMPLETED);
    await r.start("SingleActivity", "second", { instanceId: id });
    const st = await r.until(id, "the second run to complete", (x) => x.serializedOutput === '"Hello, second!"');
    h.assertStatus(st, S.COMPLETED);
    assert.equal(st.serializedInput, '"second"');
  });

  h.unsupported(
    "duplicate-id: an ID reuse policy (terminate or ignore the running instance)",
    "CreateInstanceRequest in 1.0.0's proto has no orchestrationIdReusePolicy, and scheduleNewOrchestration no option for it",
  );

  scenario("scheduled-start: a start time 2 s ahead is honoured (PENDING until then)", 30_000, async (r) => {
    const at = new Date(Date.now() + 2000);
    const id = await r.start("Now", undefined, { startAt: at });
    if (at.getTime() - Date.now() > 800) {
      // Checked only while there is time left, so that a slow machine cannot make this flaky.
      h.assertStatus(await r.state(id), S.PENDING);
    }
    const st = await r.finished(id);
    h.assertStatus(st, S.COMPLETED);
    assert.ok(Date.now() >= at.getTime(), `completed before its scheduled start ${at.toISOString()}`);
    assert.ok(Date.parse(h.result(st)) >= at.getTime() - 10, `ran at ${h.result(st)}, before its scheduled start ${at.toISOString()}`);
  });

  scenario("scheduled-start: no start time (the SDK sends the Unix epoch) starts at once; the clock reads now", 30_000, async (r) => {
    const before = Date.now();
    const st = await r.finished(await r.start("Now"));
    const done = Date.now();
    h.assertStatus(st, S.COMPLETED);
    const ranAt = Date.parse(h.result(st));
    assert.ok(ranAt >= before - 2000 && ranAt <= done + 2000, `currentUtcDateTime ${h.result(st)}, scheduled at ${new Date(before).toISOString()}`);
    assert.ok(done - before < 5000, `an instance without a start time took ${done - before} ms`);
  });

  scenario("scheduled-start: an instance scheduled for later can be terminated before it starts", 30_000, async (r) => {
    const id = await r.start("Now", undefined, { startAt: new Date(Date.now() + 30_000) });
    h.assertStatus(await r.state(id), S.PENDING);
    await client.terminateOrchestration(id, "never started");
    const st = await r.finished(id);
    h.assertStatus(st, S.TERMINATED);
    assert.equal(st.serializedOutput, '"never started"');
  });

  // -------------------------------------------------------------------------------------------
  // what 1.0.0 cannot express

  h.unsupported(
    "versioning: workflow versions and isPatched",
    "1.0.0 has no workflow versions or patches: OrchestrationContext has no version or isPatched, its OrchestratorResponse no version field",
  );
  h.unsupported(
    "rerun: rerun a workflow from an event (RerunWorkflowFromEvent)",
    "TaskHubGrpcClient 1.0.0 has no rerun, and its proto/orchestrator_service.proto no RerunWorkflowFromEvent RPC",
  );
  h.unsupported(
    "cross-app: an activity or child workflow routed to another app ID",
    "callActivity and callSubOrchestrator take no app ID in 1.0.0, and its proto has no TaskRouter",
  );
  h.unsupported("query: list or query instances", "TaskHubGrpcClient 1.0.0 has no listing or query method (nor ListInstanceIDs in its proto)");
  h.unsupported("history: read an instance's history", "TaskHubGrpcClient 1.0.0 has no history method (nor GetInstanceHistory in its proto)");
  h.unsupported("send-event: one workflow raises an event on another", "OrchestrationContext 1.0.0 has no sendEvent");
  h.unsupported("rewind: rewind a failed instance", "TaskHubGrpcClient 1.0.0 has no rewind method");
  h.unsupported("restart: restart an instance", "TaskHubGrpcClient 1.0.0 has no restart method");
  h.unsupported("tags: instance and task tags", "no tags in 1.0.0's client, context or proto");
  h.unsupported("entities: durable entities", "1.0.0 has no entity API (Dapr workflows have none)");
});
