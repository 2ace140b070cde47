"""Work-item delivery: filters, sharing between workers, leases, redelivery and abandon."""

from __future__ import annotations

import queue
import threading
import time

import grpc
import pytest
from durabletask.client import OrchestrationStatus
from durabletask.internal import orchestrator_service_pb2 as pb
from durabletask.worker import (
    ActivityWorkItemFilter,
    OrchestrationWorkItemFilter,
    TaskHubGrpcWorker,
    WorkItemFilters,
)

from tests.helpers import RawWorker, complete_orchestration, raw_stub


def echo(ctx, x):
    return x


def alpha(ctx, x):
    return (yield ctx.call_activity(echo, input=f"alpha {x}"))


def beta(ctx, x):
    return f"beta {x}"


def _filtered_worker(backend, orchestrators=(), activities=()) -> TaskHubGrpcWorker:
    worker = TaskHubGrpcWorker(host_address=backend.address)
    for o in orchestrators:
        worker.add_orchestrator(o)
    for a in activities:
        worker.add_activity(a)
    worker.use_work_item_filters()  # generated from what is registered
    worker.start()
    return worker


def test_work_item_filters_route_work_to_matching_workers(backend, client):
    a = _filtered_worker(backend, orchestrators=[alpha], activities=[echo])
    b = _filtered_worker(backend, orchestrators=[beta])
    try:
        ids = [client.schedule_new_orchestration(alpha, input=i) for i in range(5)]
        ids += [client.schedule_new_orchestration(beta, input=i) for i in range(5)]
        for iid in ids:
            state = client.wait_for_orchestration_completion(iid, timeout=10)
            # without routing, one worker would be handed the other's orchestrator and fail it
            assert state.runtime_status == OrchestrationStatus.COMPLETED, state.failure_details
    finally:
        a.stop()
        b.stop()


def test_work_without_a_matching_worker_waits_for_one(backend, client):
    a = _filtered_worker(backend, orchestrators=[alpha], activities=[echo])
    b = None
    try:
        iid = client.schedule_new_orchestration(beta, input=1)
        with pytest.raises(TimeoutError):
            client.wait_for_orchestration_start(iid, timeout=1)
        assert client.get_orchestration_state(iid).runtime_status == OrchestrationStatus.PENDING
        b = _filtered_worker(backend, orchestrators=[beta])
        assert client.wait_for_orchestration_completion(iid, timeout=10).serialized_output == '"beta 1"'
    finally:
        a.stop()
        if b is not None:
            b.stop()


def _routed_worker(backend, tag: str, ran: list, lock: threading.Lock, filters: WorkItemFilters):
    """A worker that can run every routed_* function, but asks only for the work ``filters`` names."""

    def record(name: str) -> None:
        with lock:
            ran.append((name, tag))

    def routed_a(ctx, x):
        if not ctx.is_replaying:
            record("routed_a")
        return (yield ctx.call_activity("routed_act", input=x))

    def routed_b(ctx, x):
        if not ctx.is_replaying:
            record("routed_b")
        return (yield ctx.call_activity("routed_act", input=x))

    def routed_act(ctx, x):
        record("routed_act")
        return x

    worker = TaskHubGrpcWorker(host_address=backend.address)
    for fn in (routed_a, routed_b):
        worker.add_orchestrator(fn)
    worker.add_activity(routed_act)
    worker.use_work_item_filters(filters)
    worker.start()
    return worker


def test_explicit_filters_decide_which_worker_runs_what(backend, client):
    """Both workers could run everything; only their filters decide who gets which work item."""
    ran: list[tuple[str, str]] = []
    lock = threading.Lock()
    first = _routed_worker(
        backend, "first", ran, lock, WorkItemFilters(orchestrations=[OrchestrationWorkItemFilter(name="routed_a")])
    )
    second = _routed_worker(
        backend,
        "second",
        ran,
        lock,
        WorkItemFilters(
            orchestrations=[OrchestrationWorkItemFilter(name="routed_b")],
            activities=[ActivityWorkItemFilter(name="routed_act")],
        ),
    )
    try:
        ids = []
        for i in range(6):
            ids.append(client.schedule_new_orchestration("routed_a", input=i))
            ids.append(client.schedule_new_orchestration("routed_b", input=i))
        for iid in ids:
            state = client.wait_for_orchestration_completion(iid, timeout=10)
            assert state.runtime_status == OrchestrationStatus.COMPLETED, state.failure_details
        with lock:
            assert sorted(set(ran)) == [("routed_a", "first"), ("routed_act", "second"), ("routed_b", "second")]
            assert sum(1 for name, _ in ran if name == "routed_act") == 12
    finally:
        first.stop()
        second.stop()


