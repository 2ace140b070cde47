"""Task hubs: the `taskhub` header picks an isolated namespace; a fixed set refuses the others.

Everything runs through the real SDK client and worker (with `metadata=[("taskhub", ...)]`, as
DTS clients send it) or the raw protocol, on both stores.
"""

from __future__ import annotations

import shutil
import sqlite3
from datetime import timedelta
from pathlib import Path

import grpc
import pytest
from durabletask import entities
from durabletask.client import OrchestrationStatus, TaskHubGrpcClient
from durabletask.internal import orchestrator_service_pb2 as pb
from durabletask.internal import orchestrator_service_pb2_grpc as stubs
from durabletask.worker import TaskHubGrpcWorker

from emulator import Config, InMemoryOrchestrationBackend
from emulator.control import ControlStub
from emulator.control import control_pb2 as cpb
from emulator.testing import register
from tests.helpers import RawWorker, wait_until

SCHEMA1 = Path(__file__).parent / "data" / "schema1.db"


def _hub(name: str) -> list[tuple[str, str]]:
    return [("taskhub", name)]


def _greet(ctx, name):
    return f"Hello, {name}!"


def _hello(ctx, name):
    return (yield ctx.call_activity(_greet, input=name))


def _waits(ctx, _):
    return (yield ctx.wait_for_external_event("go"))


def _sleeps(ctx, seconds):
    yield ctx.create_timer(ctx.current_utc_datetime + timedelta(seconds=seconds))
    return "slept"


def _counter(ctx: entities.EntityContext, value):
    state = ctx.get_state(int, 0)
    if ctx.operation == "add":
        ctx.set_state(state + value)
    return ctx.get_state(int, 0)


@pytest.fixture
def hubs(backend):
    """Clients and workers of hubs 'hub-a' and 'hub-b' plus a header-less ('default') client."""
    made: list = []

    def client(hub: str | None = None) -> TaskHubGrpcClient:
        c = TaskHubGrpcClient(host_address=backend.address, metadata=_hub(hub) if hub else None)
        made.append(c)
        return c

    def worker(hub: str | None, orchestrators=(), activities=(), ents=()) -> TaskHubGrpcWorker:
        w = register(
            TaskHubGrpcWorker(host_address=backend.address, metadata=_hub(hub) if hub else None),
            orchestrators,
            activities,
            ents,
        )
        w.start()
        made.append(w)
        return w

    yield client, worker
    for thing in reversed(made):
        (thing.stop if isinstance(thing, TaskHubGrpcWorker) else thing.close)()


def test_same_instance_id_in_two_hubs_is_two_instances(backend, hubs):
    client, worker = hubs
    worker("hub-a", [_hello], [_greet])
    worker("hub-b", [_hello], [_greet])
    a, b, plain = client("hub-a"), client("hub-b"), client()
    a.schedule_new_orchestration(_hello, input="A", instance_id="same")
    b.schedule_new_orchestration(_hello, input="B", instance_id="same")
    assert a.wait_for_orchestration_completion("same", timeout=20).serialized_output == '"Hello, A!"'
    assert b.wait_for_orchestration_completion("same", timeout=20).serialized_output == '"Hello, B!"'
    assert plain.get_orchestration_state("same") is None  # the default hub has no such instance
    # replacing it in one hub leaves the other untouched
    a.purge_orchestration("same")
    assert a.get_orchestration_state("same") is None
    assert b.get_orchestration_state("same").serialized_output == '"Hello, B!"'


def test_a_worker_only_receives_its_own_hubs_work(backend, hubs):
    client, worker = hubs
    worker("hub-a", [_hello], [_greet])
    a, b = client("hub-a"), client("hub-b")
    b.schedule_new_orchestration(_hello, input="B", instance_id="only-b")
    a.schedule_new_orchestration(_hello, input="A", instance_id="only-a")
    assert a.wait_for_orchestration_completion("only-a", timeout=20).runtime_status == OrchestrationStatus.COMPLETED
    # hub-a's worker took hub-a's work and none of hub-b's, which waits for a worker of its own hub
    assert b.get_orchestration_state("only-b").runtime_status == OrchestrationStatus.PENDING
    worker("hub-b", [_hello], [_greet])
    assert b.wait_for_orchestration_completion("only-b", timeout=20).serialized_output == '"Hello, B!"'


