// The describe() of each test file: one client and one started worker (every workflow and activity
// of workflows.js) on the emulator's Dapr port for the file's scenarios, and at the end the
// instances left running terminated, then the worker and client stopped.
"use strict";

const { after, before, describe } = require("node:test");
const h = require("./helpers");
const { activities, orchestrators } = require("./workflows");

/** describe(title, {concurrency}); `declare(client, scenario)` declares the scenarios. */
function onDaprPort(title, concurrency, declare) {
  const client = h.newClient();
  const worker = h.newWorker({ orchestrators, activities });
  describe(title, { concurrency }, () => {
    before(() => worker.start());
    after(async () => {
      h.openAllGates();
      const left = await h.terminateLeftovers(client).catch((e) => [`(could not check: ${e})`]);
      if (left.length > 0) {
        process.stderr.write(`${title}: terminated what was still going at the end: ${left.join(", ")}\n`);
      }
      await worker.stop();
      await client.stop();
    });
    declare(client, (name, timeoutMs, body) => h.scenario(client, name, timeoutMs, body));
  });
}

module.exports = { onDaprPort };
