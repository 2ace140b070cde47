"""Bad input gets a precise status and message; the server keeps serving and nothing else is disturbed."""

from __future__ import annotations

import queue
import threading

import grpc
import pytest
from durabletask.client import OrchestrationStatus, TaskHubGrpcClient
from durabletask.internal import orchestrator_service_pb2 as pb
from google.protobuf import wrappers_pb2

from emulator import InMemoryOrchestrationBackend
from tests.helpers import RawWorker, complete_orchestration, raw_stub


def echo(ctx, x):
    return x


def quick(ctx, x):
    return (yield ctx.call_activity(echo, input=x))


def waits(ctx, _):
    return (yield ctx.wait_for_external_event("go"))


def _still_serving(client, make_worker_or_none=None):
    """After bad input, a normal orchestration still completes."""
    if make_worker_or_none is not None:
        make_worker_or_none(orchestrators=[quick], activities=[echo])
    iid = client.schedule_new_orchestration(quick, input="fine")
    assert client.wait_for_orchestration_completion(iid, timeout=10).serialized_output == '"fine"'


def _still_serving_raw(backend, client):
    """After bad input, a normal orchestration still runs to completion (answered by a raw worker)."""
    raw = RawWorker(backend)
    try:
        iid = client.schedule_new_orchestration("after-bad-input")
        item = raw.next()
        while item.orchestratorRequest.instanceId != iid:  # other pending instances of the test may come first
            item = raw.next()
        complete_orchestration(raw.stub, item, '"still serving"')
        assert client.wait_for_orchestration_completion(iid, timeout=10).serialized_output == '"still serving"'
    finally:
        raw.close()


def _status(call, request):
    with pytest.raises(grpc.RpcError) as err:
        result = call(request)
        if hasattr(result, "__iter__") and not isinstance(result, (bytes, str)):
            list(result)
    return err.value.code(), err.value.details()


EMPTY_ID_REQUESTS = [
    ("GetInstance", pb.GetInstanceRequest(instanceId="")),
    ("RaiseEvent", pb.RaiseEventRequest(instanceId="", name="e")),
    ("TerminateInstance", pb.TerminateRequest(instanceId="")),
    ("SuspendInstance", pb.SuspendRequest(instanceId="")),
    ("ResumeInstance", pb.ResumeRequest(instanceId="")),
    ("RewindInstance", pb.RewindInstanceRequest(instanceId="")),
    ("RestartInstance", pb.RestartInstanceRequest(instanceId="")),
    ("WaitForInstanceCompletion", pb.GetInstanceRequest(instanceId="")),
    ("PurgeInstances", pb.PurgeInstancesRequest(instanceId="")),
    ("StreamInstanceHistory", pb.StreamInstanceHistoryRequest(instanceId="")),
]


@pytest.mark.parametrize(("rpc", "request_message"), EMPTY_ID_REQUESTS, ids=[r for r, _ in EMPTY_ID_REQUESTS])
def test_empty_instance_id_is_invalid_argument(backend, client, rpc, request_message):
    code, details = _status(getattr(raw_stub(backend), rpc), request_message)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "instanceId" in details and "empty" in details
    _still_serving_raw(backend, client)


UNKNOWN_ID_REQUESTS = [
    ("RaiseEvent", pb.RaiseEventRequest(instanceId="ghost", name="e")),
    ("TerminateInstance", pb.TerminateRequest(instanceId="ghost")),
    ("SuspendInstance", pb.SuspendRequest(instanceId="ghost")),
    ("ResumeInstance", pb.ResumeRequest(instanceId="ghost")),
    ("RewindInstance", pb.RewindInstanceRequest(instanceId="ghost")),
    ("RestartInstance", pb.RestartInstanceRequest(instanceId="ghost")),
    ("StreamInstanceHistory", pb.StreamInstanceHistoryRequest(instanceId="ghost")),
]


@pytest.mark.parametrize(("rpc", "request_message"), UNKNOWN_ID_REQUESTS, ids=[r for r, _ in UNKNOWN_ID_REQUESTS])
def test_unknown_instance_id_is_not_found(backend, client, rpc, request_message):
    code, details = _status(getattr(raw_stub(backend), rpc), request_message)
    assert code == grpc.StatusCode.NOT_FOUND
    assert "'ghost'" in details
    _still_serving_raw(backend, client)