def test_queries_and_purges_see_only_their_hub(backend, hubs):
    client, worker = hubs
    worker("hub-a", [_hello], [_greet])
    worker("hub-b", [_hello], [_greet])
    a, b = client("hub-a"), client("hub-b")
    for i in range(3):
        a.schedule_new_orchestration(_hello, input=str(i), instance_id=f"a-{i}")
    b.schedule_new_orchestration(_hello, input="b", instance_id="b-0")
    for i in range(3):
        a.wait_for_orchestration_completion(f"a-{i}", timeout=20)
    b.wait_for_orchestration_completion("b-0", timeout=20)
    from durabletask.client import OrchestrationQuery

    assert sorted(s.instance_id for s in a.get_all_orchestration_states(OrchestrationQuery())) == ["a-0", "a-1", "a-2"]
    assert [s.instance_id for s in b.get_all_orchestration_states(OrchestrationQuery())] == ["b-0"]
    purged = b.purge_orchestrations_by(runtime_status=[OrchestrationStatus.COMPLETED])
    assert purged.deleted_instance_count == 1
    assert len(a.get_all_orchestration_states(OrchestrationQuery())) == 3


def test_entities_with_the_same_id_are_separate_per_hub(backend, hubs):
    client, worker = hubs
    worker("hub-a", ents=[_counter])
    worker("hub-b", ents=[_counter])
    a, b = client("hub-a"), client("hub-b")
    eid = entities.EntityInstanceId("_counter", "shared")
    a.signal_entity(eid, "add", input=5)
    b.signal_entity(eid, "add", input=7)
    wait_until(lambda: (m := a.get_entity(eid)) is not None and m.get_state(int) == 5, what="hub-a's counter at 5")
    wait_until(lambda: (m := b.get_entity(eid)) is not None and m.get_state(int) == 7, what="hub-b's counter at 7")
    assert client().get_entity(eid) is None


def test_reset_of_one_hub_leaves_the_others_and_their_timers(backend, hubs):
    client, worker = hubs
    worker("hub-a", [_waits, _sleeps])
    worker("hub-b", [_waits, _sleeps])
    a, b = client("hub-a"), client("hub-b")
    a.schedule_new_orchestration(_waits, instance_id="waiting")
    b.schedule_new_orchestration(_waits, instance_id="waiting")
    b.schedule_new_orchestration(_sleeps, input=0.5, instance_id="timer")
    a.wait_for_orchestration_start("waiting", timeout=20)
    b.wait_for_orchestration_start("timer", timeout=20)
    backend.reset(task_hub="hub-a")
    assert a.get_orchestration_state("waiting") is None
    # hub-b keeps its instances, and its timer still fires after hub-a's timers were cleared
    assert b.wait_for_orchestration_completion("timer", timeout=20).serialized_output == '"slept"'
    b.raise_orchestration_event("waiting", "go", data="still here")
    assert b.wait_for_orchestration_completion("waiting", timeout=20).serialized_output == '"still here"'
    # hub-a's workers stayed connected: new work there runs
    a.schedule_new_orchestration(_waits, instance_id="again")
    a.raise_orchestration_event("again", "go", data=1)
    assert a.wait_for_orchestration_completion("again", timeout=20).serialized_output == "1"


def test_full_reset_forgets_hubs_made_on_first_use(backend):
    stub = stubs.TaskHubSidecarServiceStub(grpc.insecure_channel(backend.address))
    stub.StartInstance(pb.CreateInstanceRequest(name="x", instanceId="i"), metadata=_hub("scratch"))
    assert [h.name for h in backend.engine.hubs()] == ["default", "scratch"]
    backend.reset()
    assert [h.name for h in backend.engine.hubs()] == ["default"]
    reply = stub.GetInstance(pb.GetInstanceRequest(instanceId="i"), metadata=_hub("scratch"))
    assert not reply.exists


def test_delete_task_hub_rpc_resets_only_its_hub(backend):
    stub = stubs.TaskHubSidecarServiceStub(grpc.insecure_channel(backend.address))
    for hub in ("one", "two"):
        stub.StartInstance(pb.CreateInstanceRequest(name="x", instanceId="i"), metadata=_hub(hub))
    stub.DeleteTaskHub(pb.DeleteTaskHubRequest(), metadata=_hub("one"))
    assert not stub.GetInstance(pb.GetInstanceRequest(instanceId="i"), metadata=_hub("one")).exists
    assert stub.GetInstance(pb.GetInstanceRequest(instanceId="i"), metadata=_hub("two")).exists


@pytest.mark.parametrize(
    "name, message",
    [
        ("", "the taskhub header is empty"),
        ("x" * 65, "is 65 characters long; at most 64"),
        ("bad name", "is not valid: use letters, digits and hyphens"),
        ("-leading", "is not valid"),
        ("trailing-", "is not valid"),
        ("under_score", "is not valid"),
    ],
)
def test_malformed_hub_name_is_invalid_argument_and_the_server_keeps_serving(backend, name, message):
    stub = stubs.TaskHubSidecarServiceStub(grpc.insecure_channel(backend.address))
    with pytest.raises(grpc.RpcError) as err:
        stub.StartInstance(pb.CreateInstanceRequest(name="x"), metadata=_hub(name))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in err.value.details()
    with pytest.raises(grpc.RpcError) as err:
        next(iter(stub.GetWorkItems(pb.GetWorkItemsRequest(), metadata=_hub(name), timeout=10)))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert stub.StartInstance(pb.CreateInstanceRequest(name="x"), metadata=_hub("fine-1")).instanceId
    assert [h.name for h in backend.engine.hubs()] == ["default", "fine-1"]


