"""Benchmarks: our emulator beside the SDK's bundled `durabletask.testing` backend, in one run.

Each backend runs in its own process (``--serve ours|theirs``); workloads run against both,
alternating A/B/A/B, and one table of medians (min-max) with the ratio us/them is printed.
Server CPU comes from /proc via psutil, so it is what the backend itself costs.

    scripts/bench                       # everything, 3 rounds
    scripts/bench --only hello,raw --rounds 5
    scripts/bench --quick               # small sizes, 1 round: a smoke run
    scripts/bench --only raw --taskhub bench   # every call (client and worker) names task hub "bench"
    scripts/bench --only raw --backends ours,ours@bench   # the header's cost, A/B in one run
    scripts/bench --console --only hello,chain,raw,start   # `start` with the live console vs --no-console
    scripts/bench --only unary,sequential --rounds 5   # unary RPCs; sequential latency and where it goes
    scripts/bench --only hello,unary --contended       # each measurement also with a CPU burner per core
    scripts/bench --only floor --backends empty-aio,empty-sync   # the transports alone: empty servers
    scripts/bench --only floor --backends empty-uvloop,empty-sync --contended   # ... on uvloop, also on a busy machine
    scripts/bench --only hello,sequential --backends ours,ours-asyncio   # uvloop vs asyncio's loop
    scripts/bench --only hello,timers --pin   # the SDK's process on one CPU, the server on another
    scripts/bench --only timers,timers_paced --own-session   # each server in a session of its own
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta, timezone
from multiprocessing import Process, Value

# grpc's core logs at INFO unless told otherwise, e.g. a "Got goaway" line for every client still
# connected when a server stops, which buries the progress lines and the table. It reads this
# when grpc is imported, and the servers (child processes) inherit it.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

import grpc
import psutil
from durabletask import task
from durabletask.client import TaskHubGrpcClient
from durabletask.internal import orchestrator_service_pb2 as pb
from durabletask.internal import orchestrator_service_pb2_grpc as stubs
from durabletask.worker import TaskHubGrpcWorker
from google.protobuf import empty_pb2, wrappers_pb2

BACKENDS = ("ours", "theirs")
# ours-sqlite: our emulator with the SQLite store. ours-console / ours-no-console: the real
# `durabletask-emulator start` command at its default log level, with the live console on a
# pseudo-terminal, or with --no-console and stderr to /dev/null (the cheapest place for log lines).
# ours-asyncio: our emulator on asyncio's own event loop instead of uvloop (--event-loop asyncio).
CHOICES = (
    "ours",
    "theirs",
    "ours-sqlite",
    "ours-asyncio",
    "ours-console",
    "ours-no-console",
    "empty-aio",
    "empty-uvloop",
    "empty-sync",
)
# empty-aio / empty-sync: the transport alone, the floor under each backend. A server of the kind
# each backend is built on (grpc.aio, as ours; grpc.server on a 10-thread pool, as the bundled
# backend) that answers Hello and nothing else, with the same method registration. empty-uvloop:
# the grpc.aio one on uvloop, as our server runs by default.
EMPTY = ("empty-aio", "empty-uvloop", "empty-sync")
CLI_BACKENDS = ("ours-console", "ours-no-console")
TERMINAL = (40, 140)  # rows, columns of the console's pseudo-terminal
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
# A backend may be spelled NAME@HUB (e.g. ours@bench): the same backend, every call sending `taskhub: HUB`.


def _backend(spec: str) -> tuple[str, str | None]:
    """``"ours@bench"`` -> ``("ours", "bench")``; ``"ours"`` -> ``("ours", None)``."""
    which, _, hub = spec.partition("@")
    return which, hub or None


class Stalled(Exception):
    """A workload did not finish within its time limit."""


# ---------------------------------------------------------------- hosting a backend


def _empty_handler(hello) -> grpc.GenericRpcHandler:
    method = grpc.unary_unary_rpc_method_handler(
        hello, request_deserializer=empty_pb2.Empty.FromString, response_serializer=empty_pb2.Empty.SerializeToString
    )
    return grpc.method_handlers_generic_handler("TaskHubSidecarService", {"Hello": method})


def serve_empty(which: str, port: int) -> None:
    """An empty server of one kind (see EMPTY), until SIGTERM."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if which == "empty-sync":
        server = grpc.server(ThreadPoolExecutor(max_workers=10))
        server.add_generic_rpc_handlers((_empty_handler(lambda request, context: empty_pb2.Empty()),))
        server.add_insecure_port(f"localhost:{port}")
        server.start()
        print("ready", flush=True)
        stop.wait()
        server.stop(None)
        return
    import asyncio

    async def hello(request, context):
        return empty_pb2.Empty()

    async def main() -> None:
        server = grpc.aio.server()
        server.add_generic_rpc_handlers((_empty_handler(hello),))
        server.add_insecure_port(f"localhost:{port}")
        await server.start()
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, stop.wait)
        await server.stop(None)

    from emulator.server import new_event_loop  # the same choice of loop as our server's

    loop = new_event_loop("uvloop" if which == "empty-uvloop" else "asyncio")
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()


def serve(which: str, port: int) -> None:
    """Run one backend in this process until SIGTERM (the harness starts this as a subprocess)."""
    if which in EMPTY:
        serve_empty(which, port)
        return
    if which == "theirs":
        from durabletask.testing import InMemoryOrchestrationBackend  # the competitor, measured only

        backend = InMemoryOrchestrationBackend(port=port)
    else:
        import tempfile

        from emulator import Config, InMemoryOrchestrationBackend

        db = os.path.join(tempfile.mkdtemp(), "bench.db") if which == "ours-sqlite" else None
        loop = "asyncio" if which == "ours-asyncio" else "auto"
        backend = InMemoryOrchestrationBackend(port=port, db_path=db, config=Config(event_loop=loop))
    backend.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("ready", flush=True)
    stop.wait()
    backend.stop()


