"""The `durabletask-emulator` executable: options, banner, signals, health and inspector commands."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner
from durabletask.client import OrchestrationStatus, TaskHubGrpcClient
from durabletask.worker import TaskHubGrpcWorker

from emulator.cli import main

BANNER = re.compile(r"listening on (\S+:\d+)")


def _start(*args: str, env: dict | None = None) -> tuple[subprocess.Popen, str]:
    """Start the real executable (``python -m emulator start``) and return it with its bound address."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "emulator", "start", "--no-console", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    line = proc.stdout.readline()  # blocks until the banner (or EOF if it died)
    match = BANNER.search(line)
    if not match:
        proc.kill()
        raise AssertionError(f"no banner; got {line!r}; stderr: {proc.stderr.read()}")
    proc.banner = line
    return proc, match.group(1)


@pytest.fixture
def emulator_process():
    proc, address = _start("--port", "0")
    yield proc, address
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emulator", *args], capture_output=True, text=True, timeout=30)


def test_start_help_shows_every_option_with_defaults():
    result = CliRunner().invoke(main, ["start", "--help"])
    assert result.exit_code == 0
    for option, default in [
        ("--host", "127.0.0.1"),
        ("--port", "4001"),
        ("--max-history-size", "10000"),
        ("--log-level", "info"),
        ("--log-format", "text"),
    ]:
        assert option in result.output
        assert f"default: {default}" in " ".join(result.output.split())
    assert "--console / --no-console" in result.output
    assert "--log-file" in result.output


def test_health_of_unreachable_address_fails():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free_port = s.getsockname()[1]
    result = CliRunner().invoke(main, ["health", "--address", f"127.0.0.1:{free_port}", "--timeout", "1"])
    assert result.exit_code == 1
    assert "unhealthy" in result.output


def test_env_vars_set_options_and_port_zero_banner_has_real_port():
    proc, address = _start(env={"DURABLETASK_EMULATOR_PORT": "0", "DURABLETASK_EMULATOR_HOST": "127.0.0.1"})
    try:
        host, port = address.rsplit(":", 1)
        assert host == "127.0.0.1"
        assert int(port) > 0
        assert _cli("health", "--address", address).returncode == 0
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_port_in_use_is_one_line_error_and_exit_1():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "emulator", "start", "--no-console", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "already in use" in errors[0]


def test_log_file_gets_every_line_in_the_log_format_and_stderr_still_does(tmp_path):
    log_file = tmp_path / "emulator.jsonl"
    proc, address = _start("--port", "0", "--log-format", "json", env={"DURABLETASK_EMULATOR_LOG_FILE": str(log_file)})
    try:
        client = TaskHubGrpcClient(host_address=address)
        for i in range(3):
            client.schedule_new_orchestration("nobody-runs-this", instance_id=f"logged-{i}")
        client.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0
    in_file = [json.loads(line) for line in log_file.read_text().splitlines()]
    on_stderr = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert [e["message"] for e in in_file] == [e["message"] for e in on_stderr]
    messages = [e["message"] for e in in_file]
    assert [m for m in messages if m.startswith("instance logged-")] == [
        f"instance logged-{i} started: nobody-runs-this" for i in range(3)
    ]
    assert messages[-1] == "Durable Task emulator stopped"