def test_fixed_set_of_hubs_refuses_others_with_the_dts_emulators_message():
    with InMemoryOrchestrationBackend(port=0, task_hubs=["alpha", "beta"]) as backend:
        stub = stubs.TaskHubSidecarServiceStub(grpc.insecure_channel(backend.address))
        for hub in ("gamma", None):  # no header means 'default', which is not in the set
            with pytest.raises(grpc.RpcError) as err:
                stub.StartInstance(pb.CreateInstanceRequest(name="x"), metadata=_hub(hub) if hub else None)
            assert err.value.code() == grpc.StatusCode.NOT_FOUND
            assert err.value.details() == f"Task hub not found: {hub or 'default'}"
        assert stub.StartInstance(pb.CreateInstanceRequest(name="x", instanceId="ok"), metadata=_hub("beta"))
        assert [h.name for h in backend.engine.hubs()] == ["alpha", "beta"]
        backend.reset()  # a full reset keeps the fixed set
        assert [h.name for h in backend.engine.hubs()] == ["alpha", "beta"]


def test_invalid_names_in_the_fixed_set_are_refused_at_start():
    from emulator.errors import InvalidRequest

    with pytest.raises(InvalidRequest, match="is not valid"):
        InMemoryOrchestrationBackend(port=0, task_hubs=["good", "no good"]).start()


def test_workers_are_listed_with_their_hub_sdk_and_worker_id(backend):
    raw = RawWorker(backend)  # default hub, no identity
    identity = [("taskhub", "hub-w"), ("workerid", "host-1,4242,abc"), ("x-user-agent", "durabletask-python/1.12.0")]
    channel = grpc.insecure_channel(backend.address)
    stream = stubs.TaskHubSidecarServiceStub(channel).GetWorkItems(pb.GetWorkItemsRequest(), metadata=identity)
    control = ControlStub(channel)
    try:
        workers = wait_until(
            lambda: (
                [w for w in control.ListWorkers(cpb.ListWorkersRequest()).workers]
                if backend.engine.hub("hub-w").worker_count
                else None
            ),
            what="the hub-w worker to connect",
        )
        by_hub = {w.task_hub: w for w in workers}
        assert set(by_hub) == {"default", "hub-w"}
        assert by_hub["hub-w"].worker_id == "host-1,4242,abc"
        assert by_hub["hub-w"].user_agent == "durabletask-python/1.12.0"
        assert by_hub["hub-w"].peer.startswith("ipv")
        assert by_hub["default"].user_agent.startswith("grpc-python")  # falls back to the user-agent header
        only = control.ListWorkers(cpb.ListWorkersRequest(task_hub="hub-w")).workers
        assert [w.worker_id for w in only] == ["host-1,4242,abc"]
        listed = {h.name: h for h in control.ListTaskHubs(cpb.ListTaskHubsRequest()).task_hubs}
        assert listed["hub-w"].worker_count == 1 and listed["default"].worker_count == 1
    finally:
        stream.cancel()
        raw.close()
        channel.close()