def _switches(pid: int) -> int:
    """Voluntary context switches of all of a process's threads (each a thread that blocked and
    was woken: a hand-off between threads, or a wait for I/O). psutil counts the main thread only."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("voluntary_ctxt_switches"))
        except (OSError, StopIteration):
            pass  # a thread that ended meanwhile
    return total


#: ``--pin``: the CPU our backends run on (the driver, this process, keeps to DRIVER_CPU); None: unpinned.
SERVER_CPU: int | None = None
DRIVER_CPU = 0


def pin_driver() -> None:
    """Keep this process (the SDK clients and workers: one interpreter, one GIL) to DRIVER_CPU,
    every thread it has and every thread it will make; servers go to another CPU (SERVER_CPU)."""
    global DRIVER_CPU, SERVER_CPU
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        raise SystemExit("--pin needs two CPUs: one for the driver, one for the server")
    DRIVER_CPU, SERVER_CPU = cpus[0], cpus[1]
    for tid in os.listdir("/proc/self/task"):
        os.sched_setaffinity(int(tid), {DRIVER_CPU})


#: ``--own-session``: start servers in a session of their own (setsid), as one started from its
#: own terminal is. Linux with autogroups (sched_autogroup_enabled) then shares the CPUs between
#: the sessions, not between the threads of both processes: see docs/benchmarks.md.
OWN_SESSION = False


def _start_server(command: list[str], **popen) -> subprocess.Popen:
    """A server process as the options ask: under ``taskset`` to SERVER_CPU when pinning (its
    threads inherit the mask), in a session of its own with ``--own-session``."""
    if SERVER_CPU is not None:
        command = ["taskset", "-c", str(SERVER_CPU), *command]
    return subprocess.Popen(command, start_new_session=OWN_SESSION, **popen)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, which: str, taskhub: str | None = None):
        self.which = which
        # gRPC metadata every workload sends on every call (client, worker and raw-driver streams)
        self.metadata = [("taskhub", taskhub)] if taskhub else None
        self.port = _free_port()
        self.address = f"localhost:{self.port}"
        self.terminal = None
        if which in CLI_BACKENDS:
            self._start_cli(console=which == "ours-console")
        else:
            self.proc = _start_server(
                [sys.executable, __file__, "--serve", which, "--port", str(self.port)],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            assert self.proc.stdout.readline().strip() == "ready"
        with grpc.insecure_channel(self.address) as channel:
            grpc.channel_ready_future(channel).result(timeout=30)
        self.ps = psutil.Process(self.proc.pid)
        if OWN_SESSION and os.getsid(self.proc.pid) == os.getsid(0):
            raise SystemExit(f"--own-session: the {which} server is in this process's session")

    def _start_cli(self, console: bool) -> None:
        """`durabletask-emulator start`: under a pseudo-terminal (console on, as in a terminal) or --no-console."""
        command = [sys.executable, "-m", "emulator", "start", "--host", "localhost", "--port", str(self.port)]
        env = {**os.environ, "LINES": str(TERMINAL[0]), "COLUMNS": str(TERMINAL[1]), "TERM": "xterm-256color"}
        if console:
            import fcntl
            import pty
            import struct
            import termios

            main_fd, child_fd = pty.openpty()
            fcntl.ioctl(child_fd, termios.TIOCSWINSZ, struct.pack("HHHH", *TERMINAL, 0, 0))
            self.proc = _start_server(
                [*command, "--console"],
                stdin=child_fd,
                stdout=child_fd,
                stderr=child_fd,
                env=env,
                close_fds=True,
            )
            os.close(child_fd)
            self.terminal = Terminal(main_fd)
            self.terminal.wait_for(b"Recently changed instances")  # the live view is up: we measure with it
        else:
            self.proc = _start_server(
                [*command, "--no-console"],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                env=env,
            )
            assert "listening on " in self.proc.stdout.readline()

    def cpu(self) -> float:
        t = self.ps.cpu_times()
        return t.user + t.system

    def switches(self) -> int:
        return _switches(self.proc.pid)

    def rss(self) -> int:
        return self.ps.memory_info().rss

    def close(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.terminal is not None:
            self.terminal.close()


class Terminal:
    """The harness's side of a pseudo-terminal: read all the time (a full pty would block the emulator)."""

    def __init__(self, fd: int):
        self.fd = fd
        self.tail = b""  # the last 64 KiB drawn, for wait_for and to check what was on the screen
        self.drawn = 0
        self.changed = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:  # EIO once the emulator has exited
                chunk = b""
            with self.changed:
                self.tail = (self.tail + chunk)[-65536:]
                self.drawn += len(chunk)
                self.changed.notify_all()
            if not chunk:
                return

    def wait_for(self, text: bytes, timeout: float = 30) -> None:
        with self.changed:
            if not self.changed.wait_for(lambda: text in self.tail or not self.reader.is_alive(), timeout):
                raise RuntimeError(f"{text!r} not on the console's terminal")
            if text not in self.tail:
                raise RuntimeError(f"the emulator exited before {text!r}: {self.tail[-2000:]!r}")

    def close(self) -> None:
        self.reader.join(timeout=10)
        os.close(self.fd)


# ---------------------------------------------------------------- SDK workloads


def echo(ctx, x):
    return x


def hello(ctx, x):
    return (yield ctx.call_activity(echo, input=x))


def chain(ctx, n):
    for i in range(n):
        yield ctx.call_activity(echo, input=i)
    return n


def fan_out(ctx, n):
    results = yield task.when_all([ctx.call_activity(echo, input=i) for i in range(n)])
    return len(results)


def sleeper(ctx, seconds):
    """How late after ``fireAt``: by the orchestration's clock (the time the backend stamped on the
    work item that carries TimerFired) and by the wall clock when this code runs after the timer
    (what a user's code feels; a benchmark may read it, replay would not need it to be the same)."""
    fire_at = ctx.current_utc_datetime + timedelta(seconds=seconds)
    yield ctx.create_timer(fire_at)
    ran = time.time() - fire_at.replace(tzinfo=timezone.utc).timestamp()
    return [(ctx.current_utc_datetime - fire_at).total_seconds(), ran]


