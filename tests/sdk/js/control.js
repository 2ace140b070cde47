// The emulator's control service (durabletask.emulator.v1.EmulatorControl), beside the Durable
// Task service on the same port: a task hub's clock (GetTime, AdvanceTime, SetTimeSkipping) and
// ResetTaskHub. The stubs come from the .proto itself, loaded with @grpc/proto-loader:
// DTEMU_CONTROL_PROTO names it (tests/sdk_process.py sets it; `durabletask-emulator proto >
// control.proto` prints it), else the repository's copy. Requests name the hub in the message
// (`task_hub`), not in a taskhub header.
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const protoLoader = require("@grpc/proto-loader");
const { ADDRESS, grpc } = require("./helpers");

const PROTO =
  process.env.DTEMU_CONTROL_PROTO || path.resolve(__dirname, "..", "..", "..", "emulator", "control", "control.proto");

let stub;

function control() {
  if (!stub) {
    if (!fs.existsSync(PROTO)) {
      const how = "set DTEMU_CONTROL_PROTO (durabletask-emulator proto > control.proto)";
      throw new Error(`the control service's .proto is not at ${PROTO}: ${how}`);
    }
    // keepCase: the fields as the .proto spells them (task_hub, time_skipping); longs as strings.
    const definition = protoLoader.loadSync(PROTO, { keepCase: true, longs: String, enums: String, defaults: true });
    const { EmulatorControl } = grpc.loadPackageDefinition(definition).durabletask.emulator.v1;
    stub = new EmulatorControl(ADDRESS, grpc.credentials.createInsecure());
  }
  return stub;
}

/** One unary call, as a promise (a grpc-js error, with its numeric `code` and `details`, on failure). */
function call(method, request) {
  return new Promise((resolve, reject) => {
    control()[method](request, { deadline: Date.now() + 10_000 }, (error, reply) => (error ? reject(error) : resolve(reply)));
  });
}

/** google.protobuf.Duration from seconds (seconds and nanos share the sign, as the type requires). */
function duration(seconds) {
  const whole = Math.trunc(seconds);
  return { seconds: String(whole), nanos: Math.round((seconds - whole) * 1e9) };
}

const toSeconds = (d) => Number(d?.seconds ?? 0) + (d?.nanos ?? 0) / 1e9;

/** A TimeResponse as {taskHub, now: Date, offsetSeconds, timeSkipping}. */
function time(reply) {
  return {
    taskHub: reply.task_hub,
    now: new Date(toSeconds(reply.now) * 1000),
    offsetSeconds: toSeconds(reply.offset),
    timeSkipping: reply.time_skipping,
  };
}

/** The hub's clock (its virtual time: wall time plus what was advanced or skipped). */
async function getTime(hub) {
  return time(await call("GetTime", { task_hub: hub }));
}

/** Moves the hub's clock forward by `seconds`, firing every timer that comes due; the new time. */
async function advanceTime(hub, seconds) {
  return time(await call("AdvanceTime", { task_hub: hub, duration: duration(seconds) }));
}

/** Turns time skipping on or off for the hub (creating the hub if it is new); its time. */
async function setTimeSkipping(hub, on) {
  return time(await call("SetTimeSkipping", { task_hub: hub, enabled: on }));
}

/** Forgets the hub's instances, entities, queued work and timers (its clock stays where it is). */
async function resetTaskHub(hub) {
  await call("ResetTaskHub", { task_hub: hub });
}

function closeControl() {
  if (stub) {
    stub.close();
    stub = undefined;
  }
}

module.exports = { PROTO, advanceTime, closeControl, getTime, resetTaskHub, setTimeSkipping };
