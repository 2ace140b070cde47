"""Durable entities through the real SDK: state, signals, calls, critical sections, queries, cleaning,
redelivery and bad input (function-based and class-based entities)."""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import datetime, timedelta, timezone

import grpc
import pytest
from durabletask import entities, task
from durabletask.client import EntityQuery, OrchestrationStatus
from durabletask.internal import orchestrator_service_pb2 as pb
from durabletask.worker import ConcurrencyOptions
from google.protobuf import wrappers_pb2

from tests.helpers import RawWorker, raw_stub, wait_until

EntityId = entities.EntityInstanceId


# ---------------------------------------------------------------------------------------------- entities


def counter(ctx: entities.EntityContext, value):
    """A function-based entity."""
    state = ctx.get_state(int, 0)
    op = ctx.operation
    if op == "add":
        ctx.set_state(state + value)
        return state + value
    if op == "set":
        ctx.set_state(value)
        return value
    if op == "get":
        return state
    if op == "delete":
        ctx.set_state(None)
        return None
    if op == "explode":
        ctx.set_state(-1)  # must not be kept: the operation fails
        raise ValueError("exploded")
    raise ValueError(f"unknown operation {op}")


class Account(entities.DurableEntity):
    """A class-based entity; ``delete`` is inherited from DurableEntity."""

    def deposit(self, amount: int) -> int:
        balance = self.get_state(int, 0) + amount
        self.set_state(balance)
        return balance

    def balance(self) -> int:
        return self.get_state(int, 0)

    def withdraw(self, amount: int) -> int:
        balance = self.get_state(int, 0) - amount
        self.set_state(balance)  # written before the check: the failure must roll it back
        if balance < 0:
            raise ValueError("insufficient funds")
        return balance

    def profile(self) -> dict:
        return {"balance": self.get_state(int, 0), "currency": "EUR"}


def appender(ctx: entities.EntityContext, value):
    items = ctx.get_state(list, [])
    items.append(value)
    ctx.set_state(items)


def big_state(ctx: entities.EntityContext, size):
    ctx.set_state("x" * size)


# ---------------------------------------------------------------------------------------------- helpers


def _state(client, entity_id, kind=int):
    meta = client.get_entity(entity_id)
    return None if meta is None else meta.get_typed_state(kind)


def _raw_entity(backend, entity_id, include_state=True) -> pb.GetEntityResponse:
    return raw_stub(backend).GetEntity(pb.GetEntityRequest(instanceId=str(entity_id), includeState=include_state))


def _transient(backend, entity_id) -> pb.EntityMetadata | None:
    """The entity's metadata even when it has no state (locked, or with operations queued)."""
    query = pb.EntityQuery(instanceIdStartsWith=wrappers_pb2.StringValue(value=str(entity_id)), includeTransient=True)
    reply = raw_stub(backend).QueryEntities(pb.QueryEntitiesRequest(query=query))
    return next((e for e in reply.entities if e.instanceId == str(entity_id)), None)


def _locked_by(backend, entity_id) -> str | None:
    meta = _transient(backend, entity_id)
    return meta.lockedBy.value if meta is not None and meta.HasField("lockedBy") else None


def _json_value(value) -> wrappers_pb2.StringValue:
    return wrappers_pb2.StringValue(value=json.dumps(value))


def _completed(client, iid, timeout=15):
    state = client.wait_for_orchestration_completion(iid, timeout=timeout)
    assert state.runtime_status == OrchestrationStatus.COMPLETED, state.failure_details
    return json.loads(state.serialized_output) if state.serialized_output else None


# ---------------------------------------------------------------------------------------------- state


