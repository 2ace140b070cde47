"""Durable entities through the real SDK: state, signals, calls, locks, queries, cleaning, failures."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone

import grpc
import pytest
from durabletask import entities, task
from durabletask.client import EntityQuery, OrchestrationStatus
from durabletask.internal import orchestrator_service_pb2 as pb
from google.protobuf import wrappers_pb2

from tests.helpers import RawWorker, raw_stub, wait_until

EntityId = entities.EntityInstanceId


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
    if ctx.operation == "explode":
        ctx.set_state(-1)  # must not be kept: the operation fails
        raise ValueError("exploded")
    raise ValueError(f"unknown operation {ctx.operation}")


class Account(entities.DurableEntity):
    def deposit(self, amount: int) -> int:
        balance = self.get_state(int, 0) + amount
        self.set_state(balance)
        return balance

    def balance(self, _=None) -> int:
        return self.get_state(int, 0)

    def withdraw(self, amount: int) -> int:
        balance = self.get_state(int, 0)
        if amount > balance:
            raise ValueError("insufficient funds")
        self.set_state(balance - amount)
        return balance - amount


def appender(ctx: entities.EntityContext, value):
    items = ctx.get_state(list, [])
    items.append(value)
    ctx.set_state(items)


def _state(client, entity_id, kind=int):
    meta = client.get_entity(entity_id)
    return None if meta is None else meta.get_typed_state(kind)


def test_function_entity_get_set_delete(client, make_worker):
    make_worker(entities=[counter])
    eid = EntityId("counter", "a")
    client.signal_entity(eid, "add", 5)
    client.signal_entity(eid, "add", 2)
    wait_until(lambda: _state(client, eid) == 7, what="state 7")
    client.signal_entity(eid, "delete")
    wait_until(lambda: client.get_entity(eid) is None, what="entity deleted")


def calls_account(ctx, _):
    account = EntityId("Account", "alice")
    yield ctx.call_entity(account, "deposit", 100)
    after = yield ctx.call_entity(account, "withdraw", 30)
    try:
        yield ctx.call_entity(account, "withdraw", 1000)
    except task.TaskFailedError as e:
        refused = str(e)
    balance = yield ctx.call_entity(account, "balance")
    return [after, balance, "insufficient funds" in refused]


def test_class_entity_calls_return_results_and_failures(client, make_worker):
    make_worker(orchestrators=[calls_account], entities=[Account])
    iid = client.schedule_new_orchestration(calls_account)
    state = client.wait_for_orchestration_completion(iid, timeout=10)
    assert state.runtime_status == OrchestrationStatus.COMPLETED, state.failure_details
    assert json.loads(state.serialized_output) == [70, 70, True]
    assert _state(client, EntityId("account", "alice")) == 70


def explodes(ctx, _):
    eid = EntityId("counter", "boom")
    yield ctx.call_entity(eid, "add", 10)
    try:
        yield ctx.call_entity(eid, "explode")
        return "no failure?"
    except task.TaskFailedError as e:
        return [str(e), (yield ctx.call_entity(eid, "get"))]


def test_failing_operation_reports_failure_and_keeps_previous_state(client, make_worker):
    make_worker(orchestrators=[explodes], entities=[counter])
    iid = client.schedule_new_orchestration(explodes)
    message, after = json.loads(client.wait_for_orchestration_completion(iid, timeout=10).serialized_output)
    assert "exploded" in message
    assert after == 10


def signals_from_orchestration(ctx, n):
    for _ in range(n):
        ctx.signal_entity(EntityId("counter", "from-orch"), "add", 1)
    return n


def test_signals_from_an_orchestration(client, make_worker):
    make_worker(orchestrators=[signals_from_orchestration], entities=[counter])
    iid = client.schedule_new_orchestration(signals_from_orchestration, input=5)
    client.wait_for_orchestration_completion(iid, timeout=10)
    wait_until(lambda: _state(client, EntityId("counter", "from-orch")) == 5, what="5 signals applied")


def test_signal_scheduled_for_later_is_not_delivered_early(client, make_worker):
    make_worker(entities=[counter])
    eid = EntityId("counter", "later")
    client.signal_entity(eid, "add", 1)
    wait_until(lambda: _state(client, eid) == 1, what="first signal")
    due = datetime.now(timezone.utc) + timedelta(seconds=1.5)
    client.signal_entity(eid, "add", 10, signal_time=due)
    assert _state(client, eid) == 1
    wait_until(lambda: _state(client, eid) == 11, what="scheduled signal")
    assert datetime.now(timezone.utc) >= due


def transfer(ctx, tag):
    a, b = EntityId("counter", "x"), EntityId("counter", "y")
    with (yield ctx.lock_entities([a, b])):
        va = yield ctx.call_entity(a, "get")
        yield ctx.call_activity(note, input=f"{tag} inside")
        vb = yield ctx.call_entity(b, "get")
        yield ctx.call_entity(a, "add", 1)
        yield ctx.call_entity(b, "add", 1)
        yield ctx.call_activity(note, input=f"{tag} leaving")
    return [va, vb]


_notes: list[str] = []
_notes_lock = threading.Lock()


def note(ctx, text):
    with _notes_lock:
        _notes.append(text)


def test_critical_sections_serialise_contending_orchestrations(client, make_worker):
    _notes.clear()
    make_worker(orchestrators=[transfer], activities=[note], entities=[counter])
    ids = [client.schedule_new_orchestration(transfer, input=f"t{i}") for i in range(4)]
    outputs = [json.loads(client.wait_for_orchestration_completion(i, timeout=20).serialized_output) for i in ids]
    # each critical section read the values the previous one left: no interleaving, no lost update
    assert sorted(a for a, _ in outputs) == [0, 1, 2, 3]
    assert all(a == b for a, b in outputs)
    assert _state(client, EntityId("counter", "x")) == 4 and _state(client, EntityId("counter", "y")) == 4
    for i in range(0, len(_notes), 2):  # "inside" is always followed by the same section's "leaving"
        assert _notes[i].endswith("inside") and _notes[i + 1] == _notes[i].replace("inside", "leaving")


def holds_lock_then(ctx, how):
    eid = EntityId("counter", f"lock-{how}")
    with (yield ctx.lock_entities([eid])):
        yield ctx.call_entity(eid, "add", 1)
        if how == "fails":
            raise RuntimeError("failed inside the critical section")
        if how == "terminated":
            yield ctx.wait_for_external_event("never")
    return "done"


def locks_after(ctx, how):
    eid = EntityId("counter", f"lock-{how}")
    with (yield ctx.lock_entities([eid])):
        return (yield ctx.call_entity(eid, "add", 100))


@pytest.mark.parametrize("how", ["completes", "fails", "terminated"])
def test_locks_are_released_when_the_owner_ends(client, make_worker, how):
    make_worker(orchestrators=[holds_lock_then, locks_after], entities=[counter])
    owner = client.schedule_new_orchestration(holds_lock_then, input=how)
    eid = EntityId("counter", f"lock-{how}")
    wait_until(lambda: _state(client, eid) == 1, what="owner inside its critical section")
    if how == "terminated":
        assert _locked_by(client, eid) == owner
        client.terminate_orchestration(owner)
    expected = {
        "completes": OrchestrationStatus.COMPLETED,
        "fails": OrchestrationStatus.FAILED,
        "terminated": OrchestrationStatus.TERMINATED,
    }[how]
    assert client.wait_for_orchestration_completion(owner, timeout=10).runtime_status == expected
    second = client.schedule_new_orchestration(locks_after, input=how)
    assert client.wait_for_orchestration_completion(second, timeout=10).serialized_output == "101"
    assert _locked_by(client, eid) is None


def test_operations_apply_one_at_a_time_in_arrival_order(client, make_worker):
    make_worker(entities=[appender])
    eid = EntityId("appender", "order")
    for i in range(50):
        client.signal_entity(eid, "append", i)
    wait_until(lambda: len(_state(client, eid, list) or []) == 50, what="50 operations")
    assert _state(client, eid, list) == list(range(50))


def test_many_entities_progress_in_parallel(client, make_worker):
    make_worker(entities=[counter])
    ids = [EntityId("counter", f"many-{i}") for i in range(20)]
    for eid in ids:
        for _ in range(3):
            client.signal_entity(eid, "add", 1)
    wait_until(lambda: all(_state(client, e) == 3 for e in ids), what="all 20 entities at 3")


def test_get_entity_with_and_without_state(client, make_worker):
    make_worker(entities=[counter])
    eid = EntityId("counter", "meta")
    client.signal_entity(eid, "add", 4)
    wait_until(lambda: client.get_entity(eid), what="entity")
    with_state = client.get_entity(eid, include_state=True)
    assert with_state.get_state(int) == 4
    assert with_state.last_modified is not None
    without = raw_stub_get(client, eid)
    assert without.exists and not without.entity.HasField("serializedState")
    assert client.get_entity(EntityId("counter", "never-signalled")) is None


def _locked_by(client, eid):
    reply = client._stub.GetEntity(pb.GetEntityRequest(instanceId=str(eid)))
    return reply.entity.lockedBy.value if reply.entity.HasField("lockedBy") else None


def raw_stub_get(client, eid):
    return client._stub.GetEntity(pb.GetEntityRequest(instanceId=str(eid), includeState=False))


def test_query_entities_by_prefix_time_and_pages(backend, client, make_worker):
    make_worker(entities=[counter, appender])
    for i in range(5):
        client.signal_entity(EntityId("counter", f"q{i}"), "add", i + 1)
    client.signal_entity(EntityId("appender", "other"), "append", 1)
    wait_until(lambda: len(client.get_all_entities(EntityQuery())) == 6, what="6 entities")
    counters = client.get_all_entities(EntityQuery(instance_id_starts_with="@counter@"))
    assert sorted(str(e.id) for e in counters) == [f"@counter@q{i}" for i in range(5)]
    assert len(client.get_all_entities(EntityQuery(instance_id_starts_with="counter"))) == 5
    future = datetime.now(timezone.utc) + timedelta(hours=1)
    assert client.get_all_entities(EntityQuery(last_modified_from=future)) == []
    stub, seen, token, pages = raw_stub(backend), [], None, 0
    while True:
        query = pb.EntityQuery(pageSize=wrappers_pb2.Int32Value(value=2), continuationToken=token)
        reply = stub.QueryEntities(pb.QueryEntitiesRequest(query=query))
        pages += 1
        seen += [e.instanceId for e in reply.entities]
        if not reply.HasField("continuationToken"):
            break
        token = reply.continuationToken
    assert pages == 3 and len(seen) == 6 and seen == sorted(seen)


def test_clean_entity_storage_reports_counts(client, make_worker):
    make_worker(entities=[counter])
    for key in ("keep", "drop1", "drop2"):
        client.signal_entity(EntityId("counter", key), "add", 1)
    wait_until(lambda: len(client.get_all_entities(EntityQuery())) == 3, what="3 entities")
    for key in ("drop1", "drop2"):
        client.signal_entity(EntityId("counter", key), "delete")
    wait_until(lambda: len(client.get_all_entities(EntityQuery())) == 1, what="2 deleted")
    assert len(client.get_all_entities(EntityQuery(include_transient=True))) == 3
    result = client.clean_entity_storage()
    assert result.empty_entities_removed == 2
    assert result.orphaned_locks_released == 0
    assert len(client.get_all_entities(EntityQuery(include_transient=True))) == 1


def test_worker_disconnecting_mid_batch_loses_and_repeats_nothing(backend, client, make_worker):
    raw = RawWorker(backend)
    eid = EntityId("counter", "redeliver")
    client.signal_entity(eid, "add", 5)
    item = raw.next()
    assert item.entityRequest.instanceId == str(eid)
    assert [op.operation for op in item.entityRequest.operations] == ["add"]
    raw.close()
    make_worker(entities=[counter])
    wait_until(lambda: _state(client, eid) == 5, what="operation applied by the next worker")
    client.signal_entity(eid, "add", 0)  # a later operation sees exactly one application
    wait_until(
        lambda: (
            client.get_entity(eid).backlog_queue_size == 0
            if hasattr(client.get_entity(eid), "backlog_queue_size")
            else True
        )
    )
    assert _state(client, eid) == 5


@pytest.mark.parametrize("bad", ["counter", "@@key", ""])
def test_malformed_entity_ids_are_invalid_argument(backend, client, make_worker, bad):
    make_worker(entities=[counter])
    good = EntityId("counter", "untouched")
    client.signal_entity(good, "add", 3)
    stub = raw_stub(backend)
    for call, request in (
        (stub.SignalEntity, pb.SignalEntityRequest(instanceId=bad, name="add")),
        (stub.GetEntity, pb.GetEntityRequest(instanceId=bad)),
    ):
        with pytest.raises(grpc.RpcError) as err:
            call(request)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "@name@key" in err.value.details() or "entity name" in err.value.details()
    wait_until(lambda: _state(client, good) == 3, what="other entity untouched")


def test_complete_entity_task_with_unknown_token(backend):
    with pytest.raises(grpc.RpcError) as err:
        raw_stub(backend).CompleteEntityTask(pb.EntityBatchResult(completionToken="e424242"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def big_state(ctx: entities.EntityContext, size):
    ctx.set_state("x" * size)


def test_oversized_state_does_not_disturb_other_entities(client, make_worker):
    make_worker(entities=[big_state, counter])
    client.signal_entity(EntityId("big_state", "huge"), "set", 5 * 1024 * 1024)
    client.signal_entity(EntityId("counter", "small"), "add", 1)
    wait_until(lambda: _state(client, EntityId("counter", "small")) == 1, what="small entity works")
    assert client.get_entity(EntityId("big_state", "huge")) is None  # the oversized result was refused
