"""Suspend/resume, terminate, restart, purge, rewind and instance-ID reuse, through the real SDK."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone

import grpc
import pytest
from durabletask.client import OrchestrationStatus
from durabletask.internal import orchestrator_service_pb2 as pb
from google.protobuf import wrappers_pb2

from tests.helpers import raw_stub, wait_until


def waits(ctx, _):
    return (yield ctx.wait_for_external_event("go"))


def parent_of_waiter(ctx, _):
    return (yield ctx.call_sub_orchestrator(waits, instance_id=f"{ctx.instance_id}-child"))


def echo(ctx, x):
    return x


def quick(ctx, x):
    return (yield ctx.call_activity(echo, input=x))


def test_suspend_and_resume_apply_events_after_resume(client, make_worker):
    make_worker(orchestrators=[waits])
    iid = client.schedule_new_orchestration(waits)
    client.wait_for_orchestration_start(iid, timeout=10)
    client.suspend_orchestration(iid)
    assert client.get_orchestration_state(iid).runtime_status == OrchestrationStatus.SUSPENDED
    client.raise_orchestration_event(iid, "go", data="while suspended")
    with pytest.raises(TimeoutError):
        client.wait_for_orchestration_completion(iid, timeout=1)
    assert client.get_orchestration_state(iid).runtime_status == OrchestrationStatus.SUSPENDED
    client.resume_orchestration(iid)
    state = client.wait_for_orchestration_completion(iid, timeout=10)
    assert state.runtime_status == OrchestrationStatus.COMPLETED
    assert state.serialized_output == '"while suspended"'
    kinds = [type(e).__name__ for e in client.get_orchestration_history(iid)]
    assert kinds.index("ExecutionSuspendedEvent") < kinds.index("ExecutionResumedEvent")


def test_terminate_with_output(client, make_worker):
    make_worker(orchestrators=[waits])
    iid = client.schedule_new_orchestration(waits)
    client.wait_for_orchestration_start(iid, timeout=10)
    client.terminate_orchestration(iid, output={"reason": "test"})
    state = client.wait_for_orchestration_completion(iid, timeout=10)
    assert state.runtime_status == OrchestrationStatus.TERMINATED
    assert json.loads(state.serialized_output) == {"reason": "test"}
    client.terminate_orchestration(iid, output="again")  # a finished instance: no-op
    assert json.loads(client.get_orchestration_state(iid).serialized_output) == {"reason": "test"}


def test_terminate_works_without_any_worker(client):
    iid = client.schedule_new_orchestration("nobody-runs-me")
    client.terminate_orchestration(iid, output="bye")
    assert client.wait_for_orchestration_completion(iid, timeout=5).runtime_status == OrchestrationStatus.TERMINATED


@pytest.mark.parametrize("recursive", [True, False])
def test_recursive_terminate_reaches_running_sub_orchestrations(client, make_worker, recursive):
    make_worker(orchestrators=[parent_of_waiter, waits])
    iid = client.schedule_new_orchestration(parent_of_waiter, instance_id=f"rec-{recursive}")
    child = f"{iid}-child"
    wait_until(lambda: client.get_orchestration_state(child), what="child started")
    client.wait_for_orchestration_start(child, timeout=10)
    client.terminate_orchestration(iid, output="stop", recursive=recursive)
    assert client.wait_for_orchestration_completion(iid, timeout=10).runtime_status == OrchestrationStatus.TERMINATED
    child_state = client.get_orchestration_state(child)
    if recursive:
        assert child_state.runtime_status == OrchestrationStatus.TERMINATED
    else:
        assert child_state.runtime_status == OrchestrationStatus.RUNNING
        client.raise_orchestration_event(child, "go", data=1)  # the child still finishes on its own
        assert client.wait_for_orchestration_completion(child, timeout=10).runtime_status == (
            OrchestrationStatus.COMPLETED
        )


def test_restart_with_same_and_new_instance_id(client, make_worker):
    make_worker(orchestrators=[quick], activities=[echo])
    iid = client.schedule_new_orchestration(quick, input="again", instance_id="restart-me")
    first = client.wait_for_orchestration_completion(iid, timeout=10)
    same = client.restart_orchestration(iid)
    assert same == iid
    second = client.wait_for_orchestration_completion(iid, timeout=10)
    assert second.serialized_output == '"again"'
    assert second.created_at >= first.created_at
    new_id = client.restart_orchestration(iid, restart_with_new_instance_id=True)
    assert new_id != iid
    assert client.wait_for_orchestration_completion(new_id, timeout=10).serialized_output == '"again"'


def test_restart_of_running_instance_is_failed_precondition(client, make_worker):
    make_worker(orchestrators=[waits])
    iid = client.schedule_new_orchestration(waits)
    client.wait_for_orchestration_start(iid, timeout=10)
    with pytest.raises(grpc.RpcError) as err:
        client.restart_orchestration(iid)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "RUNNING" in err.value.details()


def test_purge_one_instance(client, make_worker):
    make_worker(orchestrators=[quick, waits], activities=[echo])
    done = client.schedule_new_orchestration(quick, input=1)
    client.wait_for_orchestration_completion(done, timeout=10)
    running = client.schedule_new_orchestration(waits)
    client.wait_for_orchestration_start(running, timeout=10)
    assert client.purge_orchestration(running).deleted_instance_count == 0
    assert client.get_orchestration_state(running) is not None
    assert client.purge_orchestration(done).deleted_instance_count == 1
    assert client.get_orchestration_state(done) is None
    assert client.purge_orchestration(done).deleted_instance_count == 0
    assert client.purge_orchestration("never-existed").deleted_instance_count == 0


def test_purge_by_created_time_and_status(client, make_worker):
    make_worker(orchestrators=[quick, waits], activities=[echo])
    old = [client.schedule_new_orchestration(quick, input=i) for i in range(3)]
    for i in old:
        client.wait_for_orchestration_completion(i, timeout=10)
    cutoff = datetime.now(timezone.utc)
    newer = client.schedule_new_orchestration(quick, input="new")
    client.wait_for_orchestration_completion(newer, timeout=10)
    terminated = client.schedule_new_orchestration(waits)
    client.terminate_orchestration(terminated)
    client.wait_for_orchestration_completion(terminated, timeout=10)

    result = client.purge_orchestrations_by(created_time_to=cutoff, runtime_status=[OrchestrationStatus.COMPLETED])
    assert result.deleted_instance_count == 3
    assert all(client.get_orchestration_state(i) is None for i in old)
    assert client.get_orchestration_state(newer) is not None
    result = client.purge_orchestrations_by(
        created_time_from=cutoff - timedelta(seconds=1), runtime_status=[OrchestrationStatus.TERMINATED]
    )
    assert result.deleted_instance_count == 1
    assert client.get_orchestration_state(newer) is not None


def child_done(ctx, x):
    return x


def parent_done(ctx, _):
    return (yield ctx.call_sub_orchestrator(child_done, input=5, instance_id=f"{ctx.instance_id}-kid"))


@pytest.mark.parametrize("recursive", [True, False])
def test_recursive_purge_of_sub_orchestrations(client, make_worker, recursive):
    make_worker(orchestrators=[parent_done, child_done])
    iid = client.schedule_new_orchestration(parent_done, instance_id=f"purge-{recursive}")
    client.wait_for_orchestration_completion(iid, timeout=10)
    result = client.purge_orchestration(iid, recursive=recursive)
    assert result.deleted_instance_count == (2 if recursive else 1)
    assert (client.get_orchestration_state(f"{iid}-kid") is None) == recursive


_rewind_calls: dict[str, int] = {}
_rewind_lock = threading.Lock()


def fails_first_time(ctx, key):
    with _rewind_lock:
        _rewind_calls[key] = _rewind_calls.get(key, 0) + 1
        if _rewind_calls[key] == 1:
            raise RuntimeError("transient")
    return f"{key} worked"


def rewinds(ctx, key):
    a = yield ctx.call_activity(echo, input="before")
    b = yield ctx.call_activity(fails_first_time, input=key)
    return [a, b]


def rewind_child(ctx, key):
    return (yield ctx.call_activity(fails_first_time, input=key))


def rewind_parent(ctx, key):
    return (yield ctx.call_sub_orchestrator(rewind_child, input=key, instance_id=f"{ctx.instance_id}-c"))


def test_rewind_failed_instance_reruns_failed_activity(client, make_worker):
    _rewind_calls.clear()
    make_worker(orchestrators=[rewinds], activities=[echo, fails_first_time])
    iid = client.schedule_new_orchestration(rewinds, input="rw1")
    assert client.wait_for_orchestration_completion(iid, timeout=10).runtime_status == OrchestrationStatus.FAILED
    client.rewind_orchestration(iid, reason="try again")
    state = client.wait_for_orchestration_completion(iid, timeout=10)
    assert state.runtime_status == OrchestrationStatus.COMPLETED, state.failure_details
    assert json.loads(state.serialized_output) == ["before", "rw1 worked"]
    assert _rewind_calls["rw1"] == 2


def test_rewind_reaches_failed_sub_orchestration(client, make_worker):
    _rewind_calls.clear()
    make_worker(orchestrators=[rewind_parent, rewind_child], activities=[fails_first_time])
    iid = client.schedule_new_orchestration(rewind_parent, input="rw2", instance_id="rw-parent")
    assert client.wait_for_orchestration_completion(iid, timeout=10).runtime_status == OrchestrationStatus.FAILED
    assert client.get_orchestration_state("rw-parent-c").runtime_status == OrchestrationStatus.FAILED
    client.rewind_orchestration(iid)
    state = client.wait_for_orchestration_completion(iid, timeout=10)
    assert state.runtime_status == OrchestrationStatus.COMPLETED, state.failure_details
    assert state.serialized_output == '"rw2 worked"'
    assert client.get_orchestration_state("rw-parent-c").runtime_status == OrchestrationStatus.COMPLETED


def test_rewind_reruns_a_failed_sub_orchestration_that_was_purged(client, make_worker):
    """The SDK's own end-to-end test (test_rewind_purged_sub_orchestration): the child runs again from the start."""
    _rewind_calls.clear()
    make_worker(orchestrators=[rewind_parent, rewind_child], activities=[fails_first_time])
    iid = client.schedule_new_orchestration(rewind_parent, input="rw3", instance_id="rw-purged")
    assert client.wait_for_orchestration_completion(iid, timeout=10).runtime_status == OrchestrationStatus.FAILED
    assert client.purge_orchestration("rw-purged-c").deleted_instance_count == 1
    client.rewind_orchestration(iid, reason="purge and retry")
    state = client.wait_for_orchestration_completion(iid, timeout=10)
    assert state.runtime_status == OrchestrationStatus.COMPLETED, state.failure_details
    assert state.serialized_output == '"rw3 worked"'
    assert _rewind_calls["rw3"] == 2
    child = client.get_orchestration_state("rw-purged-c", fetch_payloads=True)
    assert child.runtime_status == OrchestrationStatus.COMPLETED and child.serialized_input == '"rw3"'
    # the re-created child is the parent's again: purging the parent recursively takes it too
    assert client.purge_orchestration(iid, recursive=True).deleted_instance_count == 2


