"""Reliability: lease timeouts for hung workers, and injected faults (duplicates, dropped streams,
delays) that make at-least-once delivery visible. Real SDK workers and raw protocol workers over
gRPC, on both stores."""

from __future__ import annotations

import json
import logging
import queue
import subprocess
import sys
import threading
import time

import grpc
import pytest
from durabletask import task
from durabletask.client import OrchestrationStatus, TaskHubGrpcClient
from durabletask.internal import orchestrator_service_pb2 as pb
from durabletask.worker import TaskHubGrpcWorker
from rich.console import Console

from emulator import InMemoryOrchestrationBackend
from emulator.console import View, render
from emulator.engine.faults import Faults, FaultSpec
from tests.helpers import RawWorker, complete_orchestration, raw_stub, wait_until


@pytest.fixture(params=["memory", "sqlite"])
def start_backend(request, tmp_path):
    """``start_backend(lease_timeout=..., faults=...)``: a started emulator on a free port, on this store."""
    made = []

    def start(**options) -> InMemoryOrchestrationBackend:
        db = str(tmp_path / "emulator.db") if request.param == "sqlite" else None
        backend = InMemoryOrchestrationBackend(port=0, db_path=db, **options)
        backend.start()
        made.append(backend)
        return backend

    yield start
    for backend in made:
        backend.stop()


@pytest.fixture
def sdk(request):
    """``client, worker = sdk(backend, orchestrators, activities)``, closed at the end."""
    made = []

    def make(backend, orchestrators=(), activities=()):
        worker = TaskHubGrpcWorker(host_address=backend.address)
        for o in orchestrators:
            worker.add_orchestrator(o)
        for a in activities:
            worker.add_activity(a)
        worker.start()
        client = TaskHubGrpcClient(host_address=backend.address)
        made.append((client, worker))
        return client, worker

    yield make
    for client, worker in made:
        worker.stop()
        client.close()


def _header(backend) -> str:
    console = Console(record=True, width=200, force_terminal=True)
    console.print(render(View(address=backend.address, snapshot=backend.engine.snapshot())))
    return console.export_text()


# ---------------------------------------------------------------- lease timeout


def test_an_orchestrator_item_not_completed_in_time_is_delivered_again_and_the_late_answer_refused(start_backend):
    backend = start_backend(lease_timeout=0.5)
    stub = raw_stub(backend)
    hung = RawWorker(backend)
    try:
        stub.StartInstance(pb.CreateInstanceRequest(instanceId="stuck", name="anything"))
        first = hung.next()
        again = hung.next(timeout=10)  # the only worker gets it again once the lease ran out
        assert again.orchestratorRequest.instanceId == "stuck" and again.completionToken != first.completionToken
        with pytest.raises(grpc.RpcError) as err:
            complete_orchestration(stub, first, '"late"')
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert f"the lease on the work item with completion token '{first.completionToken}' expired" in (
            err.value.details()
        )
        assert "lease timeout of 0.5s" in err.value.details()
        complete_orchestration(stub, again, '"on time"')
        done = stub.WaitForInstanceCompletion(pb.GetInstanceRequest(instanceId="stuck", getInputsAndOutputs=True))
        assert done.orchestrationState.output.value == '"on time"'
        assert "leases expired 1" in _header(backend)
    finally:
        hung.close()


_hang = threading.Event()
_runs: list[str] = []


def _hangs_first_time(ctx, key):
    _runs.append(key)
    if len(_runs) == 1:
        _hang.wait(30)  # a deadlocked activity (released at the end of the test)
    return f"{key} done"


def _calls_the_hanging_activity(ctx, key):
    return (yield ctx.call_activity(_hangs_first_time, input=key))


def test_a_hung_activity_is_run_again_and_the_orchestration_completes(start_backend, sdk, caplog):
    _runs.clear()
    _hang.clear()
    backend = start_backend(lease_timeout=1)
    client, _ = sdk(backend, [_calls_the_hanging_activity], [_hangs_first_time])
    try:
        client.schedule_new_orchestration(_calls_the_hanging_activity, input="k", instance_id="hung")
        state = client.wait_for_orchestration_completion("hung", timeout=20)
        assert state.runtime_status == OrchestrationStatus.COMPLETED and state.serialized_output == '"k done"'
        assert _runs == ["k", "k"]
        assert "was not completed within the lease timeout of 1s" in caplog.text
    finally:
        _hang.set()


def test_lease_timeout_zero_never_redelivers(start_backend):
    backend = start_backend(lease_timeout=0)
    hung = RawWorker(backend)
    try:
        raw_stub(backend).StartInstance(pb.CreateInstanceRequest(instanceId="kept", name="anything"))
        hung.next()
        with pytest.raises(queue.Empty):  # nothing comes again
            hung.next(timeout=1.5)
        assert "leases expired" not in _header(backend)
    finally:
        hung.close()


# ---------------------------------------------------------------- injected faults

_invocations: dict[str, int] = {}
_invocations_lock = threading.Lock()


def _idempotent_square(ctx, n):
    with _invocations_lock:
        _invocations[f"{ctx.orchestration_id}/{n}"] = _invocations.get(f"{ctx.orchestration_id}/{n}", 0) + 1
    return n * n


def _slow_square(ctx, n):
    time.sleep(0.1)  # real work that a dropped stream interrupts
    return _idempotent_square(ctx, n)


def _slow_chain(ctx, count):
    total = 0
    for i in range(count):
        total += yield ctx.call_activity(_slow_square, input=i)
    return total


def _fan_out_squares(ctx, count):
    results = yield task.when_all([ctx.call_activity(_idempotent_square, input=i) for i in range(count)])
    return sum(results)


