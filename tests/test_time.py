"""Control of time: a clock per task hub, time skipping while a client waits, advancing by hand.

Through the real SDK client and worker on both stores. Wall time is only ever read to show that
days of orchestration time passed in seconds; no test waits for a timer in real time.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import grpc
import pytest
from durabletask import task
from durabletask.client import OrchestrationStatus, TaskHubGrpcClient
from durabletask.internal import orchestrator_service_pb2 as pb
from durabletask.internal import orchestrator_service_pb2_grpc as stubs
from durabletask.worker import TaskHubGrpcWorker

from emulator import InMemoryOrchestrationBackend
from emulator.control import ControlStub
from emulator.control import control_pb2 as cpb
from tests.helpers import wait_until

DAY = 86400.0


def _thirty_days(ctx, _):
    start = ctx.current_utc_datetime
    yield ctx.create_timer(start + timedelta(days=30))
    return (ctx.current_utc_datetime - start).total_seconds()


def _event_or_hour(ctx, _):
    timer = ctx.create_timer(ctx.current_utc_datetime + timedelta(hours=1))
    event = ctx.wait_for_external_event("go")
    winner = yield task.when_any([timer, event])
    return "event" if winner == event else "timer"


def _sleep_one_second(ctx, _):
    time.sleep(1.0)
    return "slept for real"


def _activity_or_hour(ctx, _):
    timer = ctx.create_timer(ctx.current_utc_datetime + timedelta(hours=1))
    work = ctx.call_activity(_sleep_one_second)
    winner = yield task.when_any([timer, work])
    return winner.get_result() if winner == work else "timer"


_attempts: dict[str, int] = {}
_attempts_lock = threading.Lock()


def _flaky(ctx, key):
    with _attempts_lock:
        _attempts[key] = _attempts.get(key, 0) + 1
        n = _attempts[key]
    if n < 3:
        raise RuntimeError(f"attempt {n} fails")
    return n


def _retries_hourly(ctx, key):
    policy = task.RetryPolicy(first_retry_interval=timedelta(hours=1), max_number_of_attempts=5)
    start = ctx.current_utc_datetime
    attempts = yield ctx.call_activity(_flaky, input=key, retry_policy=policy)
    return [attempts, (ctx.current_utc_datetime - start).total_seconds()]


def _two_hours(ctx, _):
    yield ctx.create_timer(ctx.current_utc_datetime + timedelta(hours=2))
    return "fired"


def _now_of(ctx, _):
    return ctx.current_utc_datetime.timestamp()


ORCHESTRATORS = [_thirty_days, _event_or_hour, _activity_or_hour, _retries_hourly, _two_hours, _now_of]
ACTIVITIES = [_sleep_one_second, _flaky]


@pytest.fixture
def skipping(backend, make_worker):
    backend.set_time_skipping(True)
    make_worker(orchestrators=ORCHESTRATORS, activities=ACTIVITIES)
    return backend


def test_thirty_day_timer_completes_in_seconds_with_the_clock_thirty_days_on(skipping, client):
    wall = time.monotonic()
    client.schedule_new_orchestration(_thirty_days, instance_id="month")
    state = client.wait_for_orchestration_completion("month", timeout=30)
    assert state.runtime_status == OrchestrationStatus.COMPLETED
    assert json.loads(state.serialized_output) >= 30 * DAY
    assert time.monotonic() - wall < 20
    assert skipping.now() >= datetime.now(timezone.utc) + timedelta(days=30) - timedelta(minutes=1)
    # every timestamp the hub reports moved with its clock
    assert state.last_updated_at.replace(tzinfo=timezone.utc) >= datetime.now(timezone.utc) + timedelta(days=29)


def test_an_event_raised_before_the_wait_beats_an_hour_timer(skipping, client):
    client.schedule_new_orchestration(_event_or_hour, instance_id="race")
    client.raise_orchestration_event("race", "go")
    assert client.wait_for_orchestration_completion("race", timeout=30).serialized_output == '"event"'


def test_a_timer_due_in_year_9999_is_a_wait_without_timeout_and_never_a_jump(backend, client):
    """Dapr's Go SDK waits for an event without a timeout beside a timer due 9999-12-31T23:59:59Z."""
    import queue

    from durabletask.internal import orchestrator_service_pb2 as pb
    from google.protobuf.timestamp_pb2 import Timestamp

    from tests.helpers import RawWorker

    backend.set_time_skipping(True)
    raw = RawWorker(backend)
    try:
        client.schedule_new_orchestration("forever", instance_id="forever")
        item = raw.next()
        never = pb.CreateTimerAction(fireAt=Timestamp(seconds=253402300799, nanos=999999999))
        raw.stub.CompleteOrchestratorTask(
            pb.OrchestratorResponse(
                instanceId="forever",
                completionToken=item.completionToken,
                actions=[pb.OrchestratorAction(id=0, createTimer=never)],
            )
        )
        with pytest.raises(TimeoutError):  # a waiting client and nothing else to do: still no jump
            client.wait_for_orchestration_completion("forever", timeout=0.5)
        assert backend.now() < datetime.now(timezone.utc) + timedelta(days=1)
        with pytest.raises(queue.Empty):
            raw.next(timeout=0.2)  # and the timer did not fire
        assert client.get_orchestration_state("forever").runtime_status == OrchestrationStatus.RUNNING
    finally:
        raw.close()


