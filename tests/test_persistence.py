"""--db FILE: state survives restarts and crashes; foreign, newer and locked files are refused untouched."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone

import grpc
import pytest
from durabletask import entities
from durabletask.client import OrchestrationStatus, TaskHubGrpcClient
from durabletask.internal import orchestrator_service_pb2 as pb
from durabletask.internal import orchestrator_service_pb2_grpc as stubs
from durabletask.worker import TaskHubGrpcWorker

from emulator import InMemoryOrchestrationBackend
from tests.helpers import wait_until

BANNER = re.compile(r"listening on (\S+:\d+)")


def _double(ctx, x):
    return x * 2


def _waits_for_go(ctx, x):
    doubled = yield ctx.call_activity(_double, input=x)
    ctx.set_custom_status({"doubled": doubled})
    go = yield ctx.wait_for_external_event("go")
    return [doubled, go]


def _sleeps(ctx, seconds):
    fire_at = ctx.current_utc_datetime + timedelta(seconds=seconds)
    yield ctx.create_timer(fire_at)
    return fire_at.isoformat()


def _fails(ctx, _):
    raise RuntimeError("kept across restarts")


def _chain(ctx, n):
    total = 0
    for i in range(n):
        total += yield ctx.call_activity(_double, input=i)
    return total


def _counter(ctx: entities.EntityContext, value):
    if ctx.operation == "add":
        ctx.set_state(ctx.get_state(int, 0) + value)


def _worker(address: str) -> TaskHubGrpcWorker:
    worker = TaskHubGrpcWorker(host_address=address)
    for o in (_waits_for_go, _sleeps, _fails, _chain):
        worker.add_orchestrator(o)
    worker.add_activity(_double)
    worker.add_entity(_counter)
    worker.start()
    return worker


def test_restart_keeps_instances_history_entities_and_timers(tmp_path):
    db = str(tmp_path / "state.db")
    counter = entities.EntityInstanceId("_counter", "kept")

    backend = InMemoryOrchestrationBackend(port=0, db_path=db)
    backend.start()
    client = TaskHubGrpcClient(host_address=backend.address)
    worker = _worker(backend.address)
    try:
        client.schedule_new_orchestration(_fails, instance_id="failed")
        client.schedule_new_orchestration(_waits_for_go, input=21, instance_id="waiting", tags={"team": "a"})
        client.schedule_new_orchestration(_waits_for_go, input=1, instance_id="suspended")
        client.schedule_new_orchestration(_sleeps, input=3, instance_id="timer")
        later = datetime.now(timezone.utc) + timedelta(seconds=2)
        client.schedule_new_orchestration(_waits_for_go, input=5, instance_id="scheduled", start_at=later)
        client.signal_entity(counter, "add", 7)
        client.wait_for_orchestration_completion("failed", timeout=10)
        wait_until(
            lambda: (s := client.get_orchestration_state("waiting")) and s.serialized_custom_status,
            what="custom status",
        )
        wait_until(lambda: client.get_orchestration_state("suspended").serialized_custom_status, what="suspended")
        client.suspend_orchestration("suspended")
        client.wait_for_orchestration_start("timer", timeout=10)
        wait_until(lambda: client.get_entity(counter), what="entity state")
        before = {i: client.get_orchestration_state(i) for i in ("failed", "waiting", "suspended", "timer")}
        histories = {i: client.get_orchestration_history(i) for i in ("failed", "waiting")}
    finally:
        worker.stop()
        client.close()
        backend.stop()

    restarted = InMemoryOrchestrationBackend(port=0, db_path=db)
    restarted.start()
    client = TaskHubGrpcClient(host_address=restarted.address)
    try:
        for iid, old in before.items():
            new = client.get_orchestration_state(iid)
            assert new.runtime_status == old.runtime_status, iid
            assert new.serialized_input == old.serialized_input
            assert new.serialized_custom_status == old.serialized_custom_status
            assert new.created_at == old.created_at
        with grpc.insecure_channel(restarted.address) as channel:
            raw = stubs.TaskHubSidecarServiceStub(channel).GetInstance(pb.GetInstanceRequest(instanceId="waiting"))
        assert dict(raw.orchestrationState.tags) == {"team": "a"}
        failed = client.get_orchestration_state("failed")
        assert failed.failure_details.message == "kept across restarts"
        for iid, events in histories.items():
            assert [type(e).__name__ for e in client.get_orchestration_history(iid)] == [
                type(e).__name__ for e in events
            ]
        assert client.get_entity(counter).get_state(int) == 7
        assert client.get_orchestration_state("scheduled").runtime_status == OrchestrationStatus.PENDING

        worker = _worker(restarted.address)
        try:
            client.raise_orchestration_event("waiting", "go", data="after restart")
            done = client.wait_for_orchestration_completion("waiting", timeout=10)
            assert json.loads(done.serialized_output) == [42, "after restart"]
            timer = client.wait_for_orchestration_completion("timer", timeout=10)
            assert timer.runtime_status == OrchestrationStatus.COMPLETED
            fire_at = datetime.fromisoformat(json.loads(timer.serialized_output)).replace(tzinfo=timezone.utc)
            assert datetime.now(timezone.utc) >= fire_at
            client.raise_orchestration_event("suspended", "go", data="resumed")
            assert client.get_orchestration_state("suspended").runtime_status == OrchestrationStatus.SUSPENDED
            client.resume_orchestration("suspended")
            assert client.wait_for_orchestration_completion("suspended", timeout=10).runtime_status == (
                OrchestrationStatus.COMPLETED
            )
            client.wait_for_orchestration_start("scheduled", timeout=10)
            assert datetime.now(timezone.utc) >= later
            client.signal_entity(counter, "add", 1)
            wait_until(lambda: client.get_entity(counter).get_state(int) == 8, what="entity update")
        finally:
            worker.stop()
    finally:
        client.close()
        restarted.stop()


def _start_emulator(db: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "emulator", "start", "--no-console", "--port", "0", "--db", db],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    match = BANNER.search(line)
    assert match, f"no banner: {line!r} {proc.stderr.read() if proc.poll() is not None else ''}"
    return proc, match.group(1)


@pytest.mark.timeout(120)
def test_kill_9_under_load_loses_nothing_acknowledged(tmp_path):
    db = str(tmp_path / "crash.db")
    proc, address = _start_emulator(db)
    client = TaskHubGrpcClient(host_address=address)
    worker = _worker(address)
    acknowledged: list[str] = []
    stop_starting = threading.Event()

    def keep_starting():
        i = 0
        while not stop_starting.is_set() and i < 200:  # bounded: the worker must keep up
            try:
                acknowledged.append(client.schedule_new_orchestration(_chain, input=8, instance_id=f"load-{i}"))
            except Exception:
                return  # the emulator died under us: this one was not acknowledged
            i += 1

    starter = threading.Thread(target=keep_starting)
    try:
        starter.start()
        wait_until(lambda: len(acknowledged) >= 40, timeout=30, what="40 acknowledged starts")
        completed_before = wait_until(
            lambda: [
                i
                for i in list(acknowledged)[:40]
                if (s := client.get_orchestration_state(i)) and s.runtime_status == OrchestrationStatus.COMPLETED
            ],
            timeout=30,
            what="some completions",
        )
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        stop_starting.set()
        starter.join(timeout=30)
    finally:
        _abandon(worker)
        client.close()
        if proc.poll() is None:
            proc.kill()

    proc, address = _start_emulator(db)
    client = TaskHubGrpcClient(host_address=address)
    worker = _worker(address)
    try:
        expected = sum(2 * i for i in range(8))
        for iid in acknowledged:
            state = client.wait_for_orchestration_completion(iid, timeout=30)
            assert state is not None, f"{iid} was acknowledged but is gone"
            assert state.runtime_status == OrchestrationStatus.COMPLETED, (iid, state.failure_details)
            assert json.loads(state.serialized_output) == expected
            results = [
                e.task_scheduled_id
                for e in client.get_orchestration_history(iid)
                if type(e).__name__ == "TaskCompletedEvent"
            ]
            assert len(results) == len(set(results)) == 8, f"{iid}: an activity result was applied twice"
        assert set(completed_before) <= set(acknowledged)
    finally:
        worker.stop()
        client.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def _abandon(worker: TaskHubGrpcWorker) -> None:
    """Stop a worker whose emulator was killed: the SDK's stop() can wait forever on a dead server."""
    stopper = threading.Thread(target=worker.stop, daemon=True)
    stopper.start()
    stopper.join(timeout=5)