def _chain_squares(ctx, count):
    total = 0
    for i in range(count):
        total += yield ctx.call_activity(_idempotent_square, input=i)
    return total


def test_duplicate_delivery_runs_activities_twice_and_the_result_counts_once(start_backend, sdk):
    _invocations.clear()
    backend = start_backend(faults="duplicate=1,seed=3")
    client, _ = sdk(backend, [_fan_out_squares], [_idempotent_square])
    client.schedule_new_orchestration(_fan_out_squares, input=6, instance_id="dup")
    state = client.wait_for_orchestration_completion("dup", timeout=20)
    assert state.runtime_status == OrchestrationStatus.COMPLETED and json.loads(state.serialized_output) == 55
    wait_until(lambda: len(_invocations) == 6 and all(n == 2 for n in _invocations.values()), what="second copies")
    history = list(raw_stub(backend).StreamInstanceHistory(pb.StreamInstanceHistoryRequest(instanceId="dup")))
    completed = [e for chunk in history for e in chunk.events if e.HasField("taskCompleted")]
    assert len(completed) == 6  # each task's result once
    assert backend.engine.snapshot().faults == {"duplicate": 6}
    assert "faults injected: duplicate 6" in _header(backend)


def test_dropped_worker_streams_are_survived_with_the_sdks_reconnect(start_backend, sdk, caplog):
    caplog.set_level(logging.INFO, logger="emulator")
    _invocations.clear()
    backend = start_backend(faults="disconnect=200ms-400ms,seed=11")
    client, _ = sdk(backend, [_slow_chain], [_slow_square])
    ids = [client.schedule_new_orchestration(_slow_chain, input=8, instance_id=f"drop-{i}") for i in range(3)]
    for iid in ids:
        state = client.wait_for_orchestration_completion(iid, timeout=60)
        assert state.runtime_status == OrchestrationStatus.COMPLETED and json.loads(state.serialized_output) == 140
    # the run took more than a second (8 activities of 0.1 s in a row), so streams were dropped mid-work
    assert backend.engine.snapshot().faults.get("disconnect", 0) >= 2
    assert "fault injected: ending worker" in caplog.text


def test_delayed_work_items_still_complete_in_order(start_backend, sdk):
    _invocations.clear()
    backend = start_backend(faults="delay=20ms-80ms,seed=5")
    client, _ = sdk(backend, [_chain_squares], [_idempotent_square])
    client.schedule_new_orchestration(_chain_squares, input=5, instance_id="late")
    state = client.wait_for_orchestration_completion("late", timeout=30)
    assert state.runtime_status == OrchestrationStatus.COMPLETED and json.loads(state.serialized_output) == 30
    # every orchestrator and activity item was held: 5 activities, 6 orchestrator turns
    assert backend.engine.snapshot().faults["delay"] >= 11


def test_the_same_seed_makes_the_same_choices():
    spec = FaultSpec.parse("duplicate=0.5,delay=0-1s,disconnect=1s-9s,seed=42")
    runs = []
    for _ in range(2):
        faults = Faults(spec)
        runs.append([(faults.duplicate(), faults.delay(), faults.disconnect_after()) for _ in range(20)])
    assert runs[0] == runs[1]
    assert Faults(FaultSpec.parse("delay=1ms")).spec.seed is not None  # a chosen seed is reported


@pytest.mark.parametrize(
    "spec, message",
    [
        ("duplicate=2", "duplicate: '2' is not a fraction between 0 and 1"),
        ("delay=fast", "delay: 'fast' is not a duration"),
        ("delay=2s-1s", "delay: the range '2s-1s' ends before it starts"),
        ("disconnect=0", "disconnect: the shortest time must be more than 0"),
        ("seed=x", "seed: 'x' is not a whole number"),
        ("explode=1", "unknown fault 'explode'"),
        ("duplicate", "'duplicate' is not KEY=VALUE"),
        ("seed=4", "no fault given"),
        ("delay=1s,delay=2s", "'delay' is given twice"),
    ],
)
def test_a_bad_fault_spec_says_what_is_wrong(spec, message):
    with pytest.raises(ValueError) as err:
        InMemoryOrchestrationBackend(port=0, faults=spec)
    assert message in str(err.value)
    cli = subprocess.run(
        [sys.executable, "-m", "emulator", "start", "--port", "0", "--no-console", "--faults", spec],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert cli.returncode == 2 and message in cli.stderr


def test_start_prints_the_faults_and_their_seed(tmp_path):
    from tests.test_cli import _start

    proc, _ = _start("--port", "0", "--faults", "duplicate=0.25,seed=9", "--lease-timeout", "30")
    try:
        assert "faults duplicate=0.25,seed=9" in proc.banner
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_cancelled_lease_timers_let_go_of_their_work_items_and_do_not_pile_up(backend, client, make_worker):
    """Every work item has a lease timer (300 s), cancelled when it completes: the timer must drop
    the lease (and so the work item's history) at once, and the heap must not keep every cancelled
    one until it is due (the memory benchmark went from 1.8 to 10 KiB per instance)."""
    from emulator.engine.clock import COMPACT_EVERY

    make_worker(orchestrators=[_chain_squares], activities=[_idempotent_square])
    ids = [client.schedule_new_orchestration(_chain_squares, input=2) for _ in range(COMPACT_EVERY // 2)]
    for iid in ids:
        assert client.wait_for_orchestration_completion(iid, timeout=30).runtime_status == OrchestrationStatus.COMPLETED
    heap = backend._server.engine._scheduler._heap
    assert [h for h in heap if h.cancelled and h.callback is not None] == []
    # 5 work items an instance, so about 2.5 compaction intervals of lease timers were pushed
    assert len(heap) < 2 * COMPACT_EVERY, len(heap)