def test_raw_streams_receive_only_what_their_filter_names(backend, client):
    only_a = RawWorker(
        backend,
        pb.GetWorkItemsRequest(
            workItemFilters=pb.WorkItemFilters(orchestrations=[pb.OrchestrationFilter(name="raw_a")])
        ),
    )
    only_b = RawWorker(
        backend,
        pb.GetWorkItemsRequest(
            workItemFilters=pb.WorkItemFilters(
                orchestrations=[pb.OrchestrationFilter(name="raw_b")],
                activities=[pb.ActivityFilter(name="act_b")],
            )
        ),
    )
    try:
        a_ids = {client.schedule_new_orchestration("raw_a", instance_id=f"a-{i}") for i in range(5)}
        b_ids = {client.schedule_new_orchestration("raw_b", instance_id=f"b-{i}") for i in range(5)}
        got_a = [only_a.next() for _ in range(5)]
        got_b = [only_b.next() for _ in range(5)]
        assert {i.orchestratorRequest.instanceId for i in got_a} == a_ids
        assert {i.orchestratorRequest.instanceId for i in got_b} == b_ids
        # an activity named only in b's filter is scheduled by an "a" orchestration: it goes to b
        first = got_a[0]
        only_a.stub.CompleteOrchestratorTask(
            pb.OrchestratorResponse(
                instanceId=first.orchestratorRequest.instanceId,
                actions=[pb.OrchestratorAction(id=1, scheduleTask=pb.ScheduleTaskAction(name="act_b"))],
                completionToken=first.completionToken,
            )
        )
        activity = only_b.next()
        assert activity.activityRequest.name == "act_b"
        assert activity.activityRequest.orchestrationInstance.instanceId == first.orchestratorRequest.instanceId
        with pytest.raises(queue.Empty):
            only_a.next(timeout=0.3)  # nothing for a: its 5 items are leased, the activity is b's
        for worker, items in ((only_a, got_a[1:]), (only_b, got_b)):
            for item in items:
                complete_orchestration(worker.stub, item, '"ok"')
        for iid in (a_ids | b_ids) - {first.orchestratorRequest.instanceId}:
            assert client.wait_for_orchestration_completion(iid, timeout=10).serialized_output == '"ok"'
    finally:
        only_a.close()
        only_b.close()


def _tagged_activity(tag: str, seen: dict, lock: threading.Lock):
    def work(ctx, x):
        with lock:
            seen[tag] = seen.get(tag, 0) + 1
        return x

    return work


def uses_work(ctx, x):
    return (yield ctx.call_activity("work", input=x))


def test_several_workers_share_the_work(client, make_worker):
    seen: dict[str, int] = {}
    lock = threading.Lock()
    make_worker(orchestrators=[uses_work], activities=[_tagged_activity("first", seen, lock)])
    make_worker(orchestrators=[uses_work], activities=[_tagged_activity("second", seen, lock)])
    ids = [client.schedule_new_orchestration(uses_work, input=i) for i in range(40)]
    for iid in ids:
        assert client.wait_for_orchestration_completion(iid, timeout=20).runtime_status == (
            OrchestrationStatus.COMPLETED
        )
    assert seen.get("first", 0) > 0 and seen.get("second", 0) > 0
    assert seen["first"] + seen["second"] == 40  # every activity ran exactly once


