"""The DTS ("azure managed") Python SDK against the emulator, on two task hubs at once.

``DurableTaskSchedulerClient`` and ``DurableTaskSchedulerWorker`` send their task hub in the
``taskhub`` metadata of every call. Each test drives hub-a and hub-b side by side through the
behaviour suite's features and checks that the hubs are isolated both ways. Where the SDK's own
DTS test suite (microsoft/durabletask-python, tests/durabletask-azuremanaged/) pins an observable
behaviour of DTS, the same assertion is made here.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import grpc
import pytest
from durabletask import entities, task
from durabletask.azuremanaged.client import DurableTaskSchedulerClient
from durabletask.azuremanaged.worker import DurableTaskSchedulerWorker
from durabletask.client import EntityQuery, OrchestrationQuery, OrchestrationStatus, TaskHubGrpcClient
from durabletask.worker import (
    EntityWorkItemFilter,
    OrchestrationWorkItemFilter,
    TaskHubGrpcWorker,
    WorkItemFilters,
)

from emulator import InMemoryOrchestrationBackend
from emulator.testing import register
from tests.helpers import wait_until

EntityId = entities.EntityInstanceId
A, B = "hub-a", "hub-b"


# ---------------------------------------------------------------------------------------------- fixtures


class DtsHub:
    """DTS SDK clients and workers for one task hub of a backend; all closed by :meth:`close`."""

    def __init__(self, name: str, endpoint: str):
        self.name = name
        self.endpoint = endpoint
        self._clients: list = []
        self._workers: list = []

    def client(self) -> DurableTaskSchedulerClient:
        c = DurableTaskSchedulerClient(
            host_address=self.endpoint, taskhub=self.name, token_credential=None, secure_channel=False
        )
        self._clients.append(c)
        return c

    def worker(self, orchestrators=(), activities=(), entities=(), filters=None, auto_filters=False):
        w = DurableTaskSchedulerWorker(
            host_address=self.endpoint, taskhub=self.name, token_credential=None, secure_channel=False
        )
        register(w, orchestrators, activities, entities)
        if filters is not None:
            w.use_work_item_filters(filters)
        elif auto_filters:
            w.use_work_item_filters()
        self._workers.append(w)
        w.start()
        return w

    def close(self) -> None:
        for w in self._workers:
            w.stop()
        for c in self._clients:
            c.close()


@pytest.fixture
def hubs(backend: InMemoryOrchestrationBackend) -> Iterator[dict[str, DtsHub]]:
    """hub-a addressed as an ``http://`` endpoint (as the DTS docs do), hub-b as plain host:port."""
    made = {A: DtsHub(A, f"http://{backend.address}"), B: DtsHub(B, backend.address)}
    yield made
    for hub in made.values():
        hub.close()


# ---------------------------------------------------------------------------------------------- functions


def tagged(tag: str):
    """Activities whose results name the hub whose worker ran them (the same names on each hub)."""

    def greet(ctx, name):
        return f"{tag}: hello {name}"

    def shout(ctx, text):
        return text.upper()

    return [greet, shout]


def child_greeting(ctx, name):
    return (yield ctx.call_activity("shout", input=name))


def greeting(ctx, name):
    hello = yield ctx.call_activity("greet", input=name)
    child = yield ctx.call_sub_orchestrator(child_greeting, input=hello, instance_id=f"{ctx.instance_id}-child")
    return [hello, child]


def event_then_timer(ctx, _):
    value = yield ctx.wait_for_external_event("go")
    yield ctx.create_timer(timedelta(milliseconds=200))
    return value


def counter(ctx: entities.EntityContext, value):
    state = ctx.get_state(int, 0)
    if ctx.operation == "add":
        ctx.set_state(state + value)
        return state + value
    if ctx.operation == "get":
        return state
    if ctx.operation == "delete":
        ctx.set_state(None)
        return None
    raise ValueError(f"unknown operation {ctx.operation}")


def calls_counter(ctx, key):
    eid = EntityId("counter", key)
    yield ctx.call_entity(eid, "add", 100)
    return (yield ctx.call_entity(eid, "get"))