def test_function_entity_get_set_delete(client, make_worker):
    make_worker(entities=[counter])
    eid = EntityId("counter", "fn")
    assert client.get_entity(eid) is None
    client.signal_entity(eid, "add", 5)
    client.signal_entity(eid, "add", 2)
    wait_until(lambda: _state(client, eid) == 7, what="state 7")
    client.signal_entity(eid, "set", 40)
    wait_until(lambda: _state(client, eid) == 40, what="state set to 40")
    client.signal_entity(eid, "delete")
    wait_until(lambda: client.get_entity(eid) is None, what="entity deleted")
    client.signal_entity(eid, "add", 1)  # a deleted entity starts again from no state
    wait_until(lambda: _state(client, eid) == 1, what="state 1 after re-creation")


def test_class_entity_get_set_delete(client, make_worker):
    make_worker(entities=[Account])
    eid = EntityId("Account", "bob")
    client.signal_entity(eid, "deposit", 50)
    client.signal_entity(eid, "deposit", 25)
    wait_until(lambda: _state(client, eid) == 75, what="balance 75")
    meta = client.get_entity(eid)
    assert str(meta.id) == "@account@bob"  # entity names are case-insensitive (lower-cased)
    client.signal_entity(eid, "delete")  # DurableEntity's built-in delete operation
    wait_until(lambda: client.get_entity(eid) is None, what="class entity deleted")


# ---------------------------------------------------------------------------------------------- failures


def fails_then_reads(ctx, args):
    name, key, setup_op, failing_op, failing_input, read_op = args
    eid = EntityId(name, key)
    yield ctx.call_entity(eid, setup_op, 10)
    try:
        yield ctx.call_entity(eid, failing_op, failing_input)
        caught = None
    except task.TaskFailedError as e:
        caught = str(e)
    after = yield ctx.call_entity(eid, read_op)
    return [caught, after]


@pytest.mark.parametrize(
    "args, message",
    [
        (["counter", "boom", "add", "explode", None, "get"], "exploded"),
        (["account", "overdrawn", "deposit", "withdraw", 1000, "balance"], "insufficient funds"),
    ],
    ids=["function", "class"],
)
def test_failing_operation_fails_the_call_and_keeps_previous_state(client, make_worker, args, message):
    make_worker(orchestrators=[fails_then_reads], entities=[counter, Account])
    iid = client.schedule_new_orchestration(fails_then_reads, input=args)
    caught, after = _completed(client, iid)
    assert caught is not None, "the failing operation returned normally to the orchestration"
    assert message in caught
    assert after == 10  # the state the failing operation wrote was rolled back
    assert _state(client, EntityId(args[0], args[1])) == 10


# ---------------------------------------------------------------------------------------------- signals


def test_signals_from_the_client(client, make_worker):
    make_worker(entities=[counter, Account])
    a, b = EntityId("counter", "sig"), EntityId("Account", "sig")
    for i in range(1, 6):
        client.signal_entity(a, "add", i)
        client.signal_entity(b, "deposit", 10 * i)
    wait_until(lambda: _state(client, a) == 15 and _state(client, b) == 150, what="all signals applied")


def signals_from_orchestration(ctx, n):
    for i in range(n):
        ctx.signal_entity(EntityId("counter", "from-orch"), "add", 1)
        ctx.signal_entity(EntityId("account", "from-orch"), "deposit", i)
    return n


def test_signals_from_an_orchestration(client, make_worker):
    make_worker(orchestrators=[signals_from_orchestration], entities=[counter, Account])
    iid = client.schedule_new_orchestration(signals_from_orchestration, input=5)
    assert _completed(client, iid) == 5
    wait_until(
        lambda: (
            _state(client, EntityId("counter", "from-orch")) == 5
            and _state(client, EntityId("account", "from-orch")) == 10
        ),
        what="signals sent by the orchestration applied",
    )


def signals_later(ctx, seconds):
    due = ctx.current_utc_datetime + timedelta(seconds=seconds)
    ctx.signal_entity(EntityId("counter", "later-orch"), "add", 10, signal_time=due)
    return due.replace(tzinfo=timezone.utc).isoformat()


