"""The benchmark harness runs (so it cannot rot): one cheap workload, our emulator only, quick sizes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

HARNESS = Path(__file__).parent.parent / "scripts" / "benchmarks.py"


def _bench(*args: str, timeout: float = 110) -> subprocess.CompletedProcess:
    """Run the harness with ``args``; it must succeed."""
    result = subprocess.run([sys.executable, str(HARNESS), *args], capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


@pytest.mark.timeout(120)
def test_quick_benchmark_prints_a_table():
    result = _bench("--quick", "--ours-only", "--only", "raw,hello,timers")
    rows = [line for line in result.stdout.splitlines() if line.startswith(("| raw", "| hello", "| timers"))]
    assert any("server µs/inst" in row for row in rows)
    assert any("orch/s" in row for row in rows)
    # the SDK process's own CPU where it drives the workload, not where child processes do
    assert any(row.startswith("| hello | driver CPU s |") for row in rows)
    assert not any(row.startswith("| raw | driver CPU s |") for row in rows)
    # timer lateness by the orchestration's clock and by when the code after the timer ran
    assert any(row.startswith("| timers | late p99 ms |") for row in rows)
    assert any(row.startswith("| timers | resumed p99 ms |") for row in rows)
    assert "stalled" not in result.stdout
    # progress and results only: none of the SDK's own log lines (one per work item)
    assert "durabletask-worker" not in result.stderr and "durabletask-client" not in result.stderr
    assert all(line.startswith("round ") for line in result.stderr.splitlines()), result.stderr[-2000:]


GOAWAY_PROBE = """
import os, sys
sys.path.insert(0, sys.argv[1])
import benchmarks
server = benchmarks.Server("theirs")
client, worker = benchmarks._sdk(server)
client.wait_for_orchestration_completion(client.schedule_new_orchestration(benchmarks.hello, input=1), timeout=30)
server.close()  # the worker's stream is open: the server cancels it with a GOAWAY, which grpc's core logs at INFO
worker.stop()
print(os.environ.get("GRPC_VERBOSITY"))
"""
#: A line of grpc's core log (absl's format) at INFO or WARNING: "I1203 17:22:53.518922 ... file.cc:1403] ..."
CORE_LOG_LINE = re.compile(r"^[IW]\d{4} \d\d:\d\d:\d\d", re.MULTILINE)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("verbosity", [None, "INFO"])
def test_grpc_core_logs_only_errors_unless_told_otherwise(verbosity):
    """The harness keeps grpc's core to errors: the bundled backend's "Got goaway" INFO line each
    time it stopped with a worker connected (1-8 a run) sat among the results. A GRPC_VERBOSITY
    the user set still wins (grpc's core then warns that INFO is not for production)."""
    env = {k: v for k, v in os.environ.items() if k != "GRPC_VERBOSITY"}
    if verbosity:
        env["GRPC_VERBOSITY"] = verbosity
    result = subprocess.run(
        [sys.executable, "-c", GOAWAY_PROBE, str(HARNESS.parent)], capture_output=True, text=True, timeout=50, env=env
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == (verbosity or "ERROR")
    if verbosity is None:
        assert not CORE_LOG_LINE.search(result.stderr), result.stderr[-2000:]
    else:
        assert "Log level INFO is not suitable for production" in result.stderr, result.stderr[-2000:]


def test_unknown_workload_is_a_usage_error():
    result = subprocess.run(
        [sys.executable, str(HARNESS), "--only", "nope"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2 and "unknown workloads: nope" in result.stderr


@pytest.mark.timeout(120)
def test_quick_console_benchmark_compares_the_console_on_a_pty_with_no_console():
    result = _bench("--quick", "--console", "--only", "start")
    assert "| ours-console median (min–max) | ours-no-console median (min–max) |" in result.stdout
    rows = [line for line in result.stdout.splitlines() if line.startswith("| start | starts/s")]
    assert len(rows) == 1 and "stalled" not in rows[0]
    assert "round 1 start    ours-console" in result.stderr and "round 1 start    ours-no-console" in result.stderr


@pytest.mark.timeout(150)
def test_quick_contended_unary_and_sequential_rows():
    result = _bench("--quick", "--ours-only", "--contended", "--only", "unary,sequential", timeout=140)
    lines = result.stdout.splitlines()
    for name in ("unary", "unary contended", "sequential", "sequential contended"):
        assert any(line.startswith(f"| {name} |") for line in lines), (name, result.stdout[-2000:])
    assert "stalled" not in result.stdout


@pytest.mark.timeout(120)
@pytest.mark.parametrize("aio", ["empty-aio", "empty-uvloop"])
def test_quick_floor_compares_an_empty_server_of_each_kind(aio):
    """The transports alone (grpc.aio, on asyncio's loop or uvloop, against grpc.server on a thread
    pool): what the issue calls the floor."""
    result = _bench("--quick", "--only", "floor", "--backends", f"{aio},empty-sync")
    assert f"| {aio} median (min–max) | empty-sync median (min–max) |" in result.stdout
    rows = [line for line in result.stdout.splitlines() if line.startswith("| floor |")]
    assert any("16 at once: calls/s" in row for row in rows) and any("1 at a time: RTT ms" in row for row in rows)
    assert "stalled" not in result.stdout


@pytest.mark.timeout(120)
def test_quick_event_loop_comparison_runs_ours_on_uvloop_and_on_asyncio():
    result = _bench("--quick", "--only", "unary", "--backends", "ours,ours-asyncio")
    assert "| ours median (min–max) | ours-asyncio median (min–max) |" in result.stdout
    rows = [line for line in result.stdout.splitlines() if line.startswith("| unary | calls/s")]
    assert len(rows) == 1 and "stalled" not in rows[0]


@pytest.mark.timeout(120)
def test_quick_pinned_run_keeps_the_driver_and_the_server_on_a_cpu_each():
    result = _bench("--quick", "--pin", "--only", "hello", "--ours-only")
    assert any(line.startswith("| hello | orch/s |") for line in result.stdout.splitlines())
    cpus = sorted(os.sched_getaffinity(0))
    assert f"driver on CPU {cpus[0]} and servers on CPU {cpus[1]}" in result.stdout


@pytest.mark.timeout(120)
def test_quick_paced_timers_with_servers_in_sessions_of_their_own():
    """timers_paced starts instances at a fixed pace (the same arrivals on every backend) and says
    how far behind it the client fell; --own-session starts each server with setsid (the harness
    checks the server's session and stops if it is the driver's)."""
    result = _bench("--quick", "--ours-only", "--own-session", "--only", "timers_paced")
    rows = [line for line in result.stdout.splitlines() if line.startswith("| timers_paced |")]
    for metric in ("late p99 ms", "resumed p50 ms", "resumed p99 ms", "start behind pace p99 ms"):
        assert any(row.startswith(f"| timers_paced | {metric} |") for row in rows), (metric, result.stdout)
    assert "servers in sessions of their own" in result.stdout
    assert "stalled" not in result.stdout


SESSION_PROBE = """
import subprocess, sys
import psutil
sys.path.insert(0, sys.argv[1])
import benchmarks

class NoSetsid(subprocess.Popen):  # a launcher where the new session did not happen
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **{**kwargs, "start_new_session": False})

benchmarks.subprocess.Popen = NoSetsid
benchmarks.OWN_SESSION = True
try:
    benchmarks.Server("ours")
finally:
    for child in psutil.Process().children(recursive=True):
        child.kill()
"""


@pytest.mark.timeout(60)
def test_own_session_refuses_a_server_left_in_the_drivers_session():
    result = subprocess.run(
        [sys.executable, "-c", SESSION_PROBE, str(HARNESS.parent)], capture_output=True, text=True, timeout=50
    )
    assert result.returncode == 1, result.stderr[-2000:]
    assert "--own-session: the ours server is in this process's session" in result.stderr


def test_pin_on_a_single_cpu_is_refused():
    cpu = min(os.sched_getaffinity(0))
    result = subprocess.run(
        ["taskset", "-c", str(cpu), sys.executable, str(HARNESS), "--pin", "--quick", "--only", "hello"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "--pin needs two CPUs" in result.stderr
