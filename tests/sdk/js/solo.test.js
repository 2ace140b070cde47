// Scenarios that need the emulator to themselves: they run one at a time, after scenarios.test.js
// has finished and its worker has gone (tests/sdk_js_runner.py runs this file second, in its own
// `node --test`; `npm test` relies on node running files in name order with --test-concurrency=1).
//
// - work-item filters: a worker without filters takes any work item, so no other worker may be
//   connected;
// - purge by filter: the filter (a created-time window and statuses) has no instance-ID prefix,
//   so it would purge other scenarios' instances created in the same window;
// - cleanEntityStorage: it removes every empty entity and releases every orphaned lock;
// - task hubs: an instance on the default hub must stay pending, so no default-hub worker may be
//   connected.
"use strict";

const assert = require("node:assert/strict");
const { after, describe } = require("node:test");
const { EntityInstanceId, OrchestrationStatus: S, PurgeInstanceCriteria, TaskEntity } = require("@microsoft/durabletask-js");
const h = require("./helpers");

const client = h.newClient();
const scenario = (name, timeoutMs, fn) => h.scenario(client, name, timeoutMs, fn);

/** An entity that records which worker ran its operations. */
const tally = (who) => () =>
  new (class extends TaskEntity {
    add() {
      this.state.by.push(who);
    }
    initializeState() {
      return { by: [] };
    }
  })();

/** Starts workers, runs fn, and stops them whatever happens. */
async function withWorkers(workers, fn) {
  const started = [];
  try {
    for (const w of workers) {
      await w.start();
      started.push(w);
    }
    return await fn();
  } finally {
    await Promise.allSettled(started.map((w) => w.stop()));
  }
}