def test_no_work_item_goes_to_two_live_workers(backend, client):
    first, second = RawWorker(backend), RawWorker(backend)
    try:
        ids = {client.schedule_new_orchestration("raw", instance_id=f"raw-{i}") for i in range(20)}
        received: list[tuple[RawWorker, pb.WorkItem]] = []
        deadline = time.monotonic() + 10
        while len(received) < 20:
            assert time.monotonic() < deadline, f"only {len(received)} of 20 work items arrived"
            for worker in (first, second):
                try:
                    received.append((worker, worker.next(timeout=0.05)))
                except queue.Empty:
                    pass
        for worker in (first, second):
            with pytest.raises(queue.Empty):
                worker.next(timeout=0.3)  # nothing is handed out twice while it is leased
        instances = [item.orchestratorRequest.instanceId for _, item in received]
        assert sorted(instances) == sorted(ids)  # each instance exactly once, across both streams
        assert len({item.completionToken for _, item in received}) == 20
        assert {w for w, _ in received} == {first, second}  # both got a share
        for worker, item in received:
            complete_orchestration(worker.stub, item, '"done"')
        for iid in ids:
            assert client.wait_for_orchestration_completion(iid, timeout=10).serialized_output == '"done"'
    finally:
        first.close()
        second.close()


def test_worker_disconnecting_mid_orchestrator_item_loses_nothing(backend, client, make_worker):
    raw = RawWorker(backend)
    iid = client.schedule_new_orchestration(beta, input="again")
    item = raw.next()
    assert item.orchestratorRequest.instanceId == iid
    raw.close()  # gone without completing
    make_worker(orchestrators=[beta])
    state = client.wait_for_orchestration_completion(iid, timeout=10)
    assert state.serialized_output == '"beta again"'
    with pytest.raises(grpc.RpcError) as err:  # the first lease is over
        complete_orchestration(raw_stub(backend), item, '"late"')
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "redelivered" in err.value.details()


_executions: list[str] = []


def counted(ctx, x):
    _executions.append(x)
    return x


def calls_counted(ctx, x):
    return (yield ctx.call_activity(counted, input=x))


def test_worker_disconnecting_mid_activity_loses_nothing(backend, client):
    _executions.clear()
    orchestrations = _filtered_worker(backend, orchestrators=[calls_counted])
    activity_only = pb.GetWorkItemsRequest(
        workItemFilters=pb.WorkItemFilters(activities=[pb.ActivityFilter(name="counted")])
    )
    raw = RawWorker(backend, activity_only)
    activities = None
    try:
        iid = client.schedule_new_orchestration(calls_counted, input="once")
        item = raw.next()
        assert item.activityRequest.name == "counted"
        raw.close()
        activities = _filtered_worker(backend, activities=[counted])
        assert client.wait_for_orchestration_completion(iid, timeout=10).serialized_output == '"once"'
        assert _executions == ["once"]
    finally:
        orchestrations.stop()
        if activities is not None:
            activities.stop()


def test_abandoned_orchestrator_item_is_delivered_again(backend, client):
    raw = RawWorker(backend)
    try:
        iid = client.schedule_new_orchestration("abandon-me")
        first = raw.next()
        raw.stub.AbandonTaskOrchestratorWorkItem(
            pb.AbandonOrchestrationTaskRequest(completionToken=first.completionToken)
        )
        again = raw.next()
        assert again.orchestratorRequest.instanceId == iid
        assert again.completionToken != first.completionToken
        assert [e.WhichOneof("eventType") for e in again.orchestratorRequest.newEvents] == [
            "orchestratorStarted",
            "executionStarted",
        ]
        complete_orchestration(raw.stub, again, '"second time"')
        assert client.wait_for_orchestration_completion(iid, timeout=10).serialized_output == '"second time"'
    finally:
        raw.close()


def test_abandoned_activity_item_is_delivered_again(backend, client):
    orchestrations = _filtered_worker(backend, orchestrators=[calls_counted])
    raw = RawWorker(
        backend,
        pb.GetWorkItemsRequest(workItemFilters=pb.WorkItemFilters(activities=[pb.ActivityFilter(name="counted")])),
    )
    try:
        iid = client.schedule_new_orchestration(calls_counted, input="x")
        first = raw.next()
        raw.stub.AbandonTaskActivityWorkItem(pb.AbandonActivityTaskRequest(completionToken=first.completionToken))
        again = raw.next()
        assert again.activityRequest.taskId == first.activityRequest.taskId
        raw.stub.CompleteActivityTask(
            pb.ActivityResponse(
                instanceId=iid,
                taskId=again.activityRequest.taskId,
                completionToken=again.completionToken,
                result=again.activityRequest.input,
            )
        )
        assert client.wait_for_orchestration_completion(iid, timeout=10).serialized_output == '"x"'
    finally:
        raw.close()
        orchestrations.stop()