def test_start_without_name_or_event_without_name_is_invalid(backend, client):
    stub = raw_stub(backend)
    code, details = _status(stub.StartInstance, pb.CreateInstanceRequest(instanceId="x"))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "name" in details
    client.schedule_new_orchestration("anything", instance_id="named")
    code, details = _status(stub.RaiseEvent, pb.RaiseEventRequest(instanceId="named", name=""))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "event name" in details
    code, details = _status(stub.PurgeInstances, pb.PurgeInstancesRequest())
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    _still_serving_raw(backend, client)


TOKEN_RPCS = [
    ("CompleteOrchestratorTask", lambda t: pb.OrchestratorResponse(completionToken=t)),
    ("CompleteActivityTask", lambda t: pb.ActivityResponse(completionToken=t)),
    ("CompleteEntityTask", lambda t: pb.EntityBatchResult(completionToken=t)),
    ("AbandonTaskOrchestratorWorkItem", lambda t: pb.AbandonOrchestrationTaskRequest(completionToken=t)),
    ("AbandonTaskActivityWorkItem", lambda t: pb.AbandonActivityTaskRequest(completionToken=t)),
    ("AbandonTaskEntityWorkItem", lambda t: pb.AbandonEntityTaskRequest(completionToken=t)),
]


@pytest.mark.parametrize(("rpc", "build"), TOKEN_RPCS, ids=[r for r, _ in TOKEN_RPCS])
def test_unknown_or_empty_completion_token(backend, client, make_worker, rpc, build):
    stub = raw_stub(backend)
    prefix = {"Orchestr": "o", "Activity": "a", "Entity": "e"}
    kind = next(v for k, v in prefix.items() if k in rpc)
    code, details = _status(getattr(stub, rpc), build(f"{kind}999999"))
    assert code == grpc.StatusCode.NOT_FOUND
    assert f"{kind}999999" in details
    code, details = _status(getattr(stub, rpc), build("not-a-token-we-issued"))
    assert code == grpc.StatusCode.NOT_FOUND
    code, details = _status(getattr(stub, rpc), build(""))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "completionToken" in details
    _still_serving(client, make_worker)


def test_duplicate_completion_and_wrong_kind_of_token(backend, client):
    raw = RawWorker(backend)
    try:
        iid = client.schedule_new_orchestration("dup-complete")
        item = raw.next()
        code, details = _status(
            raw.stub.CompleteActivityTask,
            pb.ActivityResponse(instanceId=iid, taskId=1, completionToken=item.completionToken),
        )
        assert code == grpc.StatusCode.INVALID_ARGUMENT and "orchestrator work item" in details
        complete_orchestration(raw.stub, item, '"once"')
        with pytest.raises(grpc.RpcError) as err:
            complete_orchestration(raw.stub, item, '"twice"')
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "already completed" in err.value.details()
        assert client.get_orchestration_state(iid).serialized_output == '"once"'
    finally:
        raw.close()


def _orchestration_waiting_on_an_activity(raw, client):
    """Drive one instance by hand until its activity work item is leased; return (iid, activity item)."""
    iid = client.schedule_new_orchestration("token-kinds")
    item = raw.next()
    _respond(raw, item, [pb.OrchestratorAction(id=1, scheduleTask=pb.ScheduleTaskAction(name="act"))])
    activity = raw.next()
    assert activity.HasField("activityRequest")
    return iid, activity


WRONG_KIND_RPCS = [
    ("CompleteOrchestratorTask", lambda iid, t: pb.OrchestratorResponse(instanceId=iid, completionToken=t)),
    ("AbandonTaskOrchestratorWorkItem", lambda iid, t: pb.AbandonOrchestrationTaskRequest(completionToken=t)),
    ("CompleteEntityTask", lambda iid, t: pb.EntityBatchResult(completionToken=t)),
    ("AbandonTaskEntityWorkItem", lambda iid, t: pb.AbandonEntityTaskRequest(completionToken=t)),
]


@pytest.mark.parametrize(("rpc", "build"), WRONG_KIND_RPCS, ids=[r for r, _ in WRONG_KIND_RPCS])
def test_activity_token_given_to_another_kind_of_rpc_is_invalid(backend, client, rpc, build):
    raw = RawWorker(backend)
    try:
        iid, activity = _orchestration_waiting_on_an_activity(raw, client)
        code, details = _status(getattr(raw.stub, rpc), build(iid, activity.completionToken))
        assert code == grpc.StatusCode.INVALID_ARGUMENT
        assert activity.completionToken in details and "activity work item" in details
        # the misuse did not consume the lease: the right RPC with the same token still works
        raw.stub.CompleteActivityTask(
            pb.ActivityResponse(
                instanceId=iid,
                taskId=activity.activityRequest.taskId,
                completionToken=activity.completionToken,
                result=wrappers_pb2.StringValue(value='"from act"'),
            )
        )
        again = raw.next()
        assert again.orchestratorRequest.newEvents[-1].taskCompleted.result.value == '"from act"'
        complete_orchestration(raw.stub, again, '"done"')
        assert client.wait_for_orchestration_completion(iid, timeout=10).serialized_output == '"done"'
    finally:
        raw.close()
    _still_serving_raw(backend, client)


