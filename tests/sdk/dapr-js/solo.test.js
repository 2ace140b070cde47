// Scenarios that need the emulator's Dapr port to themselves, run after scenarios.test.js (the
// runner runs this file second, in its own `node --test`): a purge by filter names a created-time
// window and statuses but no instance-ID prefix, so it would purge other scenarios' instances.
"use strict";

const assert = require("node:assert/strict");
const { onDaprPort } = require("./suite");
const h = require("./helpers");

const S = h.S;

/** Purges by created-time window and statuses (the SDK's own timeout: 20 s). */
function purgeWhere(client, from, to, statuses) {
  const criteria = new h.sdk.PurgeInstanceCriteria();
  criteria.setCreatedTimeFrom(from);
  criteria.setCreatedTimeTo(to);
  criteria.setRuntimeStatusList(statuses);
  criteria.setTimeout(20_000);
  return h.unrefTimers(() => client.purgeOrchestration(criteria));
}

/** Waits until the clock has moved past `t` (creation times are compared with it). */
async function clockPast(t) {
  while (Date.now() <= t + 5) {
    await h.pause(5);
  }
}

onDaprPort("@dapr/durabletask-js against the emulator's Dapr port, one scenario at a time", 1, (client, scenario) => {
  scenario("purge: by a filter (created-time window and statuses); running and out-of-window instances stay", 60_000, async (r) => {
    const from = new Date();
    await clockPast(from.getTime());
    const done = await r.start("SingleActivity", "filtered", { suffix: "done" });
    const failed = await r.start("CallsFailing", undefined, { suffix: "failed" });
    const running = await r.start("WaitForever", undefined, { suffix: "running" });
    h.assertStatus(await r.finished(done), S.COMPLETED);
    h.assertStatus(await r.finished(failed), S.FAILED);
    await r.waiting(running);
    const to = new Date();
    await clockPast(to.getTime());
    const later = await r.start("SingleActivity", "later", { suffix: "later" });
    h.assertStatus(await r.finished(later), S.COMPLETED);

    const purged = await purgeWhere(client, from, to, [S.COMPLETED, S.FAILED, S.TERMINATED]);
    assert.equal(purged?.deletedInstanceCount, 2, `purge by filter: ${JSON.stringify(purged)}`);
    for (const id of [done, failed]) {
      assert.equal(await client.getOrchestrationState(id), undefined, `${id} was not purged`);
    }
    h.assertStatus(await r.state(running), S.RUNNING);
    h.assertStatus(await r.state(later), S.COMPLETED);

    // The same window with only RUNNING purges nothing: only finished instances can be purged.
    const none = await purgeWhere(client, from, to, [S.RUNNING]);
    assert.equal(none?.deletedInstanceCount ?? 0, 0, `purging RUNNING instances: ${JSON.stringify(none)}`);
    h.assertStatus(await r.state(running), S.RUNNING);
    await client.terminateOrchestration(running);
    h.assertStatus(await r.finished(running), S.TERMINATED);
    const rest = await purgeWhere(client, from, new Date(Date.now() + 1000), [S.COMPLETED, S.TERMINATED]);
    assert.equal(rest?.deletedInstanceCount, 2, `the terminated instance and the later one: ${JSON.stringify(rest)}`);
    assert.equal(await client.getOrchestrationState(later), undefined);
  });
});