# The SDK's clients and workers log every work item at INFO on loggers of their own, outside the
# logging hierarchy (29,000 lines in one run): every one here gets this logger, at ERROR.
QUIET = logging.getLogger("bench.sdk")
QUIET.setLevel(logging.ERROR)


def _sdk(server: Server):
    worker = TaskHubGrpcWorker(host_address=server.address, metadata=server.metadata, logger=QUIET)
    for o in (hello, chain, fan_out, sleeper):
        worker.add_orchestrator(o)
    worker.add_activity(echo)
    worker.start()
    return TaskHubGrpcClient(host_address=server.address, metadata=server.metadata, logger=QUIET), worker


def _wait_all(client, ids, deadline: float) -> list:
    states = []
    for iid in ids:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Stalled(f"{len(states)} of {len(ids)} completed")
        try:
            states.append(client.wait_for_orchestration_completion(iid, timeout=remaining))
        except TimeoutError:
            raise Stalled(f"{len(states)} of {len(ids)} completed") from None
    return states


def _pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def w_hello(server: Server, size: int, limit: float) -> dict:
    client, worker = _sdk(server)
    try:
        start = time.monotonic()
        ids = [client.schedule_new_orchestration(hello, input=i) for i in range(size)]
        states = _wait_all(client, ids, start + limit)
        wall = time.monotonic() - start
        latency = [(s.last_updated_at - s.created_at).total_seconds() * 1000 for s in states]
        return {"orch/s": size / wall, "p50 ms": _pct(latency, 50), "p99 ms": _pct(latency, 99)}
    finally:
        worker.stop()


def w_chain(server: Server, size: int, limit: float) -> dict:
    client, worker = _sdk(server)
    try:
        start = time.monotonic()
        ids = [client.schedule_new_orchestration(chain, input=10) for _ in range(size)]
        _wait_all(client, ids, start + limit)
        return {"activities/s": size * 10 / (time.monotonic() - start)}
    finally:
        worker.stop()


def w_fanout(server: Server, size: int, limit: float) -> dict:
    client, worker = _sdk(server)
    try:
        start = time.monotonic()
        _wait_all(client, [client.schedule_new_orchestration(fan_out, input=size)], start + limit)
        return {"wall s": time.monotonic() - start}
    finally:
        worker.stop()


def w_waiters(server: Server, size: int, limit: float) -> dict:
    client, worker = _sdk(server)
    done = []
    lock = threading.Lock()

    def one(i):
        c = TaskHubGrpcClient(host_address=server.address, metadata=server.metadata, logger=QUIET)
        try:
            iid = c.schedule_new_orchestration(hello, input=i)
            c.wait_for_orchestration_completion(iid, timeout=limit)
            with lock:
                done.append(i)
        except Exception:
            pass
        finally:
            c.close()

    try:
        start = time.monotonic()
        threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(size)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=max(0.0, start + limit + 5 - time.monotonic()))
        return {"completed": len(done), "wall s": time.monotonic() - start}
    finally:
        worker.stop()


def _output(state):
    return json.loads(state.serialized_output)


def w_timers(server: Server, size: int, limit: float, every: float = 0.0) -> dict:
    """``size`` 1 s timers, started as fast as the client can (``every`` = 0) or one each ``every``
    seconds (timers_paced). Started back to back, the SDK's worker gets its work items (a first
    turn per start, then a TimerFired each) as fast as the backend answers StartInstance, and on
    this machine that is more than its stream reader takes in (docs/benchmarks.md): `resumed`
    then measures the SDK's backlog. Paced, both backends see the same arrivals, below it."""
    client, worker = _sdk(server)
    try:
        start = time.monotonic()
        ids, lag = [], []
        for i in range(size):
            if every:
                due = start + i * every
                if (wait := due - time.monotonic()) > 0:
                    time.sleep(wait)  # the pace itself (not a wait for a condition)
                lag.append((time.monotonic() - due) * 1000)
            ids.append(client.schedule_new_orchestration(sleeper, input=1.0))
        states = _wait_all(client, ids, start + limit)
        late, ran = zip(*((stamped * 1000, wall * 1000) for stamped, wall in map(_output, states)), strict=True)
        # "late": the orchestration's clock. A backend that holds work items back while the worker
        # is at its maxConcurrentOrchestrationWorkItems (ours does) stamps them when it sends them,
        # one that sends at once (the bundled one) earlier, the wait then being in the SDK's queue.
        # "resumed": the wall clock when the code after the timer ran, the same on both counts.
        return {
            "late p50 ms": _pct(late, 50),
            "late p99 ms": _pct(late, 99),
            "resumed p50 ms": _pct(ran, 50),
            "resumed p99 ms": _pct(ran, 99),
            # how far behind its pace the client started instances: equal pacing needs this small
            **({"start behind pace p99 ms": _pct(lag, 99)} if every else {}),
        }
    finally:
        worker.stop()


#: timers_paced: one start each 4 ms (250/s), with the timers' 250 TimerFired/s, 500 work items/s.
TIMERS_PACE = 0.004


def w_timers_paced(server: Server, size: int, limit: float) -> dict:
    return w_timers(server, size, limit, every=TIMERS_PACE)


# ---------------------------------------------------------------- raw-protocol workloads


def _text(value: str) -> wrappers_pb2.StringValue:
    return wrappers_pb2.StringValue(value=value)