def test_duplicate_activity_completion_or_late_abandon_is_failed_precondition(backend, client):
    raw = RawWorker(backend)
    try:
        iid, activity = _orchestration_waiting_on_an_activity(raw, client)
        response = pb.ActivityResponse(
            instanceId=iid,
            taskId=activity.activityRequest.taskId,
            completionToken=activity.completionToken,
            result=wrappers_pb2.StringValue(value='"first"'),
        )
        raw.stub.CompleteActivityTask(response)
        code, details = _status(raw.stub.CompleteActivityTask, response)
        assert code == grpc.StatusCode.FAILED_PRECONDITION and "already completed" in details
        code, details = _status(
            raw.stub.AbandonTaskActivityWorkItem,
            pb.AbandonActivityTaskRequest(completionToken=activity.completionToken),
        )
        assert code == grpc.StatusCode.FAILED_PRECONDITION and "already completed" in details
        again = raw.next()
        completions = [e for e in again.orchestratorRequest.newEvents if e.HasField("taskCompleted")]
        assert [e.taskCompleted.result.value for e in completions] == ['"first"']  # the result arrived once
        complete_orchestration(raw.stub, again, '"done"')
        assert client.wait_for_orchestration_completion(iid, timeout=10).serialized_output == '"done"'
        with pytest.raises(queue.Empty):
            raw.next(timeout=0.3)  # no second task-completed turn for the duplicate
    finally:
        raw.close()
    _still_serving_raw(backend, client)


def _work_items_of(raw, count: int) -> dict:
    """The next ``count`` orchestrator work items the raw worker gets, by instance ID."""
    items = {}
    while len(items) < count:
        item = raw.next()
        items[item.orchestratorRequest.instanceId] = item
    return items


def _respond(raw, item, actions):
    raw.stub.CompleteOrchestratorTask(
        pb.OrchestratorResponse(
            instanceId=item.orchestratorRequest.instanceId, actions=actions, completionToken=item.completionToken
        )
    )


@pytest.mark.parametrize(
    ("action", "words"),
    [
        (pb.OrchestratorAction(id=3), "no action type"),
        (pb.OrchestratorAction(id=4, scheduleTask=pb.ScheduleTaskAction(name="")), "empty activity name"),
        (pb.OrchestratorAction(id=5, createTimer=pb.CreateTimerAction()), "no fireAt"),
        (
            pb.OrchestratorAction(
                id=6,
                sendEntityMessage=pb.SendEntityMessageAction(
                    entityOperationSignaled=pb.EntityOperationSignaledEvent(
                        requestId="r", operation="op", targetInstanceId=wrappers_pb2.StringValue(value="not-an-entity")
                    )
                ),
            ),
            "not an entity instance ID",
        ),
        # what a Dapr worker's empty ``router`` (its field 9) reads as in this dialect
        (pb.OrchestratorAction(id=7, rewindOrchestration=pb.RewindOrchestrationAction()), "no history to rewind"),
        (
            pb.OrchestratorAction(
                id=8,
                rewindOrchestration=pb.RewindOrchestrationAction(
                    newHistory=[pb.HistoryEvent(eventId=-1, executionStarted=pb.ExecutionStartedEvent(name="x"))]
                ),
            ),
            "not being rewound",
        ),
    ],
    ids=["no-type", "no-activity-name", "timer-without-time", "bad-entity-id", "empty-rewind", "unasked-rewind"],
)
def test_malformed_action_fails_only_that_instance(backend, client, action, words):
    raw = RawWorker(backend)
    try:
        bad = client.schedule_new_orchestration("bad-actions", instance_id="bad")
        good = client.schedule_new_orchestration("good-actions", instance_id="good")
        items = _work_items_of(raw, 2)
        with pytest.raises(grpc.RpcError) as err:
            _respond(raw, items[bad], [action])
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert words in err.value.details()
        state = client.get_orchestration_state(bad)
        assert state.runtime_status == OrchestrationStatus.FAILED
        assert state.failure_details.error_type == "EmulatorProtocolError"
        assert words in state.failure_details.message
        complete_orchestration(raw.stub, items[good], '"unaffected"')
        assert client.wait_for_orchestration_completion(good, timeout=10).serialized_output == '"unaffected"'
    finally:
        raw.close()