def test_control_service_counts_and_resets_hubs(backend):
    stub = stubs.TaskHubSidecarServiceStub(grpc.insecure_channel(backend.address))
    control = ControlStub(grpc.insecure_channel(backend.address))
    for i in range(3):
        stub.StartInstance(pb.CreateInstanceRequest(name="x", instanceId=f"i{i}"), metadata=_hub("counted"))
    stub.TerminateInstance(pb.TerminateRequest(instanceId="i0"), metadata=_hub("counted"))
    listed = {h.name: h for h in control.ListTaskHubs(cpb.ListTaskHubsRequest()).task_hubs}
    assert dict(listed["counted"].instance_counts) == {"PENDING": 2, "TERMINATED": 1}
    control.ResetTaskHub(cpb.ResetTaskHubRequest(task_hub="counted"))
    listed = {h.name: h for h in control.ListTaskHubs(cpb.ListTaskHubsRequest()).task_hubs}
    assert dict(listed["counted"].instance_counts) == {}
    with pytest.raises(grpc.RpcError) as err:
        control.ListWorkers(cpb.ListWorkersRequest(task_hub="no good"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_control_service_is_listed_by_reflection(backend):
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    with grpc.insecure_channel(backend.address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        replies = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        names = {s.name for reply in replies for s in reply.list_services_response.service}
    assert "durabletask.emulator.v1.EmulatorControl" in names


def test_extra_ports_serve_the_same_emulator():
    config = Config(extra_ports=(0,))
    with InMemoryOrchestrationBackend(port=0, config=config) as backend:
        server = backend._server
        assert len(server.ports) == 2 and server.ports[0] != server.ports[1]
        first = stubs.TaskHubSidecarServiceStub(grpc.insecure_channel(f"localhost:{server.ports[0]}"))
        second = stubs.TaskHubSidecarServiceStub(grpc.insecure_channel(f"localhost:{server.ports[1]}"))
        first.StartInstance(pb.CreateInstanceRequest(name="x", instanceId="shared"), metadata=_hub("h"))
        assert second.GetInstance(pb.GetInstanceRequest(instanceId="shared"), metadata=_hub("h")).exists


# ---------------------------------------------------------------------- persistence


def test_hubs_and_their_state_survive_a_restart(tmp_path):
    db = str(tmp_path / "hubs.db")
    with InMemoryOrchestrationBackend(port=0, db_path=db) as backend:
        stub = stubs.TaskHubSidecarServiceStub(grpc.insecure_channel(backend.address))
        stub.StartInstance(pb.CreateInstanceRequest(name="x", instanceId="kept"), metadata=_hub("durable-a"))
        stub.StartInstance(pb.CreateInstanceRequest(name="y", instanceId="kept"), metadata=_hub("durable-b"))
        stub.GetInstance(pb.GetInstanceRequest(instanceId="nothing"), metadata=_hub("empty-hub"))
    with InMemoryOrchestrationBackend(port=0, db_path=db) as backend:
        assert [h.name for h in backend.engine.hubs()] == ["default", "durable-a", "durable-b", "empty-hub"]
        stub = stubs.TaskHubSidecarServiceStub(grpc.insecure_channel(backend.address))
        a = stub.GetInstance(pb.GetInstanceRequest(instanceId="kept"), metadata=_hub("durable-a"))
        b = stub.GetInstance(pb.GetInstanceRequest(instanceId="kept"), metadata=_hub("durable-b"))
        assert (a.orchestrationState.name, b.orchestrationState.name) == ("x", "y")
        assert not stub.GetInstance(pb.GetInstanceRequest(instanceId="kept")).exists
        backend.reset(task_hub="durable-a")
    with InMemoryOrchestrationBackend(port=0, db_path=db) as backend:
        stub = stubs.TaskHubSidecarServiceStub(grpc.insecure_channel(backend.address))
        assert not stub.GetInstance(pb.GetInstanceRequest(instanceId="kept"), metadata=_hub("durable-a")).exists
        assert stub.GetInstance(pb.GetInstanceRequest(instanceId="kept"), metadata=_hub("durable-b")).exists


def test_a_schema_1_file_is_migrated_in_place_into_the_default_hub(tmp_path):
    db = str(tmp_path / "old.db")
    shutil.copy(SCHEMA1, db)
    with InMemoryOrchestrationBackend(port=0, db_path=db) as backend:
        client = TaskHubGrpcClient(host_address=backend.address)
        worker = TaskHubGrpcWorker(host_address=backend.address)
        worker.add_orchestrator(_waits_or_timer)
        worker.start()
        try:
            assert client.get_orchestration_state("done-1").serialized_output == '"Hello, schema1!"'
            failed = client.get_orchestration_state("failed-1")
            assert failed.runtime_status == OrchestrationStatus.FAILED
            assert failed.failure_details.message == "boom"
            counter = client.get_entity(entities.EntityInstanceId("counter", "c1"))
            assert counter.get_state(int) == 5
            # the running instance, with its 30-day timer still armed, goes on where it was
            client.raise_orchestration_event("waiting-1", "go")
            done = client.wait_for_orchestration_completion("waiting-1", timeout=20)
            assert done.serialized_output == '"event"'
            other = TaskHubGrpcClient(host_address=backend.address, metadata=_hub("elsewhere"))
            assert other.get_orchestration_state("done-1") is None
            other.close()
        finally:
            worker.stop()
            client.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert tables == {"hubs", "instances", "history", "entities"}
        assert {r[0] for r in conn.execute("SELECT DISTINCT hub FROM instances")} == {"default"}


def _waits_or_timer(ctx, _):
    from durabletask import task

    timer = ctx.create_timer(ctx.current_utc_datetime + timedelta(days=30))
    event = ctx.wait_for_external_event("go")
    winner = yield task.when_any([timer, event])
    return "event" if winner == event else "timer"


_waits_or_timer.__name__ = "waiting"  # the name the schema-1 file's instance was started with