describe("durabletask-js against the emulator, one scenario at a time", { concurrency: 1 }, () => {
  after(async () => {
    await h.terminateLeftovers(client).catch(() => {});
    await client.stop();
  });

  scenario("work-item-filters: each worker receives only the orchestrations, activities and entities its filters name", 60_000, async (s) => {
    const label = (who) => () => who;
    const filtered = async function* (ctx) {
      const a = yield ctx.callActivity("RunsOnA");
      const b = yield ctx.callActivity("RunsOnB");
      return [a, b];
    };
    // Worker A has everything registered but its explicit filters name only FilteredOrch and
    // RunsOnA; worker B has only RunsOnB and the Tally entity, with filters generated from its
    // registry ("auto").
    const a = h.newWorker({
      workItemFilters: {
        orchestrations: [{ name: "FilteredOrch" }, { name: "Versioned", versions: ["1.0"] }],
        activities: [{ name: "RunsOnA" }],
        entities: [],
      },
    });
    h.register(a, {
      orchestrators: { FilteredOrch: filtered, Unclaimed: async () => "ran", Versioned: async (ctx) => ctx.version },
      activities: { RunsOnA: label("A"), RunsOnB: label("A") },
      entities: { Tally: tally("A") },
    });
    const b = h.newWorker({ workItemFilters: "auto" });
    h.register(b, { activities: { RunsOnB: label("B") }, entities: { Tally: tally("B") } });
    const entity = new EntityInstanceId("Tally", s.id());

    await withWorkers([a, b], async () => {
      // Unclaimed and Versioned 2.0 are scheduled first: every later work item was dispatched while they waited.
      const unclaimed = await s.start("Unclaimed", undefined, { suffix: "unclaimed" });
      const v2 = await s.start("Versioned", undefined, { suffix: "v2", version: "2.0" });
      const v1 = await s.start("Versioned", undefined, { suffix: "v1", version: "1.0" });
      const v1State = await s.waitDone(v1);
      h.expectStatus(v1State, S.COMPLETED);
      h.expectOutput(v1State, '"1.0"');
      const ids = [];
      for (let i = 0; i < 6; i++) {
        ids.push(await s.start("FilteredOrch", undefined, { suffix: `${i}` }));
      }
      for (const id of ids) {
        const st = await s.waitDone(id);
        h.expectStatus(st, S.COMPLETED);
        assert.deepEqual(h.output(st), ["A", "B"], `${id}: RunsOnA must run on worker A and RunsOnB on worker B`);
      }
      for (let i = 0; i < 4; i++) {
        await client.signalEntity(entity, "add");
      }
      let last;
      for (const deadline = Date.now() + 15_000; ; ) {
        last = await client.getEntity(entity);
        if (last?.state?.by?.length === 4) {
          break;
        }
        assert.ok(Date.now() < deadline, `the Tally entity never got its 4 signals: ${JSON.stringify(last)}`);
        await h.sleep(25);
      }
      assert.deepEqual(last.state.by, ["B", "B", "B", "B"], "Tally operations must run on worker B (worker A's entity filter is empty)");
      h.expectStatus(await s.fetch(unclaimed), S.PENDING); // no worker's filters name Unclaimed
      h.expectStatus(await s.fetch(v2), S.PENDING); // worker A's filter names Versioned 1.0 only
      await client.terminateOrchestration(unclaimed);
      await client.terminateOrchestration(v2);
    });
  });

  scenario("taskhub: a client and worker sending a taskhub header are isolated from the default hub both ways", 60_000, async (s) => {
    const hub = `js-hub-${h.RUN_ID}`;
    const hubClient = h.newClient(h.onTaskHub(hub));
    const hubWorker = h.newWorker(h.onTaskHub(hub));
    h.register(hubWorker, {
      orchestrators: {
        HubGreeting: async function* (ctx, name) {
          return yield ctx.callActivity("HubHello", name);
        },
      },
      activities: { HubHello: (_ctx, name) => `Hello from ${hub}, ${name}!` },
    });
    const id = s.id();
    try {
      await withWorkers([hubWorker], async () => {
        // 1. Started on the hub, run by the hub's worker; the default hub has no such instance.
        assert.equal(await hubClient.scheduleNewOrchestration("HubGreeting", "one", { instanceId: id }), id);
        const done = await hubClient.waitForOrchestrationCompletion(id, true, 20);
        h.expectStatus(done, S.COMPLETED);
        h.expectOutput(done, JSON.stringify(`Hello from ${hub}, one!`));
        assert.equal(await client.getOrchestrationState(id), undefined, `the default hub sees the ${hub} instance ${id}`);

        // 2. The same ID on the default hub (no default-hub worker is connected): the hub's worker,
        // still serving its own hub, never receives it.
        assert.equal(await client.scheduleNewOrchestration("HubGreeting", "two", { instanceId: id }), id);
        const second = await hubClient.scheduleNewOrchestration("HubGreeting", "three", { instanceId: s.id("after") });
        h.expectOutput(await hubClient.waitForOrchestrationCompletion(second, true, 20), JSON.stringify(`Hello from ${hub}, three!`));
        await h.sleep(200);
        h.expectStatus(await s.fetch(id), S.PENDING);
        const hubSide = await hubClient.getOrchestrationState(id, true);
        h.expectStatus(hubSide, S.COMPLETED);
        assert.equal(hubSide.serializedInput, '"one"', `the default hub's start replaced the ${hub} instance: ${h.describeState(hubSide)}`);

        // The hub's queries list only its own instances.
        const listed = [];
        for await (const st of hubClient.getAllInstances({ instanceIdPrefix: h.ID_PREFIX })) {
          listed.push(st.instanceId);
        }
        assert.deepEqual(listed.sort(), [id, second].sort(), `${hub} lists ${JSON.stringify(listed)}`);
      });
    } finally {
      await client.terminateOrchestration(id).catch(() => {});
      await client.waitForOrchestrationCompletion(id, false, 10).catch(() => {});
      await client.purgeOrchestration(id).catch(() => {});
      await hubClient.stop();
    }
    assert.equal(await client.getOrchestrationState(id), undefined, `${id} was not purged from the default hub`);
  });

  scenario("purge: purge by filter (created-time window and statuses) removes only the matching instances", 60_000, async (s) => {
    const w = h.newWorker();
    h.register(w, {
      orchestrators: {
        Echo: async (_ctx, x) => x,
        Fails: async () => {
          throw new Error("failed on purpose");
        },
        Waits: async function* (ctx) {
          ctx.setCustomStatus("waiting");
          yield ctx.waitForExternalEvent("never");
        },
      },
    });
    await withWorkers([w], async () => {
      const from = new Date(Date.now() - 1);
      const completed = [];
      for (let i = 0; i < 3; i++) {
        completed.push(await s.start("Echo", i, { suffix: `completed-${i}` }));
      }
      const failed = await s.start("Fails", undefined, { suffix: "failed" });
      const running = await s.start("Waits", undefined, { suffix: "running" });
      const to = new Date(Date.now() + 1);
      for (const id of completed) {
        h.expectStatus(await s.waitDone(id), S.COMPLETED);
      }
      h.expectStatus(await s.waitDone(failed), S.FAILED);
      await s.waiting(running);

      const onlyCompleted = new PurgeInstanceCriteria();
      onlyCompleted.setCreatedTimeFrom(from);
      onlyCompleted.setCreatedTimeTo(to);
      onlyCompleted.setRuntimeStatusList([S.COMPLETED]);
      onlyCompleted.setTimeout(20_000);
      const purged = await client.purgeOrchestration(onlyCompleted);
      assert.equal(purged?.deletedInstanceCount, 3, `status COMPLETED in the window: ${JSON.stringify(purged)}`);
      for (const id of completed) {
        assert.equal(await client.getOrchestrationState(id), undefined, `${id} was not purged`);
      }
      h.expectStatus(await s.fetch(failed), S.FAILED);

      const anyStatus = new PurgeInstanceCriteria();
      anyStatus.setCreatedTimeFrom(from);
      anyStatus.setCreatedTimeTo(to);
      anyStatus.setTimeout(20_000);
      const rest = await client.purgeOrchestration(anyStatus);
      assert.equal(rest?.deletedInstanceCount, 1, `any status in the window (the failed one; not the running one): ${JSON.stringify(rest)}`);
      assert.equal(await client.getOrchestrationState(failed), undefined, `${failed} was not purged`);
      h.expectStatus(await s.fetch(running), S.RUNNING);
      await client.terminateOrchestration(running);
    });
  });

  scenario("entities: a lock held by a terminated orchestration is released (at termination or by cleanEntityStorage)", 60_000, async (s) => {
    const w = h.newWorker();
    h.register(w, {
      orchestrators: {
        HoldLock: async function* (ctx, key) {
          yield ctx.entities.lockEntities(new EntityInstanceId("Counter", key));
          ctx.setCustomStatus("waiting");
          yield ctx.waitForExternalEvent("never");
        },
      },
      entities: {
        Counter: () =>
          new (class extends TaskEntity {
            add(n) {
              this.state.count += n;
              return this.state.count;
            }
            initializeState() {
              return { count: 0 };
            }
          })(),
      },
    });
    await withWorkers([w], async () => {
      const key = s.id();
      const entity = new EntityInstanceId("Counter", key);
      const getCount = async () => (await client.getEntity(entity))?.state?.count;
      await client.signalEntity(entity, "add", 1);
      for (const deadline = Date.now() + 15_000; (await getCount()) !== 1; ) {
        assert.ok(Date.now() < deadline, "the first signal never arrived");
        await h.sleep(25);
      }
      const holder = await s.start("HoldLock", key);
      await s.waiting(holder);
      assert.equal((await client.getEntity(entity))?.lockedBy, holder, "the entity is not locked by the holder");
      await client.terminateOrchestration(holder);
      h.expectStatus(await s.waitDone(holder), S.TERMINATED);

      s.log(`after the holder was terminated, lockedBy is ${JSON.stringify((await client.getEntity(entity))?.lockedBy ?? null)}`);
      const cleaned = await client.cleanEntityStorage({ removeEmptyEntities: true, releaseOrphanedLocks: true });
      s.log(`cleanEntityStorage after the lock holder was terminated: ${JSON.stringify(cleaned)}`);
      const after = await client.getEntity(entity);
      assert.equal(after?.lockedBy, undefined, `the terminated orchestration still holds the lock: ${JSON.stringify(after)}`);
      // Unlocked: a new signal is processed.
      await client.signalEntity(entity, "add", 1);
      for (const deadline = Date.now() + 15_000; (await getCount()) !== 2; ) {
        assert.ok(Date.now() < deadline, "the entity never processed a signal after its lock was released");
        await h.sleep(25);
      }
    });
  });
});
