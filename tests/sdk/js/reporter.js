// A node:test reporter that writes one JSON object per line, for tests/sdk_js_runner.py.
//
//   {"kind": "started", "name": "..."}   (a scenario began running)
//   {"kind": "scenario", "name": "...", "outcome": "pass" | "fail" | "skip", "skip": "<reason>",
//    "error": "<text>", "duration_ms": 12.3, "diagnostics": ["..."]}
//   {"kind": "output", "text": "..."}    (everything that belongs to no scenario)
//
// A scenario is a test directly inside a file's top-level describe() (nesting 1). Node reports a
// test's diagnostics (t.diagnostic) right after its pass/fail event, at the same nesting, so they
// are attached to the test reported last.
"use strict";

const path = require("node:path");
const util = require("node:util");

function errorText(error) {
  if (!error) {
    return "";
  }
  if (error.failureType === "testTimeoutFailure") {
    return String(error.cause ?? error.message);
  }
  const cause = error.cause ?? error;
  return typeof cause === "string" ? cause : util.inspect(cause, { depth: 6, breakLength: 120 });
}

module.exports = async function* jsonLinesReporter(source) {
  let last = null; // the scenario reported last, until its diagnostics have been read
  const flush = function* () {
    if (last) {
      yield JSON.stringify(last) + "\n";
      last = null;
    }
  };
  for await (const event of source) {
    const data = event.data ?? {};
    const file = data.file ? path.basename(data.file) : undefined;
    switch (event.type) {
      case "test:pass":
      case "test:fail": {
        yield* flush();
        if (data.nesting === 1) {
          const skipped = data.skip !== undefined && data.skip !== false;
          last = {
            kind: "scenario",
            name: data.name,
            outcome: event.type === "test:fail" ? "fail" : skipped ? "skip" : "pass",
            skip: skipped ? String(data.skip === true ? "" : data.skip) : undefined,
            error: event.type === "test:fail" ? errorText(data.details?.error) : undefined,
            duration_ms: data.details?.duration_ms,
            diagnostics: [],
          };
        } else if (event.type === "test:fail" && data.nesting === 0) {
          // A failed describe() or file: its hooks, a load error, subtests that failed.
          const text = errorText(data.details?.error);
          yield JSON.stringify({ kind: "output", text: `${file ?? ""}: ${data.name}: ${text}\n` }) + "\n";
        }
        break;
      }
      case "test:diagnostic":
        if (last && data.nesting === 1) {
          last.diagnostics.push(data.message);
        } else {
          yield* flush();
          yield JSON.stringify({ kind: "output", text: `# ${data.message}\n` }) + "\n";
        }
        break;
      case "test:dequeue":
        if (data.nesting === 1) {
          yield JSON.stringify({ kind: "started", name: data.name }) + "\n";
        }
        break;
      case "test:stdout":
      case "test:stderr":
        yield JSON.stringify({ kind: "output", text: data.message ?? "" }) + "\n";
        break;
      default:
        break;
    }
  }
  yield* flush();
};