class FailingEntity(entities.DurableEntity):
    def fail(self, _):
        raise ValueError("Something went wrong!")


def calls_failing_entity(ctx, _):
    yield ctx.call_entity(EntityId("FailingEntity", "testEntity"), "fail")


def returns_input(ctx, value):
    return value


def fails(ctx, _):
    raise RuntimeError("orchestration failed")


def only_on_a(ctx, _):
    return "ran"


def other(ctx, _):
    return "other"


def versioned(ctx, value):
    return value + 1


def _done(client, iid, status=OrchestrationStatus.COMPLETED, timeout=15):
    state = client.wait_for_orchestration_completion(iid, timeout=timeout)
    assert state is not None, f"{iid} does not exist"
    assert state.runtime_status == status, state.failure_details
    return state


def _output(client, iid):
    return json.loads(_done(client, iid).serialized_output)


# ---------------------------------------------------------------------------------------------- orchestrations


def test_same_instance_id_in_two_hubs_is_two_instances_with_activities_and_sub_orchestrations(hubs):
    for name in (A, B):
        hubs[name].worker(orchestrators=[greeting, child_greeting], activities=tagged(name))
    a, b = hubs[A].client(), hubs[B].client()
    assert a.schedule_new_orchestration(greeting, input="World", instance_id="same-id") == "same-id"
    assert b.schedule_new_orchestration(greeting, input="Moon", instance_id="same-id") == "same-id"
    assert _output(a, "same-id") == ["hub-a: hello World", "HUB-A: HELLO WORLD"]
    assert _output(b, "same-id") == ["hub-b: hello Moon", "HUB-B: HELLO MOON"]
    for client in (a, b):
        state = client.get_orchestration_state("same-id-child")  # the sub-orchestration is in its parent's hub
        assert state.runtime_status == OrchestrationStatus.COMPLETED
        assert json.loads(state.serialized_output) == json.loads(_done(client, "same-id").serialized_output)[1]
        assert state.name == task.get_name(child_greeting)
        history = client.get_orchestration_history("same-id")
        assert sum(type(e).__name__ == "TaskScheduledEvent" for e in history) == 1
        assert sum(type(e).__name__ == "SubOrchestrationInstanceCreatedEvent" for e in history) == 1
    # An ID taken in hub-a is still free in hub-b, and creating it twice in one hub fails there only.
    a.schedule_new_orchestration(greeting, input="again", instance_id="only-in-a")
    with pytest.raises(grpc.RpcError) as exc:
        a.schedule_new_orchestration(greeting, input="twice", instance_id="only-in-a")
    assert exc.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert b.get_orchestration_state("only-in-a") is None
    _done(a, "only-in-a")


def test_external_events_and_timers_reach_only_their_hub(hubs):
    for name in (A, B):
        hubs[name].worker(orchestrators=[event_then_timer])
    a, b = hubs[A].client(), hubs[B].client()
    for client in (a, b):
        client.schedule_new_orchestration(event_then_timer, instance_id="waiter")
        assert client.wait_for_orchestration_start("waiter", timeout=10).runtime_status == OrchestrationStatus.RUNNING
    a.raise_orchestration_event("waiter", "go", data="for a")
    assert _output(a, "waiter") == "for a"
    history = a.get_orchestration_history("waiter")
    assert [type(e).__name__ for e in history].count("TimerFiredEvent") == 1
    assert b.get_orchestration_state("waiter").runtime_status == OrchestrationStatus.RUNNING  # got nothing
    b.raise_orchestration_event("waiter", "go", data="for b")
    assert _output(b, "waiter") == "for b"
    # An event for an instance that exists only in hub-a is not found in hub-b.
    a.schedule_new_orchestration(event_then_timer, instance_id="a-only-waiter")
    a.wait_for_orchestration_start("a-only-waiter", timeout=10)
    with pytest.raises(grpc.RpcError) as exc:
        b.raise_orchestration_event("a-only-waiter", "go", data="wrong hub")
    assert exc.value.code() == grpc.StatusCode.NOT_FOUND
    # DTS pins: terminating with an output keeps it as the output (test_dts_orchestration_e2e.py, test_terminate).
    a.terminate_orchestration("a-only-waiter", output="some reason for termination")
    state = _done(a, "a-only-waiter", OrchestrationStatus.TERMINATED)
    assert state.serialized_output == json.dumps("some reason for termination")


