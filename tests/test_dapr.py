"""The Dapr Workflow dialect on --dapr-port: the unmodified Dapr Python SDK (dapr-ext-workflow 1.18)
runs activities, child workflows, timers, when_all and events; the Microsoft-dialect clients see
the same instances. The wire rewriting itself is checked field by field."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from durabletask.client import OrchestrationStatus, TaskHubGrpcClient
from durabletask.internal import orchestrator_service_pb2 as pb
from durabletask.internal import orchestrator_service_pb2_grpc as stubs

from emulator import InMemoryOrchestrationBackend, wire
from emulator.config import Config
from emulator.dapr import dialect

APP = Path(__file__).parent / "dapr" / "app.py"


@pytest.fixture(params=["memory", "sqlite"])
def dapr_backend(request, tmp_path):
    db = str(tmp_path / "dapr.db") if request.param == "sqlite" else None
    # keep-alive pings every 0.1 s: a Dapr 1.18 worker that received one would reconnect
    config = Config(health_ping_interval=0.1)
    backend = InMemoryOrchestrationBackend(port=0, db_path=db, dapr_port=0, config=config)
    backend.start()
    yield backend
    backend.stop()


@pytest.mark.timeout(90)
def test_dapr_sdk_app_on_the_same_engine_as_microsoft_clients(dapr_backend, caplog):
    """A Dapr app in a process of its own; the Microsoft dialect sees its instances; its worker is
    never sent a health ping (unknown to Dapr 1.18), though they are due every 0.1 s here."""
    caplog.set_level(logging.INFO, logger="emulator")
    run = subprocess.run(
        [sys.executable, str(APP), dapr_backend.dapr_address, "dapr-app"],
        capture_output=True,
        text=True,
        timeout=80,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert {key: r["status"] for key, r in report.items()} == dict.fromkeys(report, "COMPLETED"), report
    assert report["parent"]["output"] == "hello child 7" and report["event"]["output"] == {"ok": True}
    assert report["patched"]["output"] == [True, True, True]  # is_patched agrees on every replay
    assert [len(i) for i in report["ids"]["output"]] == [36, 36]  # the SDK's task execution IDs
    client = TaskHubGrpcClient(host_address=dapr_backend.address)
    try:
        state = client.get_orchestration_state("dapr-app-parent")
        assert state.runtime_status == OrchestrationStatus.COMPLETED and state.name == "parent"
        assert json.loads(state.serialized_output) == "hello child 7"
        child = client.get_orchestration_state("dapr-app-parent:0001")  # the SDK's child ID: parent:<task ID, hex>
        assert child is not None and child.name == "child"
    finally:
        client.close()
    # one connection for the whole run: no health ping made the worker reconnect
    assert len(re.findall(r"worker \d+ connected", caplog.text)) == 1, caplog.text


def _schedule_task_action_dapr(execution_id: str) -> bytes:
    """A Dapr ScheduleTaskAction: name 1, input 3 (a StringValue), router 4 (a TaskRouter), taskExecutionId 5."""
    router = wire.encode([wire.string(1, "app-a"), wire.string(2, "app-b")])
    return wire.encode(
        [
            wire.string(1, "hello"),
            (3, wire.LEN, wire.encode([wire.string(1, '"x"')])),
            (4, wire.LEN, router),
            wire.string(5, execution_id),
        ]
    )


def test_inbound_actions_lose_router_and_keep_the_task_execution_id_as_a_tag():
    router = (9, wire.LEN, wire.encode([wire.string(1, "app-a")]))
    action = wire.encode([(1, wire.VARINT, 3), (2, wire.LEN, _schedule_task_action_dapr("tx-1")), router])
    child = wire.encode(
        [wire.string(1, "kid"), wire.string(2, "child"), (5, wire.LEN, b"\x0a\x01a"), wire.string(6, "all")]
    )
    child_action = wire.encode([(1, wire.VARINT, 4), (3, wire.LEN, child), router])
    response = wire.encode(
        [wire.string(1, "inst"), (2, wire.LEN, action), (2, wire.LEN, child_action), (6, wire.LEN, b"\x0a\x02v1")]
    )
    translated, extras = dialect.orchestrator_response_in(response)
    started_fields, refused = extras.started_fields, extras.refused
    parsed = pb.OrchestratorResponse.FromString(translated)
    assert started_fields == wire.encode([(1, wire.LEN, b"\x0a\x02v1")])  # the version, kept for replay
    # the activity is routed from app-a to app-b: it fails at once; the child names no target app
    assert list(refused) == [3] and refused[3].errorType == dialect.CROSS_APP_ERROR
    assert "'hello' (task 3) is routed to app ID 'app-b'" in refused[3].errorMessage
    first, second = parsed.actions
    assert first.WhichOneof("orchestratorActionType") == "scheduleTask"  # not read as a rewind
    assert dict(first.scheduleTask.tags) == {dialect.TASK_EXECUTION_TAG: "tx-1"}
    assert not first.scheduleTask.HasField("parentTraceContext") and first.scheduleTask.name == "hello"
    assert second.createSubOrchestration.instanceId == "kid"
    assert not second.createSubOrchestration.HasField("parentTraceContext") and not second.createSubOrchestration.tags
    assert not parsed.HasField("orchestrationTraceContext")


def test_outbound_work_items_carry_the_execution_id_and_never_a_health_ping():
    assert dialect.work_item_out(pb.WorkItem(healthPing=pb.HealthPing()).SerializeToString()) is None
    request = pb.ActivityRequest(name="hello", taskId=1, tags={dialect.TASK_EXECUTION_TAG: "tx-9", "other": "x"})
    item = dict(
        (n, v)
        for n, _, v in wire.parse(dialect.work_item_out(pb.WorkItem(activityRequest=request).SerializeToString()))
    )
    fields = wire.parse(item[2])
    assert (7, wire.LEN, b"tx-9") in fields and sum(1 for n, _, _ in fields if n == 7) == 1
    scheduled = pb.HistoryEvent(
        eventId=1, taskScheduled=pb.TaskScheduledEvent(name="hello", tags={dialect.TASK_EXECUTION_TAG: "tx-9"})
    )
    orchestrator = pb.WorkItem(orchestratorRequest=pb.OrchestratorRequest(instanceId="i", pastEvents=[scheduled]))
    out = dict((n, v) for n, _, v in wire.parse(dialect.work_item_out(orchestrator.SerializeToString())))
    event = dict((n, v) for n, _, v in wire.parse(dict((n, v) for n, _, v in wire.parse(out[1]))[3]))
    assert (5, wire.LEN, b"tx-9") in wire.parse(event[6])


def test_start_serves_the_dapr_port():
    from tests.test_cli import _start

    proc, _ = _start("--port", "0", "--dapr-port", "0")
    try:
        assert "Dapr dialect on port " in proc.banner
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def ms_history(stub, instance_id: str) -> list:
    chunks = stub.StreamInstanceHistory(pb.StreamInstanceHistoryRequest(instanceId=instance_id))
    return [e for chunk in chunks for e in chunk.events]


def test_dapr_only_rpcs_list_instance_ids_and_get_instance_history(dapr_backend):
    import grpc

    ms = stubs.TaskHubSidecarServiceStub(grpc.insecure_channel(dapr_backend.address))
    for i in range(3):
        ms.StartInstance(pb.CreateInstanceRequest(instanceId=f"wf-{i}", name="nobody-runs-me"))
    channel = grpc.insecure_channel(dapr_backend.dapr_address)
    list_ids = channel.unary_unary("/TaskHubSidecarService/ListInstanceIDs")
    history = channel.unary_unary("/TaskHubSidecarService/GetInstanceHistory")

    seen, token = [], None
    while True:
        request = [(2, wire.VARINT, 2)] + ([wire.string(1, token)] if token else [])
        reply = wire.parse(list_ids(wire.encode(request)))
        seen += [v.decode() for n, _, v in reply if n == 1]
        token = next((v.decode() for n, _, v in reply if n == 2), None)
        if token is None:
            break
    assert seen == ["wf-0", "wf-1", "wf-2"]
    with pytest.raises(grpc.RpcError) as err:
        list_ids(wire.encode([wire.string(1, "not-a-token")]))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "not a continuation token" in err.value.details()

    ms.TerminateInstance(pb.TerminateRequest(instanceId="wf-1"))  # no worker: at once, into its history
    events = [pb.HistoryEvent.FromString(v) for n, _, v in wire.parse(history(wire.encode([wire.string(1, "wf-1")])))]
    kinds = [e.WhichOneof("eventType") for e in events]
    assert kinds and kinds == [e.WhichOneof("eventType") for e in ms_history(ms, "wf-1")], kinds
    with pytest.raises(grpc.RpcError) as err:
        history(wire.encode([wire.string(1, "ghost")]))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_dapr_purge_force_and_enforce_unique_instance_id(dapr_backend):
    """Dapr's PurgeInstancesRequest.force (4) removes an instance in any state; its
    CreateInstanceRequest.enforceUniqueInstanceId (10) refuses an ID that exists in any state."""
    import grpc

    channel = grpc.insecure_channel(dapr_backend.dapr_address)
    start = channel.unary_unary("/TaskHubSidecarService/StartInstance")
    purge = channel.unary_unary("/TaskHubSidecarService/PurgeInstances")
    get = channel.unary_unary(
        "/TaskHubSidecarService/GetInstance", response_deserializer=pb.GetInstanceResponse.FromString
    )

    def create(instance_id: str, unique: bool) -> None:
        start(
            wire.encode(
                [wire.string(1, instance_id), wire.string(2, "nobody-runs-me")] + [(10, wire.VARINT, 1)] * unique
            )
        )

    def deleted(instance_id: str, force: bool) -> int:
        reply = purge(wire.encode([wire.string(1, instance_id)] + [(4, wire.VARINT, 1)] * force))
        return pb.PurgeInstancesResponse.FromString(reply).deletedInstanceCount

    create("pending", unique=True)
    assert deleted("pending", force=False) == 0  # not finished: an ordinary purge leaves it
    with pytest.raises(grpc.RpcError) as err:
        create("pending", unique=True)
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert deleted("pending", force=True) == 1
    assert not get(pb.GetInstanceRequest(instanceId="pending").SerializeToString()).exists
    create("pending", unique=True)  # the ID is free again

    ms = TaskHubGrpcClient(host_address=dapr_backend.address)
    try:
        ms.terminate_orchestration("pending")
        ms.wait_for_orchestration_completion("pending", timeout=10)
        with pytest.raises(grpc.RpcError) as err:  # unique: a finished instance is refused too
            create("pending", unique=True)
        assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
        create("pending", unique=False)  # without it, a finished instance is replaced
        assert ms.get_orchestration_state("pending").runtime_status == OrchestrationStatus.PENDING
    finally:
        ms.close()


def add_one(ctx, x):
    return x + 1


def chain3(ctx, x):
    for _ in range(3):
        x = yield ctx.call_activity(add_one, input=x)
    return x


def kid(ctx, x):
    return (yield ctx.call_activity(add_one, input=x))


def parent_of_kid(ctx, x):
    return (yield ctx.call_sub_orchestrator(kid, input=x)) * 10


def _rerun_request(source: str, event_id: int, new_id=None, task_input=None, new_child=None, router=None) -> bytes:
    fields = [wire.string(1, source), (2, wire.VARINT, event_id)]
    if new_id is not None:
        fields.append(wire.string(3, new_id))
    if task_input is not None:
        fields += [(4, wire.LEN, wire.encode([wire.string(1, task_input)])), (5, wire.VARINT, 1)]
    if new_child is not None:
        fields.append(wire.string(6, new_child))
    if router is not None:
        fields.append((7, wire.LEN, wire.encode([wire.string(1, "me"), wire.string(2, router)])))
    return wire.encode(fields)


def test_rerun_workflow_from_event(dapr_backend):
    """Dapr's RerunWorkflowFromEvent from an activity and from a child workflow (the workflows run
    on a Microsoft-dialect worker: one engine), and each of its refusals."""
    import grpc
    from durabletask.worker import TaskHubGrpcWorker

    from emulator.testing import register

    worker = register(TaskHubGrpcWorker(host_address=dapr_backend.address), [chain3, kid, parent_of_kid], [add_one])
    worker.start()
    client = TaskHubGrpcClient(host_address=dapr_backend.address)
    dapr = grpc.insecure_channel(dapr_backend.dapr_address)
    rerun = dapr.unary_unary("/TaskHubSidecarService/RerunWorkflowFromEvent")

    def rerun_id(*args, **kwargs) -> str:
        return wire.leading_strings(rerun(_rerun_request(*args, **kwargs)))[1]

    def refused(*args, **kwargs) -> tuple[grpc.StatusCode, str]:
        with pytest.raises(grpc.RpcError) as err:
            rerun(_rerun_request(*args, **kwargs))
        return err.value.code(), err.value.details()

    def output(instance_id: str):
        state = client.wait_for_orchestration_completion(instance_id, timeout=20)
        assert state.runtime_status == OrchestrationStatus.COMPLETED, state.failure_details
        return json.loads(state.serialized_output)

    try:
        client.schedule_new_orchestration(chain3, input=1, instance_id="source")
        assert output("source") == 4
        ms = stubs.TaskHubSidecarServiceStub(grpc.insecure_channel(dapr_backend.address))
        tasks = [e.eventId for e in ms_history(ms, "source") if e.HasField("taskScheduled")]
        assert len(tasks) == 3
        # from the second activity with a new input (100 + 1 + 1); the source stays as it was
        assert rerun_id("source", tasks[1], new_id="again", task_input="100") == "again"
        assert output("again") == 102 and output("source") == 4
        fresh = rerun_id("source", tasks[0])  # as it was, under an ID the emulator picks
        assert fresh not in ("source", "again") and output(fresh) == 4

        assert refused("source", tasks[0], new_id="again")[0] == grpc.StatusCode.ALREADY_EXISTS
        code, details = refused("source", 999)
        assert code == grpc.StatusCode.INVALID_ARGUMENT and "is not an activity's TaskScheduled" in details
        code, details = refused("source", tasks[0], new_child="kid-x")
        assert code == grpc.StatusCode.INVALID_ARGUMENT and "newChildWorkflowInstanceID" in details
        code, details = refused("source", tasks[0], router="billing")
        assert code == grpc.StatusCode.UNIMPLEMENTED and "routed to app ID 'billing'" in details
        assert refused("ghost", 1)[0] == grpc.StatusCode.NOT_FOUND
        # scheduled a day ahead: it stays pending (a worker would fail an unknown orchestrator at once)
        tomorrow = datetime.now(timezone.utc) + timedelta(days=1)
        client.schedule_new_orchestration("nobody-runs-me", instance_id="pending", start_at=tomorrow)
        code, details = refused("pending", 1)
        assert code == grpc.StatusCode.FAILED_PRECONDITION and "only a completed, failed or terminated" in details

        # from a child workflow's creation: the child runs again under the new child ID, with the new input
        client.schedule_new_orchestration(parent_of_kid, input=5, instance_id="parent")
        assert output("parent") == 60
        history = ms_history(ms, "parent")
        created = next(e.eventId for e in history if e.HasField("subOrchestrationInstanceCreated"))
        assert rerun_id("parent", created, new_id="parent-2", task_input="7", new_child="kid-2") == "parent-2"
        assert output("parent-2") == 80 and output("kid-2") == 8
        assert client.get_orchestration_state("kid-2").name == "kid"
    finally:
        client.close()
        worker.stop()


def test_timer_name_and_origin_are_kept_and_completions_carry_the_task_execution_id():
    """Dapr's CreateTimerAction name (2) and origin (3-6) come back on TimerCreated (2, 4-7), where
    its Go SDK matches a wait without a timeout on replay; TaskCompleted and TaskFailed carry the
    TaskScheduled's taskExecutionId (3), where it gives a retried activity the first attempt's ID."""
    fire_at = wire.encode([(1, wire.VARINT, 253402300799)])
    origin = (4, wire.LEN, wire.encode([wire.string(1, "approval")]))  # externalEvent{name}
    timer = wire.encode([(1, wire.LEN, fire_at), wire.string(2, "approval"), origin])
    action = wire.encode([(1, wire.VARINT, 0), (4, wire.LEN, timer)])
    response, extras = dialect.orchestrator_response_in(wire.encode([wire.string(1, "i"), (2, wire.LEN, action)]))
    assert pb.OrchestratorResponse.FromString(response).actions[0].createTimer.fireAt.seconds == 253402300799
    recorded = pb.TimerCreatedEvent(fireAt=pb.OrchestratorResponse.FromString(response).actions[0].createTimer.fireAt)
    recorded.MergeFromString(extras.timer_fields[0])  # what the engine does with them
    fields = wire.parse(recorded.SerializeToString())
    assert (2, wire.LEN, b"approval") in fields and any(n == 5 for n, _, _ in fields)  # origin 4 -> 5

    scheduled = pb.HistoryEvent(
        eventId=3, taskScheduled=pb.TaskScheduledEvent(name="a", tags={dialect.TASK_EXECUTION_TAG: "tx-3"})
    )
    failed = pb.HistoryEvent(eventId=-1, taskFailed=pb.TaskFailedEvent(taskScheduledId=3))
    other = pb.HistoryEvent(eventId=-1, taskCompleted=pb.TaskCompletedEvent(taskScheduledId=8))
    out = dialect.events_out([e.SerializeToString() for e in (scheduled, failed, other)])
    failed_fields = wire.parse(dict((n, v) for n, _, v in wire.parse(out[1]))[8])
    assert (3, wire.LEN, b"tx-3") in failed_fields
    assert not any(n == 3 for n, _, _ in wire.parse(dict((n, v) for n, _, v in wire.parse(out[2]))[7]))


def test_a_client_call_routed_to_another_app_is_refused(dapr_backend):
    import grpc

    start = grpc.insecure_channel(dapr_backend.dapr_address).unary_unary("/TaskHubSidecarService/StartInstance")
    router = wire.encode([wire.string(1, "me"), wire.string(2, "billing")])
    with pytest.raises(grpc.RpcError) as err:
        start(wire.encode([wire.string(1, "routed"), wire.string(2, "wf"), (11, wire.LEN, router)]))
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "StartInstance is routed to app ID 'billing'" in err.value.details()
    own = wire.encode([wire.string(1, "me")])  # a router naming only the calling app is fine
    start(wire.encode([wire.string(1, "local"), wire.string(2, "wf"), (11, wire.LEN, own)]))
    client = TaskHubGrpcClient(host_address=dapr_backend.address)
    try:
        assert client.get_orchestration_state("routed") is None
        assert client.get_orchestration_state("local").runtime_status == OrchestrationStatus.PENDING
    finally:
        client.close()


def test_the_console_marks_instances_a_dapr_client_started(dapr_backend):
    import grpc
    from rich.console import Console

    from emulator.console import render
    from emulator.console.live import next_view

    start = grpc.insecure_channel(dapr_backend.dapr_address).unary_unary("/TaskHubSidecarService/StartInstance")
    start(wire.encode([wire.string(1, "from-dapr"), wire.string(2, "order")]))
    client = TaskHubGrpcClient(host_address=dapr_backend.address)
    try:
        client.schedule_new_orchestration("order", instance_id="from-microsoft")
    finally:
        client.close()
    console = Console(record=True, width=160, force_terminal=True)
    console.print(render(next_view(dapr_backend._server, None)))
    rows = {line.split()[1]: line for line in console.export_text().splitlines() if "from-" in line and "│" in line}
    assert "order Dapr" in rows["from-dapr"] and "Dapr" not in rows["from-microsoft"], rows


def test_emulator_process_serves_both_dialects_and_reports_a_failed_start(tmp_path):
    """EmulatorProcess (behind the durabletask_dapr_emulator fixture): a child emulator on free
    ports, reached over both dialects; a start that fails says so instead of hanging."""
    import grpc

    from emulator.process import EmulatorProcess

    with EmulatorProcess("--db", str(tmp_path / "child.db"), dapr=True) as child:
        assert child.dapr_address and child.dapr_address != child.address
        start = grpc.insecure_channel(child.dapr_address).unary_unary("/TaskHubSidecarService/StartInstance")
        start(wire.encode([wire.string(1, "via-dapr"), wire.string(2, "order")]))
        client = TaskHubGrpcClient(host_address=child.address)
        try:
            assert client.get_orchestration_state("via-dapr").runtime_status == OrchestrationStatus.PENDING
        finally:
            client.close()
    with pytest.raises(RuntimeError, match="exited 2 before serving"):
        EmulatorProcess("--max-history-size", "not-a-number").start()