def raw_driver(
    address: str, count: int, activities: int, prefix: str, total: int, finished, stop, metadata=None
) -> None:
    """Answer work items at the gRPC level as the SDK worker does: echoed tokens, same requests.

    Starts ``count`` instances, then serves work until ``total`` instances (counted across all
    driver processes in ``finished``) have completed. ``metadata`` (e.g. a ``taskhub`` header)
    goes on every call, the work-item stream included.
    """
    channel = grpc.insecure_channel(address)
    stub = stubs.TaskHubSidecarServiceStub(channel)
    stream = stub.GetWorkItems(
        pb.GetWorkItemsRequest(maxConcurrentOrchestrationWorkItems=100, maxConcurrentActivityWorkItems=100),
        metadata=metadata,
    )

    def cancel_when_done():
        while not stop.value:  # a shared flag, polled: multiprocessing.Event can deadlock on a killed waiter
            time.sleep(0.05)
        stream.cancel()

    threading.Thread(target=cancel_when_done, daemon=True).start()
    pool = ThreadPoolExecutor(4)
    for i in range(count):
        request = pb.CreateInstanceRequest(instanceId=f"{prefix}-{i}", name="raw")
        pool.submit(stub.StartInstance, request, metadata=metadata)
    try:
        for item in stream:
            kind = item.WhichOneof("request")
            if kind == "orchestratorRequest":
                req = item.orchestratorRequest
                done = sum(1 for e in req.pastEvents if e.HasField("taskCompleted"))
                done += sum(1 for e in req.newEvents if e.HasField("taskCompleted"))
                if done >= activities:
                    complete = pb.CompleteOrchestrationAction(
                        orchestrationStatus=pb.ORCHESTRATION_STATUS_COMPLETED, result=_text('"ok"')
                    )
                    action = pb.OrchestratorAction(id=-1, completeOrchestration=complete)
                else:
                    schedule = pb.ScheduleTaskAction(name="act", input=_text("1"))
                    action = pb.OrchestratorAction(id=done + 1, scheduleTask=schedule)
                stub.CompleteOrchestratorTask(
                    pb.OrchestratorResponse(
                        instanceId=req.instanceId, actions=[action], completionToken=item.completionToken
                    ),
                    metadata=metadata,
                )
                if done >= activities:
                    with finished.get_lock():
                        finished.value += 1
                        if finished.value >= total:
                            stop.value = 1
            elif kind == "activityRequest":
                req = item.activityRequest
                stub.CompleteActivityTask(
                    pb.ActivityResponse(
                        instanceId=req.orchestrationInstance.instanceId,
                        taskId=req.taskId,
                        result=_text("1"),
                        completionToken=item.completionToken,
                    ),
                    metadata=metadata,
                )
    except grpc.RpcError:
        pass  # cancelled once every instance completed
    pool.shutdown()


def _raw(server: Server, processes: int, per_process: int, activities: int, limit: float) -> float:
    finished, stop = Value("i", 0), Value("i", 0)
    tag = f"r{time.monotonic_ns()}"
    total = processes * per_process
    procs = [
        Process(
            target=raw_driver,
            args=(server.address, per_process, activities, f"{tag}-{p}", total, finished, stop, server.metadata),
        )
        for p in range(processes)
    ]
    start = time.monotonic()
    for p in procs:
        p.start()
    deadline = start + limit
    while not stop.value and time.monotonic() < deadline and any(p.is_alive() for p in procs):
        time.sleep(0.02)
    wall = time.monotonic() - start
    stop.value = 1
    for p in procs:
        p.join(timeout=10)
        if p.is_alive():
            p.kill()
    if finished.value < total:
        raise Stalled(f"{finished.value} of {total} instances completed in {limit:.0f} s")
    return wall


def w_raw(server: Server, size: int, limit: float) -> dict:
    cpu = server.cpu()
    wall = _raw(server, 2, size // 2, 1, limit)
    return {"inst/s": size / wall, "server µs/inst": (server.cpu() - cpu) / size * 1e6}


def w_start(server: Server, size: int, limit: float, threads: int = 16) -> dict:
    """``size`` unary StartInstance calls from ``threads`` client threads (one channel each); no worker."""
    tag = f"s{time.monotonic_ns()}"
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.monotonic() + limit

    def client(t: int) -> None:
        mine = []
        with grpc.insecure_channel(server.address) as channel:
            stub = stubs.TaskHubSidecarServiceStub(channel)
            for i in range(t, size, threads):
                if time.monotonic() > deadline:
                    break
                began = time.monotonic()
                stub.StartInstance(pb.CreateInstanceRequest(instanceId=f"{tag}-{i}", name="started"), timeout=limit)
                mine.append(time.monotonic() - began)
        with lock:
            latencies.extend(mine)

    start = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(client, range(threads)))
    wall = time.monotonic() - start
    if len(latencies) < size:
        raise Stalled(f"{len(latencies)} of {size} StartInstance calls answered in {limit:.0f} s")
    ms = [x * 1000 for x in latencies]
    return {"starts/s": size / wall, "p50 ms": _pct(ms, 50), "p99 ms": _pct(ms, 99)}


def w_unary(server: Server, size: int, limit: float, threads: int = 16) -> dict:
    """``size`` instances from ``threads`` client threads (one channel each), no worker: each thread
    calls StartInstance, then GetInstance for the instance it started (with inputs and outputs, as
    the SDK's ``get_orchestration_state`` asks). Calls/s and server CPU per call, both calls counted."""
    tag = f"u{time.monotonic_ns()}"
    latencies: list[float] = []
    missing = []
    lock = threading.Lock()
    deadline = time.monotonic() + limit

    def client(t: int) -> None:
        mine, lost = [], 0
        with grpc.insecure_channel(server.address) as channel:
            stub = stubs.TaskHubSidecarServiceStub(channel)
            for i in range(t, size, threads):
                if time.monotonic() > deadline:
                    break
                iid = f"{tag}-{i}"
                began = time.monotonic()
                stub.StartInstance(
                    pb.CreateInstanceRequest(instanceId=iid, name="unary"), timeout=limit, metadata=server.metadata
                )
                started = time.monotonic()
                got = stub.GetInstance(
                    pb.GetInstanceRequest(instanceId=iid, getInputsAndOutputs=True),
                    timeout=limit,
                    metadata=server.metadata,
                )
                mine += [started - began, time.monotonic() - started]
                lost += not got.exists
        with lock:
            latencies.extend(mine)
            missing.append(lost)

    cpu, switches = server.cpu(), server.switches()
    start = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(client, range(threads)))
    wall = time.monotonic() - start
    used, switched = server.cpu() - cpu, server.switches() - switches
    calls = len(latencies)
    if calls < 2 * size:
        raise Stalled(f"{calls} of {2 * size} StartInstance/GetInstance calls answered in {limit:.0f} s")
    ms = [x * 1000 for x in latencies]
    metrics = {
        "calls/s": calls / wall,
        "server µs/call": used / calls * 1e6,
        "p50 ms": _pct(ms, 50),
        "p99 ms": _pct(ms, 99),
        "server switches/call": switched / calls,
    }
    if sum(missing):
        metrics["not found"] = sum(missing)
    return metrics