def runs_record(ctx, _):
    return (yield ctx.call_activity("record", input=ctx.instance_id))


def test_workers_of_two_hubs_with_the_same_names_each_get_only_their_hubs_work(hubs):
    ran_on: dict[str, list[str]] = {A: [], B: []}
    lock = threading.Lock()

    def recorder(tag):
        def record(ctx, iid):
            with lock:
                ran_on[tag].append(iid)
            return tag

        return record

    for name in (A, B):
        hubs[name].worker(orchestrators=[runs_record], activities=[recorder(name)])
    a, b = hubs[A].client(), hubs[B].client()
    a_ids = [a.schedule_new_orchestration(runs_record, instance_id=f"a-{i}") for i in range(10)]
    assert [_output(a, iid) for iid in a_ids] == [A] * 10
    assert sorted(ran_on[A]) == sorted(a_ids) and ran_on[B] == []
    b_ids = [b.schedule_new_orchestration(runs_record, instance_id=f"b-{i}") for i in range(5)]
    assert [_output(b, iid) for iid in b_ids] == [B] * 5
    assert sorted(ran_on[B]) == sorted(b_ids) and len(ran_on[A]) == 10


def test_an_orchestrator_registered_only_in_hub_a_leaves_a_hub_b_instance_pending(hubs):
    # hub-b's worker asks, through its work-item filters, only for what it has registered.
    hubs[A].worker(orchestrators=[only_on_a])
    hubs[B].worker(orchestrators=[other], auto_filters=True)
    a, b = hubs[A].client(), hubs[B].client()
    b.schedule_new_orchestration(only_on_a, instance_id="same-name")
    a.schedule_new_orchestration(only_on_a, instance_id="same-name")
    assert _output(a, "same-name") == "ran"
    assert _output(b, b.schedule_new_orchestration(other)) == "other"  # hub-b's worker is up and serving
    assert b.get_orchestration_state("same-name").runtime_status == OrchestrationStatus.PENDING
    hubs[B].worker(orchestrators=[only_on_a])  # the instance was only waiting for a hub-b worker for it
    assert _output(b, "same-name") == "ran"


def test_work_item_filters_route_within_a_hub(hubs):
    # DTS pins (test_dts_work_item_filters_e2e.py): an orchestration or entity that matches no
    # connected worker's filters is not dispatched and stays PENDING (not failed); entity filter
    # names are lower-cased; a version outside a filter's versions is not dispatched.
    hubs[B].worker(
        orchestrators=[other, versioned],
        entities=[counter],
        filters=WorkItemFilters(
            orchestrations=[
                OrchestrationWorkItemFilter(name=task.get_name(other)),
                OrchestrationWorkItemFilter(name=task.get_name(versioned), versions=["3.0"]),
            ],
            entities=[EntityWorkItemFilter(name="Counter")],
        ),
    )
    a, b = hubs[A].client(), hubs[B].client()
    unmatched = b.schedule_new_orchestration(returns_input, input=1)
    wrong_version = b.schedule_new_orchestration(versioned, input=1, version="2.0")
    right_version = b.schedule_new_orchestration(versioned, input=1, version="3.0")
    b.signal_entity(EntityId("counter", "k"), "add", 5)
    a.signal_entity(EntityId("counter", "k"), "add", 7)  # hub-a has no entity worker at all
    assert _output(b, right_version) == 2
    assert _output(b, b.schedule_new_orchestration(other)) == "other"
    wait_until(lambda: b.get_entity(EntityId("counter", "k")), what="hub-b's entity")
    assert b.get_entity(EntityId("counter", "k")).get_state(int) == 5
    assert b.get_orchestration_state(unmatched).runtime_status == OrchestrationStatus.PENDING
    assert b.get_orchestration_state(wrong_version).runtime_status == OrchestrationStatus.PENDING
    assert a.get_entity(EntityId("counter", "k")) is None  # its signal waits in hub-a, unprocessed
    queued = a.get_all_entities(EntityQuery(include_transient=True))
    assert [(str(e.id), e.backlog_queue_size) for e in queued] == [("@counter@k", 1)]
    hubs[A].worker(entities=[counter], auto_filters=True)
    wait_until(lambda: a.get_entity(EntityId("counter", "k")), what="hub-a's entity")
    assert a.get_entity(EntityId("counter", "k")).get_state(int) == 7
    assert b.get_entity(EntityId("counter", "k")).get_state(int) == 5