def test_rewind_of_non_failed_instance_is_failed_precondition(client, make_worker):
    make_worker(orchestrators=[quick], activities=[echo])
    iid = client.schedule_new_orchestration(quick, input=1)
    client.wait_for_orchestration_completion(iid, timeout=10)
    with pytest.raises(grpc.RpcError) as err:
        client.rewind_orchestration(iid)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "only FAILED instances can be rewound" in err.value.details()


def _policy(*statuses) -> pb.OrchestrationIdReusePolicy:
    return pb.OrchestrationIdReusePolicy(replaceableStatus=[s.value for s in statuses])


def test_reuse_without_policy(client, make_worker):
    make_worker(orchestrators=[waits, quick], activities=[echo])
    client.schedule_new_orchestration(waits, instance_id="dup")
    with pytest.raises(grpc.RpcError) as err:
        client.schedule_new_orchestration(waits, instance_id="dup")
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "'dup'" in err.value.details()
    client.terminate_orchestration("dup")
    client.wait_for_orchestration_completion("dup", timeout=10)
    client.schedule_new_orchestration(quick, input="replaced", instance_id="dup")  # finished: replaced
    assert client.wait_for_orchestration_completion("dup", timeout=10).serialized_output == '"replaced"'


def test_reuse_policy_can_replace_a_running_instance(client, make_worker):
    make_worker(orchestrators=[waits, quick], activities=[echo])
    client.schedule_new_orchestration(waits, instance_id="pol")
    client.wait_for_orchestration_start("pol", timeout=10)
    client.schedule_new_orchestration(
        quick, input="new", instance_id="pol", reuse_id_policy=_policy(OrchestrationStatus.RUNNING)
    )
    assert client.wait_for_orchestration_completion("pol", timeout=10).serialized_output == '"new"'


