"""GetInstance, QueryInstances, ListInstanceIds, waits with deadlines, StreamInstanceHistory, Hello."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import grpc
import pytest
from durabletask.client import OrchestrationQuery, OrchestrationStatus
from durabletask.internal import orchestrator_service_pb2 as pb
from google.protobuf import empty_pb2, wrappers_pb2

from tests.helpers import raw_stub, wait_until


def echo(ctx, x):
    return x


def quick(ctx, x):
    return (yield ctx.call_activity(echo, input=x))


def waits(ctx, _):
    return (yield ctx.wait_for_external_event("go"))


def long_chain(ctx, n):
    for i in range(n):
        yield ctx.call_activity(echo, input=i)
    return n


def test_get_instance_with_and_without_payloads(client, make_worker):
    make_worker(orchestrators=[quick], activities=[echo])
    iid = client.schedule_new_orchestration(quick, input={"a": 1})
    client.wait_for_orchestration_completion(iid, timeout=10)
    full = client.get_orchestration_state(iid, fetch_payloads=True)
    assert full.serialized_input == '{"a": 1}' and full.serialized_output == '{"a": 1}'
    bare = client.get_orchestration_state(iid, fetch_payloads=False)
    assert bare.runtime_status == OrchestrationStatus.COMPLETED
    assert not bare.serialized_input and not bare.serialized_output
    assert client.get_orchestration_state("missing") is None


def _finished(client, make_worker, n=6):
    make_worker(orchestrators=[quick, waits], activities=[echo])
    ids = [client.schedule_new_orchestration(quick, input=i, instance_id=f"q-{i:02d}") for i in range(n)]
    for i in ids:
        client.wait_for_orchestration_completion(i, timeout=10)
    return ids


def test_query_by_status_time_and_prefix(client, make_worker):
    done = _finished(client, make_worker, 4)
    between = datetime.now(timezone.utc)
    running = client.schedule_new_orchestration(waits, instance_id="other-running")
    client.wait_for_orchestration_start(running, timeout=10)

    by_status = client.get_all_orchestration_states(OrchestrationQuery(runtime_status=[OrchestrationStatus.RUNNING]))
    assert [s.instance_id for s in by_status] == ["other-running"]
    by_prefix = client.get_all_orchestration_states(OrchestrationQuery(instance_id_prefix="q-"))
    assert sorted(s.instance_id for s in by_prefix) == sorted(done)
    by_time = client.get_all_orchestration_states(OrchestrationQuery(created_time_from=between))
    assert [s.instance_id for s in by_time] == ["other-running"]
    before = client.get_all_orchestration_states(
        OrchestrationQuery(created_time_to=between, fetch_inputs_and_outputs=True)
    )
    assert sorted(s.instance_id for s in before) == sorted(done)
    assert all(s.serialized_input is not None for s in before)


def test_query_pages_with_continuation_tokens(backend, client, make_worker):
    ids = _finished(client, make_worker, 7)
    stub = raw_stub(backend)
    seen, token, pages = [], None, 0
    while True:
        query = pb.InstanceQuery(maxInstanceCount=3, continuationToken=token)
        reply = stub.QueryInstances(pb.QueryInstancesRequest(query=query))
        pages += 1
        seen += [s.instanceId for s in reply.orchestrationState]
        if not reply.HasField("continuationToken"):
            break
        token = reply.continuationToken
    assert pages == 3
    assert seen == sorted(ids)  # every instance once, in ID order


def test_list_instance_ids_filters_and_pages(client, make_worker):
    ids = _finished(client, make_worker, 5)
    running = client.schedule_new_orchestration(waits, instance_id="zz-running")
    client.wait_for_orchestration_start(running, timeout=10)
    page = client.list_instance_ids(page_size=2)
    collected = list(page.items)
    while page.continuation_token:
        page = client.list_instance_ids(page_size=2, continuation_token=page.continuation_token)
        collected += page.items
    assert collected == sorted(ids)  # only finished instances, in ID order
    completed = client.list_instance_ids(runtime_status=[OrchestrationStatus.COMPLETED])
    assert sorted(completed.items) == sorted(ids) and completed.continuation_token is None
    future = datetime.now(timezone.utc) + timedelta(hours=1)
    assert client.list_instance_ids(completed_time_from=future).items == []
    past = datetime.now(timezone.utc) - timedelta(hours=1)
    assert sorted(client.list_instance_ids(completed_time_from=past).items) == sorted(ids)


def test_wait_for_completion_honours_client_timeout(client, make_worker):
    make_worker(orchestrators=[waits])
    iid = client.schedule_new_orchestration(waits)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        client.wait_for_orchestration_completion(iid, timeout=0.5)
    assert time.monotonic() - started < 3
    # the server dropped that waiter: a new wait works
    client.raise_orchestration_event(iid, "go", data=1)
    assert client.wait_for_orchestration_completion(iid, timeout=10).serialized_output == "1"


def test_wait_for_start_honours_client_timeout(client):
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    iid = client.schedule_new_orchestration("not-yet", start_at=later)
    with pytest.raises(TimeoutError):
        client.wait_for_orchestration_start(iid, timeout=0.5)


def test_waits_for_unknown_instance_answer_not_found_promptly(backend, client):
    # exists=false, as GetInstance answers: the Go client turns it into ErrInstanceNotFound
    # (and retries any error until its deadline), JS resolves undefined, Python returns None.
    stub = raw_stub(backend)
    for call in (stub.WaitForInstanceStart, stub.WaitForInstanceCompletion):
        started = time.monotonic()
        reply = call(pb.GetInstanceRequest(instanceId="nobody"))  # no deadline at all, like the JS SDK
        assert not reply.exists and not reply.HasField("orchestrationState")
        assert time.monotonic() - started < 2
    assert client.wait_for_orchestration_start("nobody", timeout=5) is None
    assert client.wait_for_orchestration_completion("nobody", timeout=5) is None


def test_wait_ends_not_found_when_the_instance_goes_away(backend, client):
    iid = client.schedule_new_orchestration("no-worker-runs-this")
    future = raw_stub(backend).WaitForInstanceCompletion.future(pb.GetInstanceRequest(instanceId=iid))
    wait_until(lambda: backend.engine.waiter_count() == 1, what="the wait to be registered")
    backend.reset()
    reply = future.result(timeout=10)
    assert not reply.exists


def test_wait_without_deadline_returns_when_it_happens(backend, client, make_worker):
    make_worker(orchestrators=[waits])
    iid = client.schedule_new_orchestration(waits)
    stub = raw_stub(backend)
    future = stub.WaitForInstanceCompletion.future(pb.GetInstanceRequest(instanceId=iid, getInputsAndOutputs=True))
    client.wait_for_orchestration_start(iid, timeout=10)
    assert not future.done()
    client.raise_orchestration_event(iid, "go", data="now")
    reply = future.result(timeout=10)
    assert reply.orchestrationState.output.value == '"now"'


def test_history_in_order_and_in_chunks(backend, client, make_worker):
    make_worker(orchestrators=[long_chain], activities=[echo])
    iid = client.schedule_new_orchestration(long_chain, input=60)
    client.wait_for_orchestration_completion(iid, timeout=30)
    history = client.get_orchestration_history(iid)
    kinds = [type(e).__name__ for e in history]
    assert kinds[:2] == ["OrchestratorStartedEvent", "ExecutionStartedEvent"]
    assert kinds[-1] == "ExecutionCompletedEvent"
    assert kinds.count("TaskScheduledEvent") == 60 and kinds.count("TaskCompletedEvent") == 60
    chunks = list(raw_stub(backend).StreamInstanceHistory(pb.StreamInstanceHistoryRequest(instanceId=iid)))
    assert len(chunks) > 1
    assert all(len(c.events) <= 100 for c in chunks)
    assert sum(len(c.events) for c in chunks) == len(history)


def test_stream_history_of_unknown_instance_is_not_found(backend):
    with pytest.raises(grpc.RpcError) as err:
        list(raw_stub(backend).StreamInstanceHistory(pb.StreamInstanceHistoryRequest(instanceId="ghost")))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_hello(backend):
    assert raw_stub(backend).Hello(empty_pb2.Empty()) == empty_pb2.Empty()


def test_query_with_prefix_wrapper_and_no_matches(backend):
    query = pb.InstanceQuery(instanceIdPrefix=wrappers_pb2.StringValue(value="nothing-"))
    reply = raw_stub(backend).QueryInstances(pb.QueryInstancesRequest(query=query))
    assert list(reply.orchestrationState) == [] and not reply.HasField("continuationToken")