def test_every_orchestrator_item_carries_the_full_past_history(backend, client):
    raw = RawWorker(backend)
    try:
        iid = client.schedule_new_orchestration("history")
        first = raw.next()
        timer = pb.OrchestratorAction(
            id=1, createTimer=pb.CreateTimerAction(fireAt=first.orchestratorRequest.newEvents[0].timestamp)
        )
        raw.stub.CompleteOrchestratorTask(
            pb.OrchestratorResponse(instanceId=iid, actions=[timer], completionToken=first.completionToken)
        )
        second = raw.next()
        past = [e.WhichOneof("eventType") for e in second.orchestratorRequest.pastEvents]
        assert past == ["orchestratorStarted", "executionStarted", "timerCreated"]
        assert [e.WhichOneof("eventType") for e in second.orchestratorRequest.newEvents] == [
            "orchestratorStarted",
            "timerFired",
        ]
        complete_orchestration(raw.stub, second, "1")
    finally:
        raw.close()


def test_completions_without_token_are_matched_by_instance_and_task(backend, client):
    """Older SDKs (Java 1.5) send no completionToken; the work item is found by instance (and task) ID."""
    raw = RawWorker(backend)
    try:
        iid = client.schedule_new_orchestration("tokenless")
        assert raw.next().orchestratorRequest.instanceId == iid
        schedule = pb.OrchestratorAction(id=1, scheduleTask=pb.ScheduleTaskAction(name="act"))
        raw.stub.CompleteOrchestratorTask(pb.OrchestratorResponse(instanceId=iid, actions=[schedule]))
        activity = raw.next()
        with pytest.raises(grpc.RpcError) as err:  # no such task: precise NOT_FOUND
            raw.stub.CompleteActivityTask(pb.ActivityResponse(instanceId=iid, taskId=99))
        assert err.value.code() == grpc.StatusCode.NOT_FOUND and "task 99" in err.value.details()
        raw.stub.CompleteActivityTask(pb.ActivityResponse(instanceId=iid, taskId=activity.activityRequest.taskId))
        second = raw.next()
        assert second.orchestratorRequest.newEvents[-1].HasField("taskCompleted")
        complete_orchestration(raw.stub, second, '"no tokens needed"')
        assert client.wait_for_orchestration_completion(iid, timeout=10).serialized_output == '"no tokens needed"'
        with pytest.raises(grpc.RpcError) as err:
            raw.stub.CompleteOrchestratorTask(pb.OrchestratorResponse(instanceId=iid))
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        raw.close()


def test_tokenless_activity_result_goes_to_the_current_execution(backend, client):
    """A replaced execution's unfinished activity lease must not swallow the new execution's result."""
    raw = RawWorker(backend)
    schedule = pb.OrchestratorAction(id=1, scheduleTask=pb.ScheduleTaskAction(name="act"))
    try:
        for round_number in range(2):
            if round_number:
                policy = pb.OrchestrationIdReusePolicy(replaceableStatus=[pb.ORCHESTRATION_STATUS_RUNNING])
                client.schedule_new_orchestration("replaced", instance_id="replaced", reuse_id_policy=policy)
            else:
                client.schedule_new_orchestration("replaced", instance_id="replaced")
            item = raw.next()
            raw.stub.CompleteOrchestratorTask(
                pb.OrchestratorResponse(instanceId="replaced", actions=[schedule], completionToken=item.completionToken)
            )
            assert raw.next().HasField("activityRequest")
        raw.stub.CompleteActivityTask(pb.ActivityResponse(instanceId="replaced", taskId=1))
        assert raw.next().orchestratorRequest.newEvents[-1].HasField("taskCompleted")
    finally:
        raw.close()