# ---------------------------------------------------------------------------------------------- entities


def test_entities_with_the_same_id_are_separate_per_hub(hubs):
    for name in (A, B):
        hubs[name].worker(orchestrators=[calls_counter], entities=[counter])
    a, b = hubs[A].client(), hubs[B].client()
    eid = EntityId("counter", "shared")
    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    a.signal_entity(eid, "add", 1)
    b.signal_entity(eid, "add", 10)
    assert _output(a, a.schedule_new_orchestration(calls_counter, input="shared")) == 101
    assert _output(b, b.schedule_new_orchestration(calls_counter, input="shared")) == 110
    # DTS pins (entities/test_dts_function_based_entities_e2e.py, test_client_get_entity).
    for client, value in ((a, 101), (b, 110)):
        meta = client.get_entity(eid)
        assert meta is not None and meta.id == eid and meta.get_locked_by() is None
        assert before < meta.last_modified < datetime.now(timezone.utc)
        assert meta.get_state(int) == value
    b.signal_entity(EntityId("counter", "b-only"), "add", 3)
    wait_until(lambda: b.get_entity(EntityId("counter", "b-only")), what="hub-b's second entity")
    # Queries list a hub's own entities only (test_dts_batch_actions.py, test_get_all_entities).
    assert [str(e.id) for e in a.get_all_entities()] == ["@counter@shared"]
    assert [str(e.id) for e in b.get_all_entities()] == ["@counter@b-only", "@counter@shared"]
    no_state = a.get_all_entities(EntityQuery(include_state=False))
    assert len(no_state) == 1 and no_state[0].get_state(int) is None
    assert a.get_all_entities(EntityQuery(instance_id_starts_with="@counter@b-")) == []
    # Deleting hub-a's state removes hub-a's entity at once (as on DTS); hub-b's is untouched.
    a.signal_entity(eid, "delete")
    wait_until(lambda: a.get_entity(eid) is None, what="hub-a's entity deleted")
    assert a.get_all_entities(EntityQuery(include_transient=True)) == []
    assert b.get_entity(eid).get_state(int) == 110
    assert a.get_entity(EntityId("counter", "never-signalled")) is None  # test_get_entity_not_found


def test_deleted_entity_is_gone_at_once_so_clean_entity_storage_removes_nothing(hubs):
    # DTS pins (test_dts_batch_actions.py, test_clean_entity_storage): delete an entity's state,
    # then CleanEntityStorage(remove empty, release orphaned locks) reports 0 and 0.
    for name in (A, B):
        hubs[name].worker(entities=[counter])
    a, b = hubs[A].client(), hubs[B].client()
    for client in (a, b):
        client.signal_entity(EntityId("counter", "keep"), "add", 1)
        client.signal_entity(EntityId("counter", "toClean"), "add", 1)
        wait_until(lambda c=client: len(c.get_all_entities()) == 2, what="two entities")
    a.signal_entity(EntityId("counter", "toClean"), "delete")
    wait_until(lambda: a.get_entity(EntityId("counter", "toClean")) is None, what="state deleted")
    assert [str(e.id) for e in a.get_all_entities(EntityQuery(include_transient=True))] == ["@counter@keep"]
    result = a.clean_entity_storage(remove_empty_entities=True, release_orphaned_locks=True)
    assert (result.empty_entities_removed, result.orphaned_locks_released) == (0, 0)
    assert len(b.get_all_entities()) == 2  # hub-b's entity of that ID keeps its state
    assert b.get_entity(EntityId("counter", "toClean")).get_state(int) == 1
    result = b.clean_entity_storage()
    assert (result.empty_entities_removed, result.orphaned_locks_released) == (0, 0)
    # A deleted entity starts again from no state when signalled.
    a.signal_entity(EntityId("counter", "toClean"), "add", 4)
    wait_until(lambda: a.get_entity(EntityId("counter", "toClean")), what="entity again")
    assert a.get_entity(EntityId("counter", "toClean")).get_state(int) == 4