def test_reuse_policy_rejects_status_not_listed(client, make_worker):
    make_worker(orchestrators=[quick], activities=[echo])
    client.schedule_new_orchestration(quick, input=1, instance_id="strict")
    client.wait_for_orchestration_completion("strict", timeout=10)
    with pytest.raises(grpc.RpcError) as err:
        client.schedule_new_orchestration(
            quick, input=2, instance_id="strict", reuse_id_policy=_policy(OrchestrationStatus.FAILED)
        )
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "COMPLETED" in err.value.details()


def _legacy_policy(action: int, *statuses) -> pb.OrchestrationIdReusePolicy:
    """The policy as durabletask-go 0.6 sends it: field 1 the statuses, field 2 (dropped since) the action."""
    raw = b"".join(b"\x08" + bytes([s.value]) for s in statuses) + b"\x10" + bytes([action])
    return pb.OrchestrationIdReusePolicy.FromString(raw)


def test_legacy_reuse_action_ignore_keeps_the_running_instance(backend, client, make_worker):
    make_worker(orchestrators=[waits])
    client.schedule_new_orchestration(waits, input="first", instance_id="ign")
    client.wait_for_orchestration_start("ign", timeout=10)
    stub = raw_stub(backend)
    again = pb.CreateInstanceRequest(
        instanceId="ign", name="waits", orchestrationIdReusePolicy=_legacy_policy(1, OrchestrationStatus.RUNNING)
    )
    assert stub.StartInstance(again).instanceId == "ign"
    state = client.get_orchestration_state("ign")
    assert state.runtime_status == OrchestrationStatus.RUNNING and state.serialized_input == '"first"'
    # Only the listed statuses are ignored; any other is refused as a duplicate, as durabletask-go did.
    not_listed = pb.CreateInstanceRequest(
        instanceId="ign", name="waits", orchestrationIdReusePolicy=_legacy_policy(1, OrchestrationStatus.COMPLETED)
    )
    with pytest.raises(grpc.RpcError) as err:
        stub.StartInstance(not_listed)
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS


@pytest.mark.parametrize("action", [1, 2], ids=["IGNORE", "TERMINATE"])
def test_legacy_reuse_action_refuses_a_finished_instance_it_does_not_list(backend, client, make_worker, action):
    make_worker(orchestrators=[waits])
    client.schedule_new_orchestration(waits, input="kept", instance_id="legacy-unlisted")
    client.wait_for_orchestration_start("legacy-unlisted", timeout=10)
    client.terminate_orchestration("legacy-unlisted")
    client.wait_for_orchestration_completion("legacy-unlisted", timeout=10)
    again = pb.CreateInstanceRequest(
        instanceId="legacy-unlisted", name="waits", orchestrationIdReusePolicy=_legacy_policy(action)
    )
    with pytest.raises(grpc.RpcError) as err:
        raw_stub(backend).StartInstance(again)
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS and "TERMINATED" in err.value.details()
    state = client.get_orchestration_state("legacy-unlisted")
    assert state.runtime_status == OrchestrationStatus.TERMINATED and state.serialized_input == '"kept"'


def test_legacy_reuse_action_terminate_replaces_the_running_instance(backend, client, make_worker):
    make_worker(orchestrators=[waits, quick], activities=[echo])
    client.schedule_new_orchestration(waits, instance_id="legacy-term")
    client.wait_for_orchestration_start("legacy-term", timeout=10)
    replace = pb.CreateInstanceRequest(
        instanceId="legacy-term",
        name="quick",
        input=wrappers_pb2.StringValue(value='"new"'),
        orchestrationIdReusePolicy=_legacy_policy(2, OrchestrationStatus.RUNNING),
    )
    raw_stub(backend).StartInstance(replace)
    assert client.wait_for_orchestration_completion("legacy-term", timeout=10).serialized_output == '"new"'


@pytest.mark.parametrize(
    "call",
    [
        "suspend_orchestration",
        "resume_orchestration",
        "terminate_orchestration",
        "rewind_orchestration",
        "restart_orchestration",
        "raise_orchestration_event",
    ],
)
def test_unknown_instance_is_not_found(client, call):
    args = ("no-such-instance", "evt") if call == "raise_orchestration_event" else ("no-such-instance",)
    with pytest.raises(grpc.RpcError) as err:
        getattr(client, call)(*args)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert "no-such-instance" in err.value.details()


def test_suspend_finished_instance_is_failed_precondition(client, make_worker):
    make_worker(orchestrators=[quick], activities=[echo])
    iid = client.schedule_new_orchestration(quick, input=1)
    client.wait_for_orchestration_completion(iid, timeout=10)
    for call in (client.suspend_orchestration, client.resume_orchestration):
        with pytest.raises(grpc.RpcError) as err:
            call(iid)
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_skip_graceful_terminations(backend, client, make_worker):
    make_worker(orchestrators=[waits, quick], activities=[echo])
    running = client.schedule_new_orchestration(waits)
    done = client.schedule_new_orchestration(quick, input=1)
    client.wait_for_orchestration_completion(done, timeout=10)
    reply = raw_stub(backend).SkipGracefulOrchestrationTerminations(
        pb.SkipGracefulOrchestrationTerminationsRequest(
            instanceBatch=pb.InstanceBatch(instanceIds=[running, done, "ghost"])
        )
    )
    assert sorted(reply.unterminatedInstanceIds) == sorted([done, "ghost"])
    assert client.get_orchestration_state(running).runtime_status == OrchestrationStatus.TERMINATED