def test_an_answer_that_does_not_parse_fails_only_its_instance_and_names_the_dapr_port(backend, client):
    """A Dapr worker on the Microsoft port sends a GUID where a TraceContext belongs: the bytes do
    not parse. The instance fails at once with the reason, not after a lease timeout."""
    from emulator import wire

    raw = RawWorker(backend)
    try:
        bad = client.schedule_new_orchestration("unreadable", instance_id="unreadable")
        good = client.schedule_new_orchestration("readable", instance_id="readable")
        items = _work_items_of(raw, 2)
        task = wire.encode([wire.string(1, "hello"), (5, wire.LEN, b"\x0a\xff")])  # a truncated TraceContext
        action = wire.encode([(1, wire.VARINT, 1), (2, wire.LEN, task)])
        answer = wire.encode([wire.string(1, bad), (2, wire.LEN, action), wire.string(4, items[bad].completionToken)])
        complete = raw.channel.unary_unary("/TaskHubSidecarService/CompleteOrchestratorTask")
        with pytest.raises(grpc.RpcError) as err:
            complete(answer)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "not a valid OrchestratorResponse" in err.value.details() and "--dapr-port" in err.value.details()
        state = client.get_orchestration_state(bad)
        assert state.runtime_status == OrchestrationStatus.FAILED
        assert state.failure_details.error_type == "EmulatorProtocolError"
        assert "--dapr-port" in state.failure_details.message
        with pytest.raises(grpc.RpcError) as err:  # nothing names a work item: refused, nothing else changes
            complete(b"\x0a\xff")
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        complete_orchestration(raw.stub, items[good], '"unaffected"')
        assert client.wait_for_orchestration_completion(good, timeout=10).serialized_output == '"unaffected"'
    finally:
        raw.close()


def test_oversized_payload_is_resource_exhausted(client, make_worker):
    with pytest.raises(grpc.RpcError) as err:
        client.schedule_new_orchestration(quick, input="x" * (5 * 1024 * 1024))
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    _still_serving(client, make_worker)


def long_chain(ctx, n):
    for i in range(n):
        yield ctx.call_activity(echo, input=i)
    return n


def test_history_limit_fails_the_instance_with_details(make_worker):
    with InMemoryOrchestrationBackend(port=0, max_history_size=50) as small:
        client = TaskHubGrpcClient(host_address=small.address)
        make_worker(orchestrators=[long_chain, quick], activities=[echo], address=small.address)
        iid = client.schedule_new_orchestration(long_chain, input=100)
        state = client.wait_for_orchestration_completion(iid, timeout=20)
        assert state.runtime_status == OrchestrationStatus.FAILED
        assert "max_history_size=50" in state.failure_details.message
        assert len(client.get_orchestration_history(iid)) <= 50 + 5
        short = client.schedule_new_orchestration(long_chain, input=3)
        assert client.wait_for_orchestration_completion(short, timeout=10).runtime_status == (
            OrchestrationStatus.COMPLETED
        )
        client.close()


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_500_concurrent_waiters_all_get_answers(backend, client, make_worker):
    make_worker(orchestrators=[waits, quick], activities=[echo])
    ids = [client.schedule_new_orchestration(waits, instance_id=f"w-{i}") for i in range(500)]
    results: dict[str, str] = {}
    errors: list[BaseException] = []
    lock = threading.Lock()

    def wait_one(iid: str):
        try:
            c = TaskHubGrpcClient(host_address=backend.address)
            state = c.wait_for_orchestration_completion(iid, timeout=90)
            with lock:
                results[iid] = state.serialized_output
            c.close()
        except BaseException as e:  # reported below
            with lock:
                errors.append(e)

    threads = [threading.Thread(target=wait_one, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    from tests.helpers import wait_until

    wait_until(lambda: backend.engine.waiter_count() >= 500, timeout=60, what="500 waiters blocked")
    _still_serving(client)  # workers keep working while 500 clients wait
    for iid in ids:
        client.raise_orchestration_event(iid, "go", data=iid)
    for t in threads:
        t.join(timeout=90)
    assert not errors, errors[:3]
    assert len(results) == 500
    assert all(results[i] == f'"{i}"' for i in ids)
