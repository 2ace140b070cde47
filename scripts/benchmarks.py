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
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from multiprocessing import Process, Value

import grpc
import psutil
from durabletask import task
from durabletask.client import TaskHubGrpcClient
from durabletask.internal import orchestrator_service_pb2 as pb
from durabletask.internal import orchestrator_service_pb2_grpc as stubs
from durabletask.worker import TaskHubGrpcWorker
from google.protobuf import wrappers_pb2

BACKENDS = ("ours", "theirs")
# ours-sqlite: our emulator with the SQLite store. ours-console / ours-no-console: the real
# `durabletask-emulator start` command at its default log level, with the live console on a
# pseudo-terminal, or with --no-console and stderr to /dev/null (the cheapest place for log lines).
CHOICES = ("ours", "theirs", "ours-sqlite", "ours-console", "ours-no-console")
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


def serve(which: str, port: int) -> None:
    """Run one backend in this process until SIGTERM (the harness starts this as a subprocess)."""
    if which == "theirs":
        from durabletask.testing import InMemoryOrchestrationBackend  # the competitor, measured only

        backend = InMemoryOrchestrationBackend(port=port)
    else:
        import tempfile

        from emulator import InMemoryOrchestrationBackend

        db = os.path.join(tempfile.mkdtemp(), "bench.db") if which == "ours-sqlite" else None
        backend = InMemoryOrchestrationBackend(port=port, db_path=db)
    backend.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("ready", flush=True)
    stop.wait()
    backend.stop()


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
            self.proc = subprocess.Popen(
                [sys.executable, __file__, "--serve", which, "--port", str(self.port)],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            assert self.proc.stdout.readline().strip() == "ready"
        with grpc.insecure_channel(self.address) as channel:
            grpc.channel_ready_future(channel).result(timeout=30)
        self.ps = psutil.Process(self.proc.pid)

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
            self.proc = subprocess.Popen(
                [*command, "--console"], stdin=child_fd, stdout=child_fd, stderr=child_fd, env=env, close_fds=True
            )
            os.close(child_fd)
            self.terminal = Terminal(main_fd)
            self.terminal.wait_for(b"Recently changed instances")  # the live view is up: we measure with it
        else:
            self.proc = subprocess.Popen(
                [*command, "--no-console"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
            )
            assert "listening on " in self.proc.stdout.readline()

    def cpu(self) -> float:
        t = self.ps.cpu_times()
        return t.user + t.system

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
    fire_at = ctx.current_utc_datetime + timedelta(seconds=seconds)
    yield ctx.create_timer(fire_at)
    return (ctx.current_utc_datetime - fire_at).total_seconds()


def _sdk(server: Server):
    worker = TaskHubGrpcWorker(host_address=server.address, metadata=server.metadata)
    for o in (hello, chain, fan_out, sleeper):
        worker.add_orchestrator(o)
    worker.add_activity(echo)
    worker.start()
    return TaskHubGrpcClient(host_address=server.address, metadata=server.metadata), worker


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
        c = TaskHubGrpcClient(host_address=server.address, metadata=server.metadata)
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


def w_timers(server: Server, size: int, limit: float) -> dict:
    client, worker = _sdk(server)
    try:
        start = time.monotonic()
        ids = [client.schedule_new_orchestration(sleeper, input=1.0) for _ in range(size)]
        states = _wait_all(client, ids, start + limit)
        late = [json.loads(s.serialized_output) * 1000 for s in states]
        return {"late p50 ms": _pct(late, 50), "late p99 ms": _pct(late, 99)}
    finally:
        worker.stop()


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
    "history": (w_history, 3000, 200, 45),
    "memory": (w_memory, 10000, 500, 120),
}


# ---------------------------------------------------------------- the run


def run(only: list[str], rounds: int, quick: bool, backends=BACKENDS, taskhub: str | None = None) -> dict:
    """``{workload: {backend: [metrics per round]}}``, each round on fresh servers, A/B alternating.

    ``taskhub``: every call of every workload carries this ``taskhub`` metadata (None: no header),
    unless the backend names its own hub (``ours@HUB``).
    """
    results: dict = {w: {b: [] for b in backends} for w in only}
    for r in range(rounds):
        order = backends if r % 2 == 0 else tuple(reversed(backends))
        for name in only:
            fn, full, small, limit = WORKLOADS[name]
            for which in order:
                backend, hub = _backend(which)
                server = Server(backend, hub or taskhub)
                try:
                    cpu, t0 = server.cpu(), time.monotonic()
                    size = small if quick else full
                    try:
                        metrics = fn(server, size, limit)
                        metrics.setdefault("server CPU s", server.cpu() - cpu)
                    except Stalled as e:
                        metrics = {"stalled": str(e)}
                    metrics["_elapsed"] = time.monotonic() - t0
                finally:
                    server.close()
                results[name][which].append(metrics)
                print(f"round {r + 1} {name:8s} {which:6s} {_brief(metrics)}", file=sys.stderr, flush=True)
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
        help="the two backends to compare: ours, theirs, ours-sqlite, each optionally @HUB to send a taskhub "
        "header (e.g. ours-sqlite,ours or ours,ours@bench)",
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
    started = time.monotonic()
    results = run(only, rounds, args.quick, backends, args.taskhub)
    print(table(results, backends[0], backends[1] if len(backends) > 1 else "theirs"))
    hub = f", taskhub header {args.taskhub!r}" if args.taskhub else ""
    print(f"\n{rounds} round(s), {os.cpu_count()} CPUs{hub}, {time.monotonic() - started:.0f} s in all")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