def test_entity_operation_failure_fails_the_calling_orchestration(hubs):
    # DTS pins (entities/test_dts_entity_failure_handling.py, test_class_entity_unhandled_failure_fails).
    hubs[A].worker(orchestrators=[calls_failing_entity], entities=[FailingEntity])
    a, b = hubs[A].client(), hubs[B].client()
    iid = a.schedule_new_orchestration(calls_failing_entity, instance_id="calls-failing")
    state = _done(a, iid, OrchestrationStatus.FAILED)
    assert state.failure_details.error_type == "durabletask.task.TaskFailedError"
    assert state.failure_details.message == (
        "Operation 'fail' on entity '@failingentity@testEntity' failed with error: Something went wrong!"
    )
    assert b.get_orchestration_state(iid) is None


# ---------------------------------------------------------------------------------------------- rewind


def test_rewind_of_a_failed_instance_acts_on_its_own_hub(hubs):
    calls: dict[str, dict[str, int]] = {A: {"first": 0, "second": 0}, B: {"first": 0, "second": 0}}
    healthy = {A: False, B: False}

    def steps(tag):
        def first_step(ctx, x):
            calls[tag]["first"] += 1
            return f"{tag}:first:{x}"

        def second_step(ctx, x):
            calls[tag]["second"] += 1
            if not healthy[tag]:
                raise RuntimeError(f"{tag} is not healthy yet")
            return f"{tag}:second:{x}"

        return [first_step, second_step]

    def two_steps(ctx, x):
        return [(yield ctx.call_activity("first_step", input=x)), (yield ctx.call_activity("second_step", input=x))]

    for name in (A, B):
        hubs[name].worker(orchestrators=[two_steps, returns_input, fails], activities=steps(name))
    a, b = hubs[A].client(), hubs[B].client()
    for client in (a, b):
        client.schedule_new_orchestration(two_steps, input="x", instance_id="flaky")
        _done(client, "flaky", OrchestrationStatus.FAILED)
    healthy[A] = healthy[B] = True
    a.rewind_orchestration("flaky", reason="fixed")
    assert _output(a, "flaky") == ["hub-a:first:x", "hub-a:second:x"]
    assert _done(a, "flaky").failure_details is None
    assert calls[A] == {"first": 1, "second": 2}  # the successful step is replayed, not run again
    assert b.get_orchestration_state("flaky").runtime_status == OrchestrationStatus.FAILED  # not rewound
    b.rewind_orchestration("flaky")  # DTS: a reason is optional
    assert _output(b, "flaky") == ["hub-b:first:x", "hub-b:second:x"]
    assert calls[B] == {"first": 1, "second": 2}
    # DTS pins (test_dts_rewind_e2e.py): rewinding an unknown instance, or one that did not fail, raises.
    a.schedule_new_orchestration(fails, instance_id="a-only-failure")
    _done(a, "a-only-failure", OrchestrationStatus.FAILED)
    with pytest.raises(grpc.RpcError) as exc:
        b.rewind_orchestration("a-only-failure")
    assert exc.value.code() == grpc.StatusCode.NOT_FOUND
    completed = a.schedule_new_orchestration(returns_input, input=1)
    _done(a, completed)
    with pytest.raises(grpc.RpcError):
        a.rewind_orchestration(completed)


# ---------------------------------------------------------------------------------------------- purge