# ---------------------------------------------------------------- sequential latency, and where it goes


def two(ctx, x):
    """Two activities, one after the other: 3 orchestrator and 2 activity work items."""
    first = yield ctx.call_activity(echo, input=x)
    return (yield ctx.call_activity(echo, input=first))


class _TimedStream:
    """The worker's work-item stream, stamping each message as the SDK's reader thread receives it."""

    def __init__(self, stream, on_item: Callable):
        self._stream = stream
        self._on_item = on_item

    def __iter__(self):
        return self

    def __next__(self):
        item = next(self._stream)
        self._on_item(item, time.time())
        return item

    def __getattr__(self, name: str):  # cancel(), code(), ...
        return getattr(self._stream, name)


class _TimedStub:
    """The stub a work item's handler completes it with: the completion RPC's send and return, stamped."""

    def __init__(self, stub, mark: dict):
        self._stub = stub
        self._mark = mark

    def __getattr__(self, name: str):
        call = getattr(self._stub, name)
        if not name.startswith("Complete"):
            return call

        def timed(*args, **kwargs):
            self._mark["send"] = time.time()
            try:
                return call(*args, **kwargs)
            finally:
                self._mark["done"] = time.time()

        return timed


class TimedWorker(TaskHubGrpcWorker):
    """The SDK's worker, unchanged, with timestamps (wall clock, as the servers' history) at five
    points of each work item's way through it:

    ``recv``  the reader thread has the message from the GetWorkItems stream;
    ``loop``  the worker's event loop hands it to its work queue (after a thread-pool hop that
              takes it off the reader's ``queue.Queue``);
    ``exec``  the handler starts on a pool thread (after the asyncio queue, a task, another hop);
    ``send``/``done``  the handler calls CompleteOrchestratorTask/CompleteActivityTask, and it returns.

    ``timeline[instance_id]`` lists the instance's work items in the order they arrived.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.timeline: dict[str, list[dict]] = {}
        self._marks = threading.Lock()
        manager = self._async_worker_manager
        manager.submit_orchestration = self._stamped(manager.submit_orchestration, "loop")
        manager.submit_activity = self._stamped(manager.submit_activity, "loop")

    @property
    def _response_stream(self):
        return self.__dict__.get("_timed_stream")

    @_response_stream.setter
    def _response_stream(self, stream) -> None:
        self.__dict__["_timed_stream"] = None if stream is None else _TimedStream(stream, self._received)

    @staticmethod
    def _instance_of(req) -> str:
        return req.instanceId if isinstance(req, pb.OrchestratorRequest) else req.orchestrationInstance.instanceId

    def _received(self, item, now: float) -> None:
        kind = item.WhichOneof("request")
        if kind == "orchestratorRequest":
            iid = item.orchestratorRequest.instanceId
        elif kind == "activityRequest":
            iid = item.activityRequest.orchestrationInstance.instanceId
        else:
            return  # health pings and entity work
        with self._marks:
            self.timeline.setdefault(iid, []).append({"kind": kind[0], "recv": now})

    def _mark(self, req, point: str) -> dict:
        """Stamp ``point`` on the instance's oldest work item that does not have it yet."""
        now = time.time()
        with self._marks:
            for mark in self.timeline.get(self._instance_of(req), []):
                if point not in mark:
                    mark[point] = now
                    return mark
        return {}

    def _stamped(self, submit: Callable, point: str) -> Callable:
        def stamped(func, cancel, req, *args, **kwargs):
            self._mark(req, point)
            return submit(func, cancel, req, *args, **kwargs)

        return stamped

    def _execute_orchestrator(self, req, stub, completionToken) -> None:
        super()._execute_orchestrator(req, _TimedStub(stub, self._mark(req, "exec")), completionToken)

    def _execute_activity(self, req, stub, completionToken) -> None:
        super()._execute_activity(req, _TimedStub(stub, self._mark(req, "exec")), completionToken)


def _seconds(ts) -> float | None:
    """A protobuf Timestamp as epoch seconds; None if unset (the bundled backend leaves most at 0)."""
    return ts.seconds + ts.nanos / 1e9 if ts.seconds else None


# The breakdown of one orchestration of `two` (work items O A O A O), each a mean per orchestration
# in ms. Rows 1-6 partition the client's wall time exactly; rows 3a/3b split 3, 5o/5a split 5,
# 5a1/5a2 split 5a by the server's own OrchestratorStarted timestamps, 6a/6b split 6 by the
# server's completion time; the completion RPC's round trip overlaps 5 and 6.
BREAKDOWN = (
    "1 StartInstance RPC ms",
    "2 start answered → 1st work item ms",
    "3 SDK hand-offs (5 items) ms",
    "3a stream → worker loop ms",
    "3b worker loop → handler thread ms",
    "4 SDK handlers (5 items) ms",
    "5 completion sent → next item (4) ms",
    "5o orch. done → activity item (2) ms",
    "5a activity done → orch. item (2) ms",
    "5a1 activity done → server dispatch ms",
    "5a2 server dispatch → worker ms",
    "6 last completion → wait returns ms",
    "6a last completion → server completed ms",
    "6b server completed → client has it ms",
    "completion RPCs (5, overlap 5–6) ms",
)