def test_no_jump_while_an_activity_runs(skipping, client):
    client.schedule_new_orchestration(_activity_or_hour, instance_id="busy")
    assert client.wait_for_orchestration_completion("busy", timeout=30).serialized_output == '"slept for real"'


def test_retry_with_an_hours_backoff_completes(skipping, client, request):
    key = request.node.name
    client.schedule_new_orchestration(_retries_hourly, input=key, instance_id="retry")
    state = client.wait_for_orchestration_completion("retry", timeout=30)
    attempts, elapsed = json.loads(state.serialized_output)
    assert attempts == 3 and elapsed >= 2 * 3600  # two backoffs of at least an hour, skipped


def test_a_start_a_week_ahead_runs(skipping, client):
    week = datetime.now(timezone.utc) + timedelta(days=7)
    client.schedule_new_orchestration(_now_of, instance_id="next-week", start_at=week)
    state = client.wait_for_orchestration_completion("next-week", timeout=30)
    assert json.loads(state.serialized_output) >= week.timestamp()


def test_advance_fires_a_timer_with_nobody_waiting(backend, client, make_worker):
    make_worker(orchestrators=ORCHESTRATORS, activities=ACTIVITIES)
    client.schedule_new_orchestration(_two_hours, instance_id="advanced")
    wait_until(lambda: backend.engine.hub()._scheduler.pending(owner=backend.engine.hub()), what="the timer")
    before = backend.now()
    after = backend.advance_time(timedelta(hours=2))
    assert after - before >= timedelta(hours=2)
    assert client.wait_for_orchestration_completion("advanced", timeout=30).serialized_output == '"fired"'


def test_skipping_off_keeps_real_time(backend, client, make_worker):
    make_worker(orchestrators=ORCHESTRATORS, activities=ACTIVITIES)
    client.schedule_new_orchestration(_two_hours, instance_id="real-time")
    with pytest.raises(TimeoutError):
        client.wait_for_orchestration_completion("real-time", timeout=1)
    assert client.get_orchestration_state("real-time").runtime_status == OrchestrationStatus.RUNNING
    assert abs((backend.now() - datetime.now(timezone.utc)).total_seconds()) < 5


def test_two_hubs_skip_independently(backend):
    backend.set_time_skipping(True, task_hub="fast")
    made = []
    try:
        for hub in ("fast", "slow"):
            worker = TaskHubGrpcWorker(host_address=backend.address, metadata=[("taskhub", hub)])
            worker.add_orchestrator(_thirty_days)
            worker.start()
            made.append(worker)
        fast = TaskHubGrpcClient(host_address=backend.address, metadata=[("taskhub", "fast")])
        slow = TaskHubGrpcClient(host_address=backend.address, metadata=[("taskhub", "slow")])
        made += [fast, slow]
        slow.schedule_new_orchestration(_thirty_days, instance_id="m")
        fast.schedule_new_orchestration(_thirty_days, instance_id="m")
        with pytest.raises(TimeoutError):
            slow.wait_for_orchestration_completion("m", timeout=1)
        assert fast.wait_for_orchestration_completion("m", timeout=30).runtime_status == OrchestrationStatus.COMPLETED
        assert slow.get_orchestration_state("m").runtime_status == OrchestrationStatus.RUNNING
        assert backend.now("fast") - backend.now("slow") >= timedelta(days=29)
        assert backend.now() < backend.now("fast")  # the default hub kept its own time too
    finally:
        for thing in made:
            (thing.stop if isinstance(thing, TaskHubGrpcWorker) else thing.close)()


def test_delayed_entity_signal_arrives_when_time_is_advanced(backend):
    stub = stubs.TaskHubSidecarServiceStub(grpc.insecure_channel(backend.address))
    request = pb.SignalEntityRequest(instanceId="@counter@later", name="add", requestId="r1")
    request.scheduledTime.FromDatetime(datetime.now(timezone.utc) + timedelta(minutes=10))
    stub.SignalEntity(request)
    hub = backend.engine.hub()
    assert hub.snapshot().entities[0].backlog == 0  # not delivered early
    backend.advance_time(timedelta(minutes=10))
    wait_until(lambda: hub.snapshot().entities[0].backlog == 1, what="the delayed signal to arrive")