def test_purge_single_and_by_filter_removes_only_the_hubs_own_instances(hubs):
    for name in (A, B):
        hubs[name].worker(orchestrators=[returns_input, fails])
    a, b = hubs[A].client(), hubs[B].client()
    start = datetime.now(timezone.utc) - timedelta(seconds=5)
    for client in (a, b):
        for iid in ("done-1", "done-2"):
            client.schedule_new_orchestration(returns_input, input=iid, instance_id=iid)
            _done(client, iid)
        client.schedule_new_orchestration(fails, instance_id="failed")
        _done(client, "failed", OrchestrationStatus.FAILED)
    a.schedule_new_orchestration(returns_input, input="a", instance_id="a-only")
    _done(a, "a-only")
    end = datetime.now(timezone.utc) + timedelta(seconds=5)
    # By filter on hub-b: its two completed instances go; hub-a keeps all of its own.
    result = b.purge_orchestrations_by(
        created_time_from=start, created_time_to=end, runtime_status=[OrchestrationStatus.COMPLETED], recursive=True
    )
    assert result.deleted_instance_count == 2
    assert b.get_orchestration_state("done-1") is None and b.get_orchestration_state("done-2") is None
    assert b.get_orchestration_state("failed").runtime_status == OrchestrationStatus.FAILED
    assert {s.instance_id for s in a.get_all_orchestration_states()} == {"done-1", "done-2", "failed", "a-only"}
    # DTS pins (test_dts_batch_actions.py, test_purge_orchestrations_by_status).
    assert b.purge_orchestrations_by(runtime_status=[OrchestrationStatus.FAILED]).deleted_instance_count == 1
    assert b.get_orchestration_state("failed") is None
    assert a.get_orchestration_state("failed").runtime_status == OrchestrationStatus.FAILED
    # Single: hub-b cannot purge hub-a's instance; hub-a can (test_purge_orchestration).
    assert b.purge_orchestration("a-only").deleted_instance_count == 0
    assert a.get_orchestration_state("a-only") is not None
    assert a.purge_orchestration("a-only", recursive=True).deleted_instance_count == 1
    assert a.get_orchestration_state("a-only") is None
    assert {s.instance_id for s in a.get_all_orchestration_states()} == {"done-1", "done-2", "failed"}
    assert b.get_all_orchestration_states() == []


# ---------------------------------------------------------------------------------------------- queries


def test_queries_list_only_the_hubs_own_instances(hubs):
    for name in (A, B):
        hubs[name].worker(orchestrators=[returns_input, fails])
    a, b = hubs[A].client(), hubs[B].client()
    before = datetime.now(timezone.utc) - timedelta(seconds=5)
    a_ids = [a.schedule_new_orchestration(returns_input, input=f"a{i}", instance_id=f"a-{i}") for i in range(3)]
    b_ids = [b.schedule_new_orchestration(returns_input, input="b", instance_id="b-0")]
    for iid in a_ids:
        _done(a, iid)
    _done(b, b_ids[0])
    a.schedule_new_orchestration(fails, instance_id="a-failed")
    _done(a, "a-failed", OrchestrationStatus.FAILED)
    after = datetime.now(timezone.utc) + timedelta(seconds=5)

    def ids(client, **kw):
        return sorted(s.instance_id for s in client.get_all_orchestration_states(OrchestrationQuery(**kw)))

    assert ids(a) == ["a-0", "a-1", "a-2", "a-failed"]
    assert ids(b) == ["b-0"]
    assert b.get_orchestration_state("a-0") is None and a.get_orchestration_state("b-0") is None
    assert ids(b, instance_id_prefix="a-") == []
    assert ids(a, instance_id_prefix="a-", runtime_status=[OrchestrationStatus.FAILED]) == ["a-failed"]
    assert ids(b, runtime_status=[OrchestrationStatus.FAILED]) == []
    # DTS pins (test_dts_batch_actions.py): without fetch_inputs_and_outputs a query returns no
    # payloads; with it, the input and output; a created-time window selects; paging continues.
    plain = {s.instance_id: s for s in a.get_all_orchestration_states()}
    assert plain["a-0"].serialized_input is None and plain["a-0"].serialized_output is None
    full = {s.instance_id: s for s in a.get_all_orchestration_states(OrchestrationQuery(fetch_inputs_and_outputs=True))}
    assert (full["a-0"].serialized_input, full["a-0"].serialized_output) == ('"a0"', '"a0"')
    assert full["a-failed"].failure_details is not None
    assert ids(a, created_time_from=before, created_time_to=after) == ["a-0", "a-1", "a-2", "a-failed"]
    assert ids(a, created_time_from=after, created_time_to=after + timedelta(hours=1)) == []
    assert ids(a, max_instance_count=2) == ["a-0", "a-1", "a-2", "a-failed"]  # the SDK follows the tokens
    # ListInstanceIds lists a hub's own terminal instances.
    assert sorted(a.list_instance_ids(runtime_status=[OrchestrationStatus.COMPLETED]).items) == a_ids
    assert b.list_instance_ids(runtime_status=[OrchestrationStatus.COMPLETED]).items == b_ids
    assert b.list_instance_ids(runtime_status=[OrchestrationStatus.FAILED]).items == []