def _breakdown(c0: float, c1: float, c2: float, items: list[dict], dispatched: list[float], completed) -> dict:
    """One orchestration's segments in ms (see BREAKDOWN); ``dispatched``: the server's
    OrchestratorStarted times of the 2nd and 3rd orchestrator dispatch."""
    ms = 1000.0
    recv = [m["recv"] for m in items]
    send = [m["send"] for m in items]
    seg = {
        BREAKDOWN[0]: (c1 - c0) * ms,
        BREAKDOWN[1]: (recv[0] - c1) * ms,
        BREAKDOWN[2]: sum(m["exec"] - m["recv"] for m in items) * ms,
        BREAKDOWN[3]: sum(m["loop"] - m["recv"] for m in items) * ms,
        BREAKDOWN[4]: sum(m["exec"] - m["loop"] for m in items) * ms,
        BREAKDOWN[5]: sum(m["send"] - m["exec"] for m in items) * ms,
        BREAKDOWN[6]: sum(recv[k + 1] - send[k] for k in range(4)) * ms,
        BREAKDOWN[7]: sum(recv[k + 1] - send[k] for k in (0, 2)) * ms,
        BREAKDOWN[8]: sum(recv[k + 1] - send[k] for k in (1, 3)) * ms,
        BREAKDOWN[11]: (c2 - send[4]) * ms,
        BREAKDOWN[14]: sum(m["done"] - m["send"] for m in items) * ms,
    }
    if len(dispatched) == 2:
        seg[BREAKDOWN[9]] = sum(d - send[k] for d, k in zip(dispatched, (1, 3), strict=True)) * ms
        seg[BREAKDOWN[10]] = sum(recv[k + 1] - d for d, k in zip(dispatched, (1, 3), strict=True)) * ms
    if completed:
        seg[BREAKDOWN[12]] = (completed - send[4]) * ms
        seg[BREAKDOWN[13]] = (c2 - completed) * ms
    return seg


def _hello(server: Server, calls: int) -> tuple[float, float]:
    """Empty ``Hello`` RPCs one at a time, the transport's floor: the median round trip in ms and
    the server's CPU per call in µs."""
    with grpc.insecure_channel(server.address) as channel:
        stub = stubs.TaskHubSidecarServiceStub(channel)
        stub.Hello(empty_pb2.Empty(), metadata=server.metadata)
        cpu = server.cpu()
        times = []
        for _ in range(calls):
            began = time.perf_counter()
            stub.Hello(empty_pb2.Empty(), metadata=server.metadata)
            times.append((time.perf_counter() - began) * 1000)
        used = server.cpu() - cpu
    return statistics.median(times), used / calls * 1e6


def w_floor(server: Server, size: int, limit: float, threads: int = 16) -> dict:
    """Empty ``Hello`` RPCs: ``size`` one at a time (round trip, server CPU per call), then ``size``
    from ``threads`` client threads at once (calls/s, server CPU per call). Run it on
    ``--backends empty-aio,empty-sync`` for the transports alone, and on ours,theirs beside it."""
    rtt, one_us = _hello(server, size)
    deadline = time.monotonic() + limit

    def client(t: int) -> int:
        done = 0
        with grpc.insecure_channel(server.address) as channel:
            stub = stubs.TaskHubSidecarServiceStub(channel)
            for _ in range(t, size, threads):
                if time.monotonic() > deadline:
                    break
                stub.Hello(empty_pb2.Empty(), metadata=server.metadata, timeout=limit)
                done += 1
        return done

    cpu, start = server.cpu(), time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        calls = sum(pool.map(client, range(threads)))
    wall, used = time.monotonic() - start, server.cpu() - cpu
    if calls < size:
        raise Stalled(f"{calls} of {size} concurrent Hello calls answered in {limit:.0f} s")
    return {
        "1 at a time: RTT ms": rtt,
        "1 at a time: server µs/call": one_us,
        f"{threads} at once: calls/s": calls / wall,
        f"{threads} at once: server µs/call": used / calls * 1e6,
    }


def w_sequential(server: Server, size: int, limit: float, warmup: int = 5) -> dict:
    """One SDK client and one SDK worker: ``size`` orchestrations of `two`, one after another
    (schedule, then wait for completion). Latency p50/p90 per orchestration on the client's clock,
    and where it goes (BREAKDOWN): client and worker timestamps (TimedWorker), and the server's
    own timestamps read back afterwards from each instance's history and state. Afterwards, the
    round trip of an empty ``Hello`` RPC on the same server, for scale."""
    worker = TimedWorker(host_address=server.address, metadata=server.metadata, logger=QUIET)
    worker.add_orchestrator(two)
    worker.add_activity(echo)
    worker.start()
    client = TaskHubGrpcClient(host_address=server.address, metadata=server.metadata, logger=QUIET)
    deadline = time.monotonic() + limit
    try:
        runs = []
        cpu = switches = sdk_switches = 0
        for i in range(warmup + size):
            if i == warmup:
                cpu, switches, sdk_switches = server.cpu(), server.switches(), _switches(os.getpid())
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Stalled(f"{max(0, i - warmup)} of {size} orchestrations completed in {limit:.0f} s")
            c0 = time.time()
            iid = client.schedule_new_orchestration(two, input=i)
            c1 = time.time()
            try:
                state = client.wait_for_orchestration_completion(iid, timeout=remaining)
            except TimeoutError:
                raise Stalled(f"{max(0, i - warmup)} of {size} orchestrations completed in {limit:.0f} s") from None
            c2 = time.time()
            if i >= warmup:
                runs.append((iid, c0, c1, c2, state))
        used = server.cpu() - cpu
        switched, sdk_switched = server.switches() - switches, _switches(os.getpid()) - sdk_switches
        segments = []
        for iid, c0, c1, c2, state in runs:
            items = worker.timeline.get(iid, [])
            if [m["kind"] for m in items] != list("oaoao") or not all(len(m) == 6 for m in items):
                continue  # a redelivery or a missed stamp: leave this one out of the breakdown
            # the client's own stub: its channel already sends the taskhub header, if any
            events = client._stub.StreamInstanceHistory(pb.StreamInstanceHistoryRequest(instanceId=iid))
            started = [
                _seconds(e.timestamp) for chunk in events for e in chunk.events if e.HasField("orchestratorStarted")
            ]
            dispatched = [t for t in started[1:3] if t]  # the 1st is the start time on the bundled backend
            updated = state.last_updated_at if state else None  # the SDK's datetimes are naive UTC
            completed = updated.replace(tzinfo=updated.tzinfo or timezone.utc).timestamp() if updated else None
            segments.append(_breakdown(c0, c1, c2, items, dispatched, completed))
        total = [(c2 - c0) * 1000 for _, c0, _, c2, _ in runs]
        metrics = {
            "p50 ms": _pct(total, 50),
            "p90 ms": _pct(total, 90),
            "mean ms": statistics.fmean(total),
            "server µs/orch": used / size * 1e6,
            "server switches/orch": switched / size,
            "client+worker switches/orch": sdk_switched / size,
        }
        metrics["empty Hello RPC ms"], metrics["empty Hello server µs"] = _hello(server, 1000)
        for key in BREAKDOWN:
            values = [s[key] for s in segments if key in s]
            if values:
                metrics[key] = statistics.fmean(values)
        if len(segments) < len(runs):
            metrics["left out of breakdown"] = len(runs) - len(segments)
        return metrics
    finally:
        worker.stop()
        client.close()


