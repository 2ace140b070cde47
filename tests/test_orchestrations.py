"""Orchestration features through the real SDK client and worker over real gRPC."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone

import durabletask.internal.orchestrator_service_pb2 as pb
import grpc
import pytest
from durabletask import task
from durabletask.client import OrchestrationStatus
from durabletask.internal import orchestrator_service_pb2_grpc as stubs

from tests.helpers import wait_until


def _utc(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def say_hello(ctx, name):
    return f"Hello, {name}!"


def add_one(ctx, x):
    return x + 1


def hello_orchestrator(ctx, name):
    return (yield ctx.call_activity(say_hello, input=name))


def test_one_activity(client, make_worker):
    make_worker(orchestrators=[hello_orchestrator], activities=[say_hello])
    iid = client.schedule_new_orchestration(hello_orchestrator, input="World")
    state = client.wait_for_orchestration_completion(iid, timeout=10)
    assert state.runtime_status == OrchestrationStatus.COMPLETED
    assert state.serialized_output == '"Hello, World!"'
    assert state.serialized_input == '"World"'


def chain(ctx, start):
    value = start
    for _ in range(5):
        value = yield ctx.call_activity(add_one, input=value)
    return value


def test_activity_chain(client, make_worker):
    make_worker(orchestrators=[chain], activities=[add_one])
    iid = client.schedule_new_orchestration(chain, input=10)
    state = client.wait_for_orchestration_completion(iid, timeout=10)
    assert state.serialized_output == "15"
    history = client.get_orchestration_history(iid)
    scheduled = [e for e in history if type(e).__name__ == "TaskScheduledEvent"]
    assert len(scheduled) == 5


def fan_out(ctx, n):
    tasks = [ctx.call_activity(add_one, input=i) for i in range(n)]
    results = yield task.when_all(tasks)
    return sum(results)


@pytest.mark.slow
def test_fan_out_fan_in_of_1000_activities(client, make_worker):
    make_worker(orchestrators=[fan_out], activities=[add_one])
    iid = client.schedule_new_orchestration(fan_out, input=1000)
    state = client.wait_for_orchestration_completion(iid, timeout=50)
    assert state.runtime_status == OrchestrationStatus.COMPLETED
    assert json.loads(state.serialized_output) == sum(range(1, 1001))


def grandchild(ctx, x):
    return (yield ctx.call_activity(add_one, input=x))


def child(ctx, x):
    inner = yield ctx.call_sub_orchestrator(grandchild, input=x * 10)
    return inner + 1


def parent(ctx, x):
    a = yield ctx.call_sub_orchestrator(child, input=x)
    b = yield ctx.call_sub_orchestrator(child, input=x + 1, instance_id=f"{ctx.instance_id}-explicit-child")
    return [a, b]


def test_sub_orchestrations_nested_two_deep_and_with_explicit_ids(backend, client, make_worker):
    make_worker(orchestrators=[parent, child, grandchild], activities=[add_one])
    iid = client.schedule_new_orchestration(parent, input=1, instance_id="nest")
    state = client.wait_for_orchestration_completion(iid, timeout=10)
    assert json.loads(state.serialized_output) == [12, 22]
    explicit = client.get_orchestration_state("nest-explicit-child")
    assert explicit.runtime_status == OrchestrationStatus.COMPLETED
    assert explicit.serialized_output == "22"
    # children know their parent
    with grpc.insecure_channel(backend.address) as channel:
        raw = stubs.TaskHubSidecarServiceStub(channel).GetInstance(
            pb.GetInstanceRequest(instanceId="nest-explicit-child")
        )
    assert raw.orchestrationState.parentInstanceId.value == "nest"


def waits_for_event(ctx, _):
    first = yield ctx.call_activity(gate, input=None)
    approval = yield ctx.wait_for_external_event("approval")
    return [first, approval]


_gate = threading.Event()


def gate(ctx, _):
    assert _gate.wait(10)
    return "gate-opened"


def test_event_raised_before_the_wait_is_buffered(client, make_worker):
    _gate.clear()
    make_worker(orchestrators=[waits_for_event], activities=[gate])
    iid = client.schedule_new_orchestration(waits_for_event)
    client.wait_for_orchestration_start(iid, timeout=10)
    client.raise_orchestration_event(iid, "approval", data="early")  # the orchestrator is still in the activity
    _gate.set()
    state = client.wait_for_orchestration_completion(iid, timeout=10)
    assert json.loads(state.serialized_output) == ["gate-opened", "early"]


def only_waits(ctx, _):
    return (yield ctx.wait_for_external_event("approval"))


def test_event_raised_after_the_wait(client, make_worker):
    make_worker(orchestrators=[only_waits])
    iid = client.schedule_new_orchestration(only_waits)
    client.wait_for_orchestration_start(iid, timeout=10)
    assert client.get_orchestration_state(iid).runtime_status == OrchestrationStatus.RUNNING
    client.raise_orchestration_event(iid, "approval", data={"by": "ana"})
    state = client.wait_for_orchestration_completion(iid, timeout=10)
    assert json.loads(state.serialized_output) == {"by": "ana"}


def event_or_timeout(ctx, seconds):
    event = ctx.wait_for_external_event("go")
    timer = ctx.create_timer(ctx.current_utc_datetime + timedelta(seconds=seconds))
    winner = yield task.when_any([event, timer])
    return "event" if winner == event else "timer"


def test_when_any_event_wins(client, make_worker):
    make_worker(orchestrators=[event_or_timeout])
    iid = client.schedule_new_orchestration(event_or_timeout, input=30)
    client.wait_for_orchestration_start(iid, timeout=10)
    client.raise_orchestration_event(iid, "go")
    assert client.wait_for_orchestration_completion(iid, timeout=10).serialized_output == '"event"'


def test_when_any_timer_wins(client, make_worker):
    make_worker(orchestrators=[event_or_timeout])
    iid = client.schedule_new_orchestration(event_or_timeout, input=0.5)
    assert client.wait_for_orchestration_completion(iid, timeout=10).serialized_output == '"timer"'


def sleeper(ctx, seconds):
    fire_at = ctx.current_utc_datetime + timedelta(seconds=seconds)
    yield ctx.create_timer(fire_at)
    return [fire_at.isoformat(), ctx.current_utc_datetime.isoformat()]


def test_timer_fires_at_its_time_never_before(client, make_worker):
    make_worker(orchestrators=[sleeper])
    started = datetime.now(timezone.utc)
    iid = client.schedule_new_orchestration(sleeper, input=1.2)
    state = client.wait_for_orchestration_completion(iid, timeout=10)
    finished = datetime.now(timezone.utc)
    fire_at, resumed_at = (_utc(datetime.fromisoformat(t)) for t in json.loads(state.serialized_output))
    assert resumed_at >= fire_at  # the orchestration's clock after the timer is at or past fireAt
    assert finished >= fire_at
    assert (finished - started).total_seconds() >= 1.2
    fired = [e for e in client.get_orchestration_history(iid) if type(e).__name__ == "TimerFiredEvent"]
    assert len(fired) == 1 and _utc(fired[0].timestamp) >= fire_at


def counts_up(ctx, n):
    if n < 3:
        ctx.continue_as_new(n + 1)
        return None
    return n


def test_continue_as_new(client, make_worker):
    make_worker(orchestrators=[counts_up])
    iid = client.schedule_new_orchestration(counts_up, input=0)
    state = client.wait_for_orchestration_completion(iid, timeout=10)
    assert state.serialized_output == "3"
    assert state.serialized_input == "3"
    history = client.get_orchestration_history(iid)
    starts = [e for e in history if type(e).__name__ == "ExecutionStartedEvent"]
    assert len(starts) == 1  # only the last execution's history is kept


def collects_events(ctx, state):
    items = list(state or [])
    item = yield ctx.wait_for_external_event("item")
    items.append(item)
    if len(items) < 3:
        yield ctx.call_activity(gate, input=None)  # more events arrive meanwhile, unprocessed
        ctx.continue_as_new(items, save_events=SAVE_EVENTS["value"])
        return None
    return items


SAVE_EVENTS = {"value": True}


@pytest.mark.parametrize("save_events", [True, False])
def test_continue_as_new_with_and_without_carrying_unprocessed_events(client, make_worker, save_events):
    SAVE_EVENTS["value"] = save_events
    _gate.clear()
    make_worker(orchestrators=[collects_events], activities=[gate])
    iid = client.schedule_new_orchestration(collects_events, input=[])
    client.wait_for_orchestration_start(iid, timeout=10)
    client.raise_orchestration_event(iid, "item", data=1)
    wait_until(lambda: any(type(e).__name__ == "TaskScheduledEvent" for e in client.get_orchestration_history(iid)))
    # raised while the first execution waits in its activity: received but not processed by it
    client.raise_orchestration_event(iid, "item", data=2)
    client.raise_orchestration_event(iid, "item", data=3)
    wait_until(lambda: _inbox_delivered(client, iid))
    _gate.set()
    if save_events:
        state = client.wait_for_orchestration_completion(iid, timeout=10)
        assert json.loads(state.serialized_output) == [1, 2, 3]
    else:
        with pytest.raises(TimeoutError):
            client.wait_for_orchestration_completion(iid, timeout=1.5)
        assert client.get_orchestration_state(iid).runtime_status == OrchestrationStatus.RUNNING


def _inbox_delivered(client, iid) -> bool:
    raised = [e for e in client.get_orchestration_history(iid) if type(e).__name__ == "EventRaisedEvent"]
    return len(raised) >= 3


def with_status(ctx, _):
    ctx.set_custom_status({"step": 1})
    yield ctx.wait_for_external_event("next")
    ctx.set_custom_status({"step": 2})
    return "done"


def test_custom_status_while_running_and_after_completion(client, make_worker):
    make_worker(orchestrators=[with_status])
    iid = client.schedule_new_orchestration(with_status)
    wait_until(lambda: client.get_orchestration_state(iid).serialized_custom_status)
    assert json.loads(client.get_orchestration_state(iid).serialized_custom_status) == {"step": 1}
    client.raise_orchestration_event(iid, "next")
    state = client.wait_for_orchestration_completion(iid, timeout=10)
    assert json.loads(state.serialized_custom_status) == {"step": 2}


def tagged(ctx, _):
    return ctx.version


def test_tags_and_versions(backend, client, make_worker):
    make_worker(orchestrators=[tagged])
    iid = client.schedule_new_orchestration(tagged, tags={"team": "payments", "env": "test"}, version="2.1")
    state = client.wait_for_orchestration_completion(iid, timeout=10)
    assert state.serialized_output == '"2.1"'
    with grpc.insecure_channel(backend.address) as channel:
        raw = stubs.TaskHubSidecarServiceStub(channel).GetInstance(pb.GetInstanceRequest(instanceId=iid))
    assert dict(raw.orchestrationState.tags) == {"team": "payments", "env": "test"}
    assert raw.orchestrationState.version.value == "2.1"


_attempts: dict[str, int] = {}
_attempts_lock = threading.Lock()


def flaky(ctx, key):
    with _attempts_lock:
        _attempts[key] = _attempts.get(key, 0) + 1
        n = _attempts[key]
    if n < 3:
        raise RuntimeError(f"attempt {n} fails")
    return f"ok after {n}"


RETRY = task.RetryPolicy(first_retry_interval=timedelta(milliseconds=100), max_number_of_attempts=4)


def retries_activity(ctx, key):
    return (yield ctx.call_activity(flaky, input=key, retry_policy=RETRY))


def flaky_child(ctx, key):
    return (yield ctx.call_activity(flaky, input=key))


def retries_sub_orchestration(ctx, key):
    return (yield ctx.call_sub_orchestrator(flaky_child, input=key, retry_policy=RETRY))


def test_activity_retry_policy(client, make_worker):
    _attempts.clear()
    make_worker(orchestrators=[retries_activity], activities=[flaky])
    iid = client.schedule_new_orchestration(retries_activity, input="act")
    state = client.wait_for_orchestration_completion(iid, timeout=10)
    assert state.serialized_output == '"ok after 3"'
    assert _attempts["act"] == 3


def test_sub_orchestration_retry_policy(client, make_worker):
    _attempts.clear()
    make_worker(orchestrators=[retries_sub_orchestration, flaky_child], activities=[flaky])
    iid = client.schedule_new_orchestration(retries_sub_orchestration, input="sub")
    state = client.wait_for_orchestration_completion(iid, timeout=10)
    assert state.runtime_status == OrchestrationStatus.COMPLETED, state.failure_details
    assert state.serialized_output == '"ok after 3"'


def test_start_at_future_time_is_honoured(client, make_worker):
    make_worker(orchestrators=[hello_orchestrator], activities=[say_hello])
    start_at = datetime.now(timezone.utc) + timedelta(seconds=1.5)
    iid = client.schedule_new_orchestration(hello_orchestrator, input="later", start_at=start_at)
    assert client.get_orchestration_state(iid).runtime_status == OrchestrationStatus.PENDING
    client.wait_for_orchestration_start(iid, timeout=10)
    assert datetime.now(timezone.utc) >= start_at
    assert client.wait_for_orchestration_completion(iid, timeout=10).serialized_output == '"Hello, later!"'


def test_start_time_in_the_past_starts_now(backend, client, make_worker):
    """The JS SDK always sends scheduledStartTimestamp, the Unix epoch when none was given."""
    make_worker(orchestrators=[hello_orchestrator], activities=[say_hello])
    with grpc.insecure_channel(backend.address) as channel:
        stub = stubs.TaskHubSidecarServiceStub(channel)
        request = pb.CreateInstanceRequest(instanceId="epoch", name="hello_orchestrator")
        request.input.value = '"epoch"'
        request.scheduledStartTimestamp.FromSeconds(0)
        stub.StartInstance(request)
    state = client.wait_for_orchestration_completion("epoch", timeout=10)
    assert state.serialized_output == '"Hello, epoch!"'
    started = [e for e in client.get_orchestration_history("epoch") if type(e).__name__ == "OrchestratorStartedEvent"]
    assert abs((_utc(started[0].timestamp) - datetime.now(timezone.utc)).total_seconds()) < 60
    # The past start time is not recorded: history and state say nothing of 1970.
    with grpc.insecure_channel(backend.address) as channel:
        stub = stubs.TaskHubSidecarServiceStub(channel)
        chunks = stub.StreamInstanceHistory(pb.StreamInstanceHistoryRequest(instanceId="epoch"))
        first = next(e for c in chunks for e in c.events if e.HasField("executionStarted"))
        assert not first.executionStarted.HasField("scheduledStartTimestamp")
        reply = stub.GetInstance(pb.GetInstanceRequest(instanceId="epoch"))
        assert not reply.orchestrationState.HasField("scheduledStartTimestamp")


def sends_event(ctx, target):
    ctx.send_event(target, "approval", data="from an orchestration")
    return "sent"


def test_send_event_from_one_orchestration_to_another(client, make_worker):
    make_worker(orchestrators=[only_waits, sends_event])
    target = client.schedule_new_orchestration(only_waits)
    client.wait_for_orchestration_start(target, timeout=10)
    sender = client.schedule_new_orchestration(sends_event, input=target)
    assert client.wait_for_orchestration_completion(sender, timeout=10).serialized_output == '"sent"'
    state = client.wait_for_orchestration_completion(target, timeout=10)
    assert state.runtime_status == OrchestrationStatus.COMPLETED
    assert state.serialized_output == '"from an orchestration"'


def fails_with(ctx, message):
    raise ValueError(message)


def calls_failing(ctx, message):
    return (yield ctx.call_activity(fails_with, input=message))


def catches_failing(ctx, message):
    try:
        yield ctx.call_activity(fails_with, input=message)
    except task.TaskFailedError as e:
        return {"type": e.details.error_type, "message": e.details.message}
    return "the activity did not fail"


def test_uncaught_activity_failure_fails_the_orchestration_with_details(client, make_worker):
    make_worker(orchestrators=[calls_failing], activities=[fails_with])
    state = client.wait_for_orchestration_completion(client.schedule_new_orchestration(calls_failing, input="kaboom"))
    assert state.runtime_status == OrchestrationStatus.FAILED
    assert state.failure_details.error_type == "durabletask.task.TaskFailedError"
    assert "kaboom" in state.failure_details.message


@pytest.mark.parametrize("message", ["kaboom", ""], ids=["message", "empty-message"])
def test_activity_failure_reaches_the_orchestrator_even_with_an_empty_message(client, make_worker, message):
    make_worker(orchestrators=[catches_failing], activities=[fails_with])
    iid = client.schedule_new_orchestration(catches_failing, input=message)
    state = client.wait_for_orchestration_completion(iid, timeout=10)
    assert state.runtime_status == OrchestrationStatus.COMPLETED, state.failure_details
    assert json.loads(state.serialized_output) == {"type": "builtins.ValueError", "message": message}


def failing_child(ctx, message):
    raise ValueError(message)


def catches_failing_child(ctx, message):
    try:
        yield ctx.call_sub_orchestrator(failing_child, input=message, instance_id=f"{ctx.instance_id}-child")
    except task.TaskFailedError as e:
        return {"type": e.details.error_type, "message": e.details.message, "stack": e.details.stack_trace}
    return "the child did not fail"


@pytest.mark.parametrize("message", ["child broke", ""], ids=["message", "empty-message"])
def test_failing_child_details_reach_the_parent_unchanged(client, make_worker, message):
    make_worker(orchestrators=[catches_failing_child, failing_child])
    iid = client.schedule_new_orchestration(catches_failing_child, input=message)
    state = client.wait_for_orchestration_completion(iid, timeout=10)
    assert state.runtime_status == OrchestrationStatus.COMPLETED, state.failure_details
    child = client.get_orchestration_state(f"{iid}-child")
    assert child.runtime_status == OrchestrationStatus.FAILED
    seen = json.loads(state.serialized_output)
    assert seen == {
        "type": child.failure_details.error_type,
        "message": child.failure_details.message,
        "stack": child.failure_details.stack_trace,
    }
    assert seen["type"] == "builtins.ValueError" and seen["message"] == message