# ---------------------------------------------------------------------------------------------- the default hub


def test_a_client_without_metadata_lands_in_the_default_hub(backend, hubs):
    hubs[A].worker(orchestrators=[returns_input])
    a = hubs[A].client()
    a.schedule_new_orchestration(returns_input, input="from a", instance_id="in-a")
    _done(a, "in-a")
    plain = TaskHubGrpcClient(host_address=backend.address)
    plain_worker = TaskHubGrpcWorker(host_address=backend.address)
    default = DurableTaskSchedulerClient(
        host_address=backend.address, taskhub="default", token_credential=None, secure_channel=False
    )
    try:
        assert plain.get_orchestration_state("in-a") is None
        assert plain.get_all_orchestration_states() == []
        plain_worker.add_orchestrator(returns_input)
        plain_worker.start()
        plain.schedule_new_orchestration(returns_input, input="from plain", instance_id="in-default")
        assert _output(plain, "in-default") == "from plain"
        # The plain SDK's hub is the one DTS clients call "default"; hub-a does not see it.
        assert _output(default, "in-default") == "from plain"
        assert a.get_orchestration_state("in-default") is None
        assert [s.instance_id for s in a.get_all_orchestration_states()] == ["in-a"]
        assert [s.instance_id for s in plain.get_all_orchestration_states()] == ["in-default"]
    finally:
        plain_worker.stop()
        plain.close()
        default.close()


# ---------------------------------------------------------------------------------------------- restricted hubs


@pytest.fixture(params=["memory", "sqlite"])
def restricted(request, tmp_path) -> Iterator[InMemoryOrchestrationBackend]:
    db_path = str(tmp_path / "emulator.db") if request.param == "sqlite" else None
    b = InMemoryOrchestrationBackend(port=0, db_path=db_path, task_hubs=[A, B])
    b.start()
    try:
        yield b
    finally:
        b.stop()


def test_a_hub_outside_the_configured_set_is_not_found_and_the_listed_hubs_keep_serving(restricted):
    hubs = {name: DtsHub(name, restricted.address) for name in (A, B, "hub-c")}
    try:
        c = hubs["hub-c"].client()
        for call in (
            lambda: c.schedule_new_orchestration(returns_input, input=1),
            lambda: c.get_orchestration_state("any"),
            lambda: c.signal_entity(EntityId("counter", "k"), "add", 1),
        ):
            with pytest.raises(grpc.RpcError) as exc:
                call()
            assert exc.value.code() == grpc.StatusCode.NOT_FOUND
            assert exc.value.details() == "Task hub not found: hub-c"
        bad = DurableTaskSchedulerClient(
            host_address=restricted.address, taskhub="bad_name!", token_credential=None, secure_channel=False
        )
        try:
            with pytest.raises(grpc.RpcError) as exc:
                bad.get_orchestration_state("any")
            assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        finally:
            bad.close()
        for name in (A, B):
            hubs[name].worker(orchestrators=[returns_input])
            client = hubs[name].client()
            client.schedule_new_orchestration(returns_input, input=name, instance_id="after")
            assert _output(client, "after") == name
    finally:
        for hub in hubs.values():
            hub.close()