def w_history(server: Server, size: int, limit: float) -> dict:
    """One orchestration of ``size`` sequential activities; server CPU per dispatch, early vs late."""
    samples = []
    stop = threading.Event()

    def sample():
        while not stop.wait(0.25):
            samples.append((time.monotonic(), server.cpu()))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.monotonic()
    try:
        wall = _raw(server, 1, 1, size, limit)
    finally:
        stop.set()
        sampler.join()
    # dispatches proceed at a steady pace in wall time; compare the first and last fifth
    n = len(samples)
    if n < 10:
        return {"wall s": wall}
    fifth = n // 5
    early = (samples[fifth][1] - samples[0][1]) / (samples[fifth][0] - samples[0][0])
    late = (samples[-1][1] - samples[-1 - fifth][1]) / (samples[-1][0] - samples[-1 - fifth][0])
    dispatches = 2 * size
    per_dispatch = (samples[-1][1] - samples[0][1]) / dispatches * 1e6
    # history grows ~4 events per activity: per-dispatch cost growth per 1,000 events
    growth = (late - early) / max(early, 1e-9) * per_dispatch / (4 * size / 1000)
    del start
    return {"wall s": wall, "µs/dispatch": per_dispatch, "growth µs/1k events": growth}


def w_memory(server: Server, size: int, limit: float) -> dict:
    before = server.rss()
    _raw(server, 2, size // 2, 1, limit)
    return {"RSS KiB/inst": (server.rss() - before) / 1024 / size}


WORKLOADS: dict[str, tuple[Callable, int, int, float]] = {
    # name: (function, full size, quick size, time limit in seconds)
    "hello": (w_hello, 300, 50, 60),
    "chain": (w_chain, 100, 10, 90),
    "fanout": (w_fanout, 1000, 100, 90),
    "waiters": (w_waiters, 500, 50, 20),
    "raw": (w_raw, 2000, 200, 90),
    "start": (w_start, 3000, 200, 60),
    "timers": (w_timers, 1000, 50, 60),
    "timers_paced": (w_timers_paced, 1000, 50, 60),
    "history": (w_history, 3000, 200, 45),
    "memory": (w_memory, 10000, 500, 120),
    "unary": (w_unary, 3000, 200, 60),
    "sequential": (w_sequential, 200, 20, 60),
    "floor": (w_floor, 3000, 200, 60),
}


# ---------------------------------------------------------------- the run


class Load:
    """CPU-bound background load: one process per core spinning in ``while True: pass`` at normal
    priority, as other jobs on a shared CI runner would, from start to ``close()``."""

    def __init__(self, processes: int | None = None):
        self.procs = [
            subprocess.Popen([sys.executable, "-c", "while True: pass"], stdin=subprocess.DEVNULL)
            for _ in range(processes or os.cpu_count() or 1)
        ]
        ps = [psutil.Process(p.pid) for p in self.procs]
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(sum(p.cpu_times()[:2]) < 0.05 for p in ps):
            time.sleep(0.02)  # past the interpreter's start-up: spinning

    def close(self) -> None:
        for p in self.procs:
            p.kill()
        for p in self.procs:
            p.wait()


CONTENDED = " contended"
#: Workloads whose clients run in child processes: this process's CPU says nothing of them.
CHILD_DRIVEN = {"raw", "history", "memory"}


def _own_cpu() -> float:
    """CPU seconds of this process, all threads: the SDK clients and workers of a workload
    ("driver CPU s"; the SDK's share of the work, which the backend can make cheaper or dearer)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime  # the suffix of a workload's name in the results when measured under Load


def run(
    only: list[str],
    rounds: int,
    quick: bool,
    backends=BACKENDS,
    taskhub: str | None = None,
    contended: bool = False,
) -> dict:
    """``{workload: {backend: [metrics per round]}}``, each round on fresh servers, A/B alternating.

    ``taskhub``: every call of every workload carries this ``taskhub`` metadata (None: no header),
    unless the backend names its own hub (``ours@HUB``).
    ``contended``: each workload is also measured with :class:`Load` running around the measurement
    (started once the server is up, stopped before it is shut down), reported as ``"NAME contended"``;
    quiet and contended alternate too, so neither always goes first.
    """
    loads = (False, True) if contended else (False,)
    results: dict = {w + (CONTENDED if c else ""): {b: [] for b in backends} for w in only for c in loads}
    for r in range(rounds):
        order = backends if r % 2 == 0 else tuple(reversed(backends))
        for name in only:
            fn, full, small, limit = WORKLOADS[name]
            for loaded in loads if r % 2 == 0 else tuple(reversed(loads)):
                label = name + (CONTENDED if loaded else "")
                for which in order:
                    backend, hub = _backend(which)
                    server = Server(backend, hub or taskhub)
                    try:
                        load = Load() if loaded else None
                        try:
                            cpu, driver, t0 = server.cpu(), _own_cpu(), time.monotonic()
                            size = small if quick else full
                            try:
                                metrics = fn(server, size, limit)
                                metrics.setdefault("server CPU s", server.cpu() - cpu)
                                if name not in CHILD_DRIVEN:
                                    metrics["driver CPU s"] = _own_cpu() - driver
                            except Stalled as e:
                                metrics = {"stalled": str(e)}
                            metrics["_elapsed"] = time.monotonic() - t0
                        finally:
                            if load is not None:
                                load.close()
                    finally:
                        server.close()
                    results[label][which].append(metrics)
                    print(f"round {r + 1} {label:8s} {which:6s} {_brief(metrics)}", file=sys.stderr, flush=True)
    return results


def _brief(metrics: dict) -> str:
    return ", ".join(
        f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items() if not k.startswith("_")
    )


def table(results: dict, a: str = "ours", b: str = "theirs") -> str:
    """Medians (min–max) side by side, the ratio of the medians, and the median of the ratios of
    each round's pair (run back to back, so they share the machine's load at that moment)."""
    lines = [
        f"| workload | metric | {a} median (min–max) | {b} median (min–max) | {a}/{b} | per-round {a}/{b} |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, per in results.items():
        ours, theirs = per.get(a, []), per.get(b, [])
        metrics = [k for k in (ours or theirs)[0] if not k.startswith("_")] if (ours or theirs) else []
        keys = list(dict.fromkeys(metrics + [k for m in theirs for k in m if not k.startswith("_")]))
        for key in keys:
            cells = []
            meds = []
            for runs in (ours, theirs):
                vals = [m[key] for m in runs if isinstance(m.get(key), (int, float))]
                stalled = [m for m in runs if "stalled" in m]
                if vals:
                    med = statistics.median(vals)
                    meds.append(med)
                    cells.append(f"{med:.4g} ({min(vals):.4g}–{max(vals):.4g})")
                else:
                    meds.append(None)
                    cells.append(f"stalled ({stalled[0]['stalled']})" if stalled else "–")
            ratio = f"{meds[0] / meds[1]:.2f}" if None not in meds and meds[1] else "–"
            pairs = [
                x[key] / y[key]
                for x, y in zip(ours, theirs, strict=False)
                if isinstance(x.get(key), (int, float)) and isinstance(y.get(key), (int, float)) and y[key]
            ]
            paired = f"{statistics.median(pairs):.2f}" if pairs else "–"
            lines.append(f"| {name} | {key} | {cells[0]} | {cells[1]} | {ratio} | {paired} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", choices=CHOICES, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--only", default=",".join(WORKLOADS), help="comma-separated workloads")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small sizes and 1 round")
    parser.add_argument("--ours-only", action="store_true", help="measure only our emulator")
    parser.add_argument(
        "--backends",
        default="ours,theirs",
        help="the two backends to compare: ours, theirs, ours-sqlite, ours-asyncio, each optionally @HUB to send "
        "a taskhub header (e.g. ours-sqlite,ours or ours,ours@bench)",
    )
    parser.add_argument(
        "--taskhub",
        metavar="NAME",
        help="send a `taskhub: NAME` header on every call, client and worker alike (default: none)",
    )
    parser.add_argument(
        "--console",
        action="store_true",
        help="compare `start` with the live console on a pseudo-terminal against `start --no-console`",
    )
    parser.add_argument(
        "--contended",
        action="store_true",
        help="measure every workload twice: as usual, and with a CPU-bound process per core running "
        "around the measurement (rows 'NAME contended')",
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="run this process (the SDK clients and workers) on one CPU and each server on another "
        "(Linux, two CPUs or more): each side measured without the kernel moving threads between cores",
    )
    parser.add_argument(
        "--own-session",
        action="store_true",
        help="start each server in a session of its own, as from its own terminal (Linux autogroups then "
        "share the CPUs between the SDK's process and the server's, not between their threads)",
    )
    parser.add_argument("--json", help="also write the raw results to this file")
    args = parser.parse_args()
    logging.getLogger("durabletask").setLevel(logging.ERROR)
    if args.serve:
        serve(args.serve, args.port)
        return
    only = [w.strip() for w in args.only.split(",") if w.strip()]
    unknown = set(only) - set(WORKLOADS)
    if unknown:
        parser.error(f"unknown workloads: {', '.join(sorted(unknown))}")
    rounds = 1 if args.quick else args.rounds
    backends = tuple(b.strip() for b in args.backends.split(","))
    if len(set(backends)) != 2 or not {_backend(b)[0] for b in backends} <= set(CHOICES):
        parser.error(f"--backends takes two of {', '.join(CHOICES)} (each optionally @HUB)")
    if args.console:
        backends = CLI_BACKENDS
    elif args.ours_only:
        backends = ("ours",)
    if args.pin:
        pin_driver()
    global OWN_SESSION
    OWN_SESSION = args.own_session
    started = time.monotonic()
    results = run(only, rounds, args.quick, backends, args.taskhub, args.contended)
    print(table(results, backends[0], backends[1] if len(backends) > 1 else "theirs"))
    hub = f", taskhub header {args.taskhub!r}" if args.taskhub else ""
    load = f", contended rows with {os.cpu_count()} CPU-bound processes" if args.contended else ""
    pin = f", driver on CPU {DRIVER_CPU} and servers on CPU {SERVER_CPU}" if args.pin else ""
    session = ", servers in sessions of their own" if args.own_session else ""
    took = time.monotonic() - started
    print(f"\n{rounds} round(s), {os.cpu_count()} CPUs{hub}{load}{pin}{session}, {took:.0f} s in all")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