def _refused(db: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "emulator", "start", "--no-console", "--port", "0", "--db", db],
        capture_output=True,
        text=True,
        timeout=30,
    )


def _digest(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.mark.parametrize("kind", ["text", "other-sqlite", "newer-schema"])
def test_unusable_file_is_refused_and_left_untouched(tmp_path, kind):
    path = str(tmp_path / f"{kind}.db")
    if kind == "text":
        with open(path, "w") as f:
            f.write("not a database at all\n" * 100)
    elif kind == "other-sqlite":
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
            db.execute("INSERT INTO invoices VALUES (1, 9.5)")
    else:
        InMemoryOrchestrationBackend(port=0, db_path=path).engine.close()  # a real emulator file
        db = sqlite3.connect(path)
        db.execute("PRAGMA user_version=99")
        db.execute("PRAGMA journal_mode=DELETE")  # fold the WAL into the file before taking its digest
        db.close()
    before = _digest(path)
    result = _refused(path)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.stderr
    expected = "newer than this emulator" if kind == "newer-schema" else "is not"
    assert expected in errors[0]
    assert _digest(path) == before
    assert not os.path.exists(path + "-wal") or os.path.getsize(path + "-wal") == 0


def test_file_in_use_by_running_emulator_is_refused(tmp_path):
    db = str(tmp_path / "busy.db")
    proc, _ = _start_emulator(db)
    try:
        result = _refused(db)
        assert result.returncode == 1
        assert "in use by another running emulator" in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_inspector_reads_a_stopped_emulators_file(tmp_path):
    db = str(tmp_path / "inspect.db")
    backend = InMemoryOrchestrationBackend(port=0, db_path=db)
    backend.start()
    client = TaskHubGrpcClient(host_address=backend.address)
    worker = _worker(backend.address)
    try:
        client.wait_for_orchestration_completion(
            client.schedule_new_orchestration(_chain, input=2, instance_id="kept"), timeout=10
        )
    finally:
        worker.stop()
        client.close()
        backend.stop()

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "emulator", *args, "--db", db], capture_output=True, text=True, timeout=30
        )

    listed = json.loads(cli("list", "--json").stdout)
    assert [(r["instanceId"], r["status"]) for r in listed] == [("kept", "COMPLETED")]
    shown = cli("show", "kept")
    assert "COMPLETED" in shown.stdout and "taskCompleted" in shown.stdout
    exported = json.loads(cli("export", "kept").stdout)
    assert exported["instance"]["output"] == "2"
    assert cli("show", "missing").returncode == 1