def test_unwritable_log_file_is_one_line_error_and_exit_1(tmp_path):
    result = _cli("start", "--no-console", "--port", "0", "--log-file", str(tmp_path / "missing" / "x.log"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: cannot open log file")


def _hello(ctx, name):
    return f"Hello, {name}!"


def _waits(ctx, _):
    greeting = yield ctx.call_activity(_hello, input="cli")
    approval = yield ctx.wait_for_external_event("approve")
    return [greeting, approval]


def _fails(ctx, _):
    raise ValueError("broken on purpose")


def test_executable_serves_sdk_inspector_health_and_stops_on_sigterm(emulator_process):
    proc, address = emulator_process
    assert _cli("health", "--address", address).returncode == 0

    worker = TaskHubGrpcWorker(host_address=address)
    worker.add_orchestrator(_waits)
    worker.add_orchestrator(_fails)
    worker.add_activity(_hello)
    worker.start()
    client = TaskHubGrpcClient(host_address=address)
    try:
        iid = client.schedule_new_orchestration(_waits, instance_id="cli-waits")
        failed = client.schedule_new_orchestration(_fails, instance_id="cli-fails")
        assert client.wait_for_orchestration_completion(failed, timeout=10).runtime_status == OrchestrationStatus.FAILED
        client.wait_for_orchestration_start(iid, timeout=10)

        listed = json.loads(_cli("list", "--address", address, "--json").stdout)
        assert {r["instanceId"] for r in listed} == {"cli-waits", "cli-fails"}
        only_failed = json.loads(_cli("list", "--address", address, "--json", "--status", "failed").stdout)
        assert [r["instanceId"] for r in only_failed] == ["cli-fails"]
        assert "cli-waits" in _cli("list", "--address", address, "--prefix", "cli-w").stdout

        shown = _cli("show", "cli-fails", "--address", address)
        assert shown.returncode == 0
        assert "FAILED" in shown.stdout and "broken on purpose" in shown.stdout
        # the stack trace reads as lines of text, not as one JSON string with \n in it
        assert re.search(r"^.*File \".*\", line \d+", shown.stdout, re.M) and "\\n" not in shown.stdout
        assert "executionStarted" in shown.stdout

        assert _cli("suspend", iid, "--address", address).returncode == 0
        assert client.get_orchestration_state(iid).runtime_status == OrchestrationStatus.SUSPENDED
        assert _cli("raise-event", iid, "approve", '"yes"', "--address", address).returncode == 0
        assert _cli("resume", iid, "--address", address).returncode == 0
        state = client.wait_for_orchestration_completion(iid, timeout=10)
        assert state.runtime_status == OrchestrationStatus.COMPLETED
        assert json.loads(state.serialized_output) == ["Hello, cli!", "yes"]

        exported = json.loads(_cli("export", iid, "--address", address).stdout)
        assert exported["instance"]["status"] == "COMPLETED"
        kinds = [next(k for k in e if k not in ("eventId", "timestamp")) for e in exported["history"]]
        assert kinds[0] == "orchestratorStarted" and "executionCompleted" in kinds
        assert "executionSuspended" in kinds and "executionResumed" in kinds

        assert _cli("rewind", "cli-fails", "--address", address).returncode == 0
        client.wait_for_orchestration_completion(failed, timeout=10)

        running = client.schedule_new_orchestration(_waits, instance_id="cli-term")
        client.wait_for_orchestration_start(running, timeout=10)
        assert _cli("terminate", running, "--output", "stopped", "--address", address).returncode == 0
        term = client.get_orchestration_state(running)
        assert term.runtime_status == OrchestrationStatus.TERMINATED
        assert term.serialized_output == '"stopped"'

        purged = _cli("purge", iid, "--address", address)
        assert "purged 1 instance" in purged.stdout
        assert client.get_orchestration_state(iid) is None
        assert "purged 1 instance" in _cli("purge", "--status", "terminated", "--address", address).stdout

        unknown = _cli("show", "no-such-id", "--address", address)
        assert unknown.returncode == 1
        assert unknown.stderr.strip() == "error: no orchestration instance with ID 'no-such-id' exists"
        bad = _cli("suspend", "no-such-id", "--address", address)
        assert bad.returncode == 1 and "NOT_FOUND" in bad.stderr
    finally:
        worker.stop()
        client.close()

    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    assert time.monotonic() - started < 5
    assert _cli("health", "--address", address, "--timeout", "1").returncode == 1


def test_inspector_against_unreachable_emulator_exits_2():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = _cli("list", "--address", f"127.0.0.1:{port}")
    assert result.returncode == 2
    assert "cannot reach an emulator" in result.stderr
    assert "Traceback" not in result.stderr


def test_sigint_stops_gracefully(emulator_process):
    proc, _ = emulator_process
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=10) == 0