def _assert_not_delivered_before(client, eid, due: datetime, before: int, after: int) -> None:
    """Poll until the state is ``after``; every read that saw it must have happened after ``due``."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        value = _state(client, eid)
        read_done = datetime.now(timezone.utc)
        if value == after:
            assert read_done >= due, f"scheduled signal applied {(due - read_done).total_seconds():.3f}s early"
            assert client.get_entity(eid).last_modified >= due - timedelta(milliseconds=1)
            return
        assert value == before, f"unexpected state {value}"
        time.sleep(0.02)
    raise AssertionError("the scheduled signal was never delivered")


@pytest.mark.parametrize("sender", ["client", "orchestration"])
def test_signal_scheduled_for_later_is_not_delivered_early(client, make_worker, sender):
    make_worker(orchestrators=[signals_later], entities=[counter])
    eid = EntityId("counter", f"later-{sender}" if sender == "client" else "later-orch")
    client.signal_entity(eid, "add", 1)
    wait_until(lambda: _state(client, eid) == 1, what="first signal")
    if sender == "client":
        due = datetime.now(timezone.utc) + timedelta(seconds=1.5)
        client.signal_entity(eid, "add", 10, signal_time=due)
    else:
        iid = client.schedule_new_orchestration(signals_later, input=1.5)
        due = datetime.fromisoformat(_completed(client, iid))
    assert _state(client, eid) == 1
    _assert_not_delivered_before(client, eid, due, before=1, after=11)


# ---------------------------------------------------------------------------------------------- calls


def calls_and_results(ctx, _):
    c, acct = EntityId("counter", "calls"), EntityId("Account", "calls")
    results = [
        (yield ctx.call_entity(c, "add", 5)),
        (yield ctx.call_entity(c, "add", 2)),
        (yield ctx.call_entity(c, "get")),
        (yield ctx.call_entity(c, "delete")),
        (yield ctx.call_entity(acct, "deposit", 100)),
        (yield ctx.call_entity(acct, "withdraw", 30)),
        (yield ctx.call_entity(acct, "balance")),
        (yield ctx.call_entity(acct, "profile")),
    ]
    return results


def test_calls_from_an_orchestration_return_the_results(client, make_worker):
    make_worker(orchestrators=[calls_and_results], entities=[counter, Account])
    iid = client.schedule_new_orchestration(calls_and_results)
    assert _completed(client, iid) == [5, 7, 7, None, 100, 70, 70, {"balance": 70, "currency": "EUR"}]
    assert client.get_entity(EntityId("counter", "calls")) is None
    assert _state(client, EntityId("account", "calls")) == 70


# ---------------------------------------------------------------------------------------------- critical sections

_inside = threading.Event()
_go = threading.Event()


def pause_inside(ctx, _):
    _inside.set()
    if not _go.wait(timeout=15):
        raise TimeoutError("the test never let the critical section go on")


def lock_two(ctx, _):
    a, b = EntityId("counter", "pair-a"), EntityId("counter", "pair-b")
    with (yield ctx.lock_entities([a, b])):
        ra = yield ctx.call_entity(a, "add", 1)
        rb = yield ctx.call_entity(b, "add", 2)
        yield ctx.call_activity(pause_inside)
    return [ra, rb]


def test_critical_section_locks_two_entities_calls_both_and_releases(backend, client, make_worker):
    _inside.clear()
    _go.clear()
    make_worker(orchestrators=[lock_two], activities=[pause_inside], entities=[counter])
    a, b = EntityId("counter", "pair-a"), EntityId("counter", "pair-b")
    iid = client.schedule_new_orchestration(lock_two)
    try:
        assert _inside.wait(timeout=10), "the orchestration never got inside its critical section"
        assert _locked_by(backend, a) == iid and _locked_by(backend, b) == iid
        assert client.get_entity(a).backlog_queue_size == 0
        client.signal_entity(a, "add", 100)  # someone else's operation waits for the lock
        wait_until(lambda: client.get_entity(a).backlog_queue_size == 1, what="signal queued behind the lock")
        assert _state(client, a) == 1
    finally:
        _go.set()
    assert _completed(client, iid) == [1, 2]
    wait_until(lambda: _state(client, a) == 101, what="queued signal applied once the lock is released")
    assert _locked_by(backend, a) is None and _locked_by(backend, b) is None
    assert _state(client, b) == 2


_marks: list[str] = []
_marks_lock = threading.Lock()


def mark(ctx, text):
    with _marks_lock:
        _marks.append(text)


def read_modify_write(ctx, tag):
    a, b = EntityId("counter", "rmw-a"), EntityId("counter", "rmw-b")
    with (yield ctx.lock_entities([a, b])):
        yield ctx.call_activity(mark, input=f"enter {tag}")
        va = yield ctx.call_entity(a, "get")
        vb = yield ctx.call_entity(b, "get")
        yield ctx.call_activity(mark, input=f"middle {tag}")  # another section would interleave here
        yield ctx.call_entity(a, "set", va + 1)
        yield ctx.call_entity(b, "set", vb + 1)
        yield ctx.call_activity(mark, input=f"exit {tag}")
    return [va, vb]


def test_contending_critical_sections_are_serialised(client, make_worker):
    with _marks_lock:
        _marks.clear()
    make_worker(orchestrators=[read_modify_write], activities=[mark], entities=[counter])
    n = 5
    ids = [client.schedule_new_orchestration(read_modify_write, input=f"t{i}") for i in range(n)]
    outputs = [_completed(client, iid, timeout=30) for iid in ids]
    # every section read what the previous one wrote: no lost update
    assert _state(client, EntityId("counter", "rmw-a")) == n
    assert _state(client, EntityId("counter", "rmw-b")) == n
    assert sorted(va for va, _ in outputs) == list(range(n))
    assert all(va == vb for va, vb in outputs)
    # and the sections never overlapped: enter/middle/exit of one, then the next
    with _marks_lock:
        marks = list(_marks)
    assert len(marks) == 3 * n
    for i in range(0, len(marks), 3):
        tag = marks[i].split()[1]
        assert marks[i : i + 3] == [f"enter {tag}", f"middle {tag}", f"exit {tag}"], marks


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


@pytest.mark.parametrize(
    "how, status",
    [
        ("completes", OrchestrationStatus.COMPLETED),
        ("fails", OrchestrationStatus.FAILED),
        ("terminated", OrchestrationStatus.TERMINATED),
    ],
)
def test_locks_are_released_when_the_owner_ends(backend, client, make_worker, how, status):
    make_worker(orchestrators=[holds_lock_then, locks_after], entities=[counter])
    eid = EntityId("counter", f"lock-{how}")
    owner = client.schedule_new_orchestration(holds_lock_then, input=how)
    wait_until(lambda: _state(client, eid) == 1, what="owner inside its critical section")
    if how == "terminated":
        assert _locked_by(backend, eid) == owner
        client.terminate_orchestration(owner, output="stopped")
    assert client.wait_for_orchestration_completion(owner, timeout=10).runtime_status == status
    second = client.schedule_new_orchestration(locks_after, input=how)
    assert _completed(client, second) == 101
    assert _locked_by(backend, eid) is None


def holds_lock_until_event(ctx, key):
    eid = EntityId("counter", key)
    with (yield ctx.lock_entities([eid])):
        yield ctx.wait_for_external_event("release")
    return "released"


def waits_for_event(ctx, _):
    return (yield ctx.wait_for_external_event("go"))


def test_pending_lock_request_of_a_terminated_orchestration_is_not_granted_to_a_new_instance_with_its_id(
    backend, client, make_worker
):
    make_worker(orchestrators=[holds_lock_until_event, waits_for_event], entities=[counter])
    eid = EntityId("counter", "reused")
    holder = client.schedule_new_orchestration(holds_lock_until_event, input="reused")
    wait_until(lambda: _locked_by(backend, eid) == holder, what="lock granted to the holder")
    waiter = client.schedule_new_orchestration(holds_lock_until_event, input="reused", instance_id="reused-waiter")
    wait_until(lambda: _transient(backend, eid).backlogQueueSize == 1, what="second lock request queued")
    client.terminate_orchestration(waiter)
    client.wait_for_orchestration_completion(waiter, timeout=10)
    # the terminated instance's ID is reused by an orchestration that never asks for any lock
    client.schedule_new_orchestration(waits_for_event, instance_id=waiter)
    client.wait_for_orchestration_start(waiter, timeout=10)
    client.raise_orchestration_event(holder, "release")
    assert _completed(client, holder) == "released"
    third = client.schedule_new_orchestration(holds_lock_until_event, input="reused")
    try:
        wait_until(lambda: _locked_by(backend, eid) == third, timeout=5, what="the lock to pass to the next requester")
    except AssertionError as e:
        raise AssertionError(f"{e}: the entity is locked by {_locked_by(backend, eid)!r}, not {third!r}") from None
    client.raise_orchestration_event(third, "release")
    assert _completed(client, third) == "released"
    client.raise_orchestration_event(waiter, "go", data="done")
    assert _completed(client, waiter) == "done"


# ---------------------------------------------------------------------------------------------- ordering, parallelism


def test_operations_apply_one_at_a_time_in_arrival_order(client, make_worker):
    make_worker(entities=[appender])
    eid = EntityId("appender", "order")
    for i in range(50):
        client.signal_entity(eid, "append", i)
    wait_until(lambda: len(_state(client, eid, list) or []) == 50, what="50 operations")
    assert _state(client, eid, list) == list(range(50))


_rendezvous: dict[str, threading.Barrier] = {}


def rendezvous(ctx: entities.EntityContext, _):
    # Returns only once every entity's operation is running at the same moment.
    _rendezvous["barrier"].wait(timeout=10)
    ctx.set_state(ctx.get_state(int, 0) + 1)


def test_many_entities_progress_in_parallel(client, make_worker):
    n = 20
    _rendezvous["barrier"] = threading.Barrier(n)
    make_worker(entities=[rendezvous], concurrency_options=ConcurrencyOptions(maximum_thread_pool_workers=n + 4))
    ids = [EntityId("rendezvous", f"p{i}") for i in range(n)]
    for eid in ids:
        client.signal_entity(eid, "meet")
    wait_until(lambda: all(_state(client, e) == 1 for e in ids), timeout=15, what=f"all {n} entities at 1")
    assert not _rendezvous["barrier"].broken


# ---------------------------------------------------------------------------------------------- GetEntity


def test_get_entity_with_and_without_state(backend, client, make_worker):
    make_worker(entities=[counter])
    eid = EntityId("counter", "meta")
    before = datetime.now(timezone.utc)
    client.signal_entity(eid, "add", 4)
    wait_until(lambda: client.get_entity(eid), what="entity")
    with_state = client.get_entity(eid, include_state=True)
    assert with_state.includes_state and with_state.get_typed_state(int) == 4
    assert str(with_state.id) == "@counter@meta"
    assert before - timedelta(seconds=1) <= with_state.last_modified <= datetime.now(timezone.utc)
    assert with_state.backlog_queue_size == 0 and with_state.get_locked_by() is None
    without = client.get_entity(eid, include_state=False)
    assert without is not None and not without.includes_state and without.get_state() is None
    raw = _raw_entity(backend, eid, include_state=False)
    assert raw.exists and raw.entity.instanceId == "@counter@meta"
    assert not raw.entity.HasField("serializedState")
    assert _raw_entity(backend, eid).entity.serializedState.value == "4"
    assert client.get_entity(EntityId("counter", "never-signalled")) is None


# ---------------------------------------------------------------------------------------------- QueryEntities


def test_query_entities_by_prefix(client, make_worker):
    make_worker(entities=[counter, appender])
    for i in range(3):
        client.signal_entity(EntityId("counter", f"q{i}"), "add", i + 1)
    client.signal_entity(EntityId("counter", "other"), "add", 9)
    client.signal_entity(EntityId("appender", "q0"), "append", 1)
    wait_until(lambda: len(client.get_all_entities(EntityQuery())) == 5, what="5 entities")
    found = client.get_all_entities(EntityQuery(instance_id_starts_with="@counter@q"))
    assert [str(e.id) for e in found] == ["@counter@q0", "@counter@q1", "@counter@q2"]
    assert [e.get_typed_state(int) for e in found] == [1, 2, 3]
    assert len(client.get_all_entities(EntityQuery(instance_id_starts_with="@counter@"))) == 4
    assert [str(e.id) for e in client.get_all_entities(EntityQuery(instance_id_starts_with="@appender"))] == [
        "@appender@q0"
    ]
    assert client.get_all_entities(EntityQuery(instance_id_starts_with="@nothing@")) == []
    no_state = client.get_all_entities(EntityQuery(instance_id_starts_with="@counter@q", include_state=False))
    assert len(no_state) == 3 and all(e.get_state() is None for e in no_state)


def test_query_entities_by_last_modified(client, make_worker):
    make_worker(entities=[counter])
    old, new = EntityId("counter", "old"), EntityId("counter", "new")
    client.signal_entity(old, "add", 1)
    wait_until(lambda: _state(client, old) == 1, what="old entity")
    old_time = client.get_entity(old).last_modified
    wait_until(lambda: datetime.now(timezone.utc) > old_time + timedelta(milliseconds=50), what="time to pass")
    client.signal_entity(new, "add", 1)
    wait_until(lambda: _state(client, new) == 1, what="new entity")
    new_time = client.get_entity(new).last_modified
    assert new_time > old_time
    middle = old_time + (new_time - old_time) / 2

    def ids(**kw):
        return sorted(str(e.id) for e in client.get_all_entities(EntityQuery(**kw)))

    assert ids(last_modified_from=middle) == ["@counter@new"]
    assert ids(last_modified_to=middle) == ["@counter@old"]
    wide = {"last_modified_from": old_time - timedelta(seconds=1), "last_modified_to": new_time + timedelta(seconds=1)}
    assert ids(**wide) == ["@counter@new", "@counter@old"]
    assert ids(last_modified_from=new_time + timedelta(hours=1)) == []
    assert ids(last_modified_to=old_time - timedelta(hours=1)) == []


def test_query_entities_pages_with_continuation_tokens(backend, client, make_worker):
    make_worker(entities=[counter])
    for i in range(5):
        client.signal_entity(EntityId("counter", f"page{i}"), "add", 1)
    wait_until(lambda: len(client.get_all_entities(EntityQuery())) == 5, what="5 entities")
    stub, pages, token = raw_stub(backend), [], None
    while True:
        query = pb.EntityQuery(pageSize=wrappers_pb2.Int32Value(value=2), continuationToken=token, includeState=True)
        reply = stub.QueryEntities(pb.QueryEntitiesRequest(query=query))
        pages.append([e.instanceId for e in reply.entities])
        assert len(pages) <= 5, "paging never ends"
        if not reply.HasField("continuationToken"):
            break
        assert reply.continuationToken.value
        token = reply.continuationToken
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [i for p in pages for i in p] == [f"@counter@page{i}" for i in range(5)]
    sdk_paged = client.get_all_entities(EntityQuery(page_size=2))  # the SDK follows the tokens itself
    assert [str(e.id) for e in sdk_paged] == [f"@counter@page{i}" for i in range(5)]


def adds_then_deletes(ctx, _):
    """Calls (not signals) so that the orchestration ends only after both operations ran."""
    deleted = EntityId("counter", "deleted")
    yield ctx.call_entity(deleted, "add", 1)
    yield ctx.call_entity(deleted, "delete")


def test_query_entities_include_transient(backend, client, make_worker):
    # A locked entity without state is transient: listed only with include_transient. An entity
    # whose state was deleted is gone at once, as on DTS: not even include_transient lists it.
    make_worker(orchestrators=[adds_then_deletes, holds_lock_until_event], entities=[counter])
    alive = EntityId("counter", "alive")
    client.signal_entity(alive, "add", 1)
    # Waiting for "no state" alone would also hold before the first add ran (a race).
    done = client.wait_for_orchestration_completion(client.schedule_new_orchestration(adds_then_deletes), timeout=10)
    assert done.runtime_status == OrchestrationStatus.COMPLETED, done.failure_details
    owner = client.schedule_new_orchestration(holds_lock_until_event, input="locked")
    wait_until(lambda: _locked_by(backend, EntityId("counter", "locked")) == owner, what="lock granted")
    wait_until(lambda: _state(client, alive) == 1, what="the signalled entity's state")
    assert [str(e.id) for e in client.get_all_entities(EntityQuery())] == ["@counter@alive"]
    transient = client.get_all_entities(EntityQuery(include_transient=True))
    assert sorted(str(e.id) for e in transient) == ["@counter@alive", "@counter@locked"]
    client.raise_orchestration_event(owner, "release")
    assert _completed(client, owner) == "released"
    transient = client.get_all_entities(EntityQuery(include_transient=True))
    assert [str(e.id) for e in transient] == ["@counter@alive"]  # unlocked and stateless: gone


# ---------------------------------------------------------------------------------------------- CleanEntityStorage


def test_deleted_entities_disappear_at_once_so_cleaning_finds_nothing_to_remove(client, make_worker):
    # DTS behaviour (durabletask-python tests/durabletask-azuremanaged/test_dts_batch_actions.py,
    # test_clean_entity_storage): an entity whose state is deleted is removed at once, so
    # CleanEntityStorage reports 0 removed and 0 locks released.
    make_worker(entities=[counter])
    for key in ("keep", "drop1", "drop2"):
        client.signal_entity(EntityId("counter", key), "add", 1)
    wait_until(lambda: len(client.get_all_entities(EntityQuery())) == 3, what="3 entities")
    for key in ("drop1", "drop2"):
        client.signal_entity(EntityId("counter", key), "delete")
    wait_until(lambda: len(client.get_all_entities(EntityQuery())) == 1, what="2 deleted")
    assert [str(e.id) for e in client.get_all_entities(EntityQuery(include_transient=True))] == ["@counter@keep"]
    assert client.get_entity(EntityId("counter", "drop1")) is None
    result = client.clean_entity_storage(remove_empty_entities=True, release_orphaned_locks=True)
    assert (result.empty_entities_removed, result.orphaned_locks_released) == (0, 0)
    assert [str(e.id) for e in client.get_all_entities(EntityQuery(include_transient=True))] == ["@counter@keep"]
    assert _state(client, EntityId("counter", "keep")) == 1


def test_clean_entity_storage_keeps_locks_of_running_orchestrations(backend, client, make_worker):
    # Locks are released as soon as their owner ends (complete, fail, terminate), so a store reached
    # only through the protocol holds no orphaned lock: cleaning must release none, and must not take
    # a lock from a live owner or remove the locked (stateless) entity.
    make_worker(orchestrators=[holds_lock_until_event], entities=[counter])
    eid = EntityId("counter", "held")
    owner = client.schedule_new_orchestration(holds_lock_until_event, input="held")
    wait_until(lambda: _locked_by(backend, eid) == owner, what="lock granted")
    result = client.clean_entity_storage(remove_empty_entities=True, release_orphaned_locks=True)
    assert (result.empty_entities_removed, result.orphaned_locks_released) == (0, 0)
    assert _locked_by(backend, eid) == owner
    client.raise_orchestration_event(owner, "release")
    assert _completed(client, owner) == "released"
    assert _transient(backend, eid) is None  # unlocked and stateless: removed at once, as on DTS
    result = client.clean_entity_storage()
    assert (result.empty_entities_removed, result.orphaned_locks_released) == (0, 0)


# ---------------------------------------------------------------------------------------------- redelivery


def calls_get(ctx, key):
    return (yield ctx.call_entity(EntityId("counter", key), "get"))


def test_worker_disconnecting_with_an_entity_work_item_applies_it_exactly_once(backend, client, make_worker):
    raw = RawWorker(backend)
    eid = EntityId("counter", "redeliver")
    try:
        client.signal_entity(eid, "add", 5)
        item = raw.next()
        assert item.HasField("entityRequest"), item
        assert item.entityRequest.instanceId == str(eid)
        assert [op.operation for op in item.entityRequest.operations] == ["add"]
    finally:
        raw.close()  # without completing the batch
    # the batch goes back to the entity's queue
    wait_until(lambda: (m := _transient(backend, eid)) is not None and m.backlogQueueSize == 1, what="requeue")
    # a late completion through the closed stream's token must not be applied
    stale = pb.EntityBatchResult(
        completionToken=item.completionToken,
        results=[pb.OperationResult(success=pb.OperationResultSuccess(result=wrappers_pb2.StringValue(value="999")))],
        entityState=wrappers_pb2.StringValue(value="999"),
    )
    with pytest.raises(grpc.RpcError) as err:
        raw_stub(backend).CompleteEntityTask(stale)
    assert err.value.code() in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.NOT_FOUND)
    make_worker(orchestrators=[calls_get], entities=[counter])
    iid = client.schedule_new_orchestration(calls_get, input="redeliver")
    assert _completed(client, iid) == 5  # applied once: not lost (0), not twice (10), not the stale 999
    assert _state(client, eid) == 5
    assert client.get_entity(eid).backlog_queue_size == 0


# ---------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("bad", ["counter", "@@key"])
def test_malformed_entity_id_is_invalid_argument(backend, client, make_worker, bad):
    make_worker(entities=[counter])
    good = EntityId("counter", "untouched")
    client.signal_entity(good, "add", 3)
    wait_until(lambda: _state(client, good) == 3, what="good entity")
    stub = raw_stub(backend)
    for call, request in (
        (stub.SignalEntity, pb.SignalEntityRequest(instanceId=bad, name="add", input=_json_value(1))),
        (stub.GetEntity, pb.GetEntityRequest(instanceId=bad, includeState=True)),
    ):
        with pytest.raises(grpc.RpcError) as err:
            call(request)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert bad in err.value.details(), err.value.details()
    client.signal_entity(good, "add", 1)
    wait_until(lambda: _state(client, good) == 4, what="good entity still served")
    assert [str(e.id) for e in client.get_all_entities(EntityQuery(include_transient=True))] == ["@counter@untouched"]


def test_complete_entity_task_with_unknown_token_is_not_found(backend):
    with pytest.raises(grpc.RpcError) as err:
        raw_stub(backend).CompleteEntityTask(pb.EntityBatchResult(completionToken="e424242"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert "e424242" in err.value.details()


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage() + (str(record.exc_info[1]) if record.exc_info else ""))


def test_oversized_entity_state_is_refused_and_other_entities_keep_working(client, make_worker):
    records = _Records()
    logger = logging.Logger("entity-size-test")
    logger.addHandler(records)
    make_worker(orchestrators=[calls_get], entities=[big_state, counter], logger=logger)
    huge, small = EntityId("big_state", "huge"), EntityId("counter", "small")
    client.signal_entity(huge, "set", 5 * 1024 * 1024)
    wait_until(
        lambda: any("RESOURCE_EXHAUSTED" in m for m in records.messages),
        what="the worker's oversized CompleteEntityTask refused with RESOURCE_EXHAUSTED",
    )
    assert client.get_entity(huge) is None  # nothing of the refused result was stored
    client.signal_entity(small, "add", 1)
    wait_until(lambda: _state(client, small) == 1, what="another entity still served")
    iid = client.schedule_new_orchestration(calls_get, input="small")
    assert _completed(client, iid) == 1