def test_the_clock_never_goes_back_and_survives_a_restart(tmp_path):
    db = str(tmp_path / "clock.db")
    with InMemoryOrchestrationBackend(port=0, db_path=db) as backend:
        backend.advance_time(timedelta(days=10), task_hub="kept")
        backend.set_time_skipping(True, task_hub="kept")
        with pytest.raises(Exception, match="time only moves forward"):
            backend.advance_time(timedelta(seconds=-1), task_hub="kept")
    with InMemoryOrchestrationBackend(port=0, db_path=db) as backend:
        assert backend.now("kept") >= datetime.now(timezone.utc) + timedelta(days=10) - timedelta(minutes=1)
        assert backend.engine.hub("kept").clock.skipping
        assert backend.now() < datetime.now(timezone.utc) + timedelta(minutes=1)


def test_control_service_reads_and_moves_time(backend):
    control = ControlStub(grpc.insecure_channel(backend.address))
    reply = control.GetTime(cpb.GetTimeRequest(task_hub="ctl"))
    assert reply.task_hub == "ctl" and not reply.time_skipping
    request = cpb.AdvanceTimeRequest(task_hub="ctl")
    request.duration.FromTimedelta(timedelta(days=3))
    moved = control.AdvanceTime(request)
    assert moved.offset.ToTimedelta() >= timedelta(days=3)
    assert moved.now.ToDatetime() - reply.now.ToDatetime() >= timedelta(days=3)
    assert control.SetTimeSkipping(cpb.SetTimeSkippingRequest(task_hub="ctl", enabled=True)).time_skipping
    request.duration.FromTimedelta(timedelta(seconds=-5))
    with pytest.raises(grpc.RpcError) as err:
        control.AdvanceTime(request)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "only moves forward" in err.value.details()


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emulator", *args], capture_output=True, text=True, timeout=30)


def test_time_commands(backend):
    address = ["--address", backend.address]
    shown = json.loads(_cli("time", *address, "--task-hub", "cli", "--json").stdout)
    assert shown["taskHub"] == "cli" and shown["timeSkipping"] is False
    moved = json.loads(_cli("time", *address, "--task-hub", "cli", "--json", "advance", "1h30m").stdout)
    assert moved["offsetSeconds"] >= 5400
    on = _cli("time", *address, "--task-hub", "cli", "skipping", "on")
    assert on.returncode == 0 and "task hub cli:" in on.stdout and "(skipping;" in on.stdout
    bad = _cli("time", *address, "advance", "soon")
    assert bad.returncode == 2 and "'soon' is not a duration" in bad.stderr
    assert backend.engine.hub("cli").clock.skipping
    listed = {h["name"]: h for h in json.loads(_cli("hubs", *address, "--json").stdout)}
    assert listed["cli"]["timeSkipping"] and not listed["default"]["timeSkipping"]
    assert datetime.fromisoformat(listed["cli"]["now"]) - datetime.fromisoformat(listed["default"]["now"]) >= (
        timedelta(hours=1, minutes=29)
    )
    table = _cli("hubs", *address).stdout  # piped: wide enough for every column
    assert re.search(r"cli\s.*\d{4}-\d\d-\d\d \d\d:\d\d:\d\d skipping", table), table


def test_pytest_marker_gives_the_hub_time_skipping(tmp_path):
    suite = tmp_path / "test_marked.py"
    suite.write_text(
        "import json, pytest\n"
        "from datetime import timedelta\n"
        "def wait_a_day(ctx, _):\n"
        "    yield ctx.create_timer(ctx.current_utc_datetime + timedelta(days=1))\n"
        "    return 'a day later'\n"
        "@pytest.mark.time_skipping\n"
        "def test_day(durabletask_hub):\n"
        "    durabletask_hub.worker(orchestrators=[wait_a_day])\n"
        "    c = durabletask_hub.client()\n"
        "    c.schedule_new_orchestration(wait_a_day, instance_id='d')\n"
        "    assert c.wait_for_orchestration_completion('d', timeout=20).serialized_output == '\"a day later\"'\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(suite)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0 and "1 passed" in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_reset_gives_the_hub_a_fresh_clock(store, tmp_path):
    db = str(tmp_path / "reset.db") if store == "sqlite" else None
    with InMemoryOrchestrationBackend(port=0, db_path=db) as backend:
        backend.advance_time(timedelta(days=3), task_hub="reused")
        backend.set_time_skipping(True, task_hub="reused")
        backend.reset(task_hub="reused")
        assert abs((backend.now("reused") - datetime.now(timezone.utc)).total_seconds()) < 5
        assert not backend.engine.hub("reused").clock.skipping
    if db:  # and the file says so too
        with InMemoryOrchestrationBackend(port=0, db_path=db) as backend:
            assert backend.now("reused") < datetime.now(timezone.utc) + timedelta(minutes=1)
    with InMemoryOrchestrationBackend(port=0, time_skipping=True) as backend:
        backend.advance_time(timedelta(days=1))
        backend.reset()
        assert backend.engine.hub().clock.skipping  # skipping as the emulator was started
