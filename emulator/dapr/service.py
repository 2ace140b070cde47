"""``TaskHubSidecarService`` in the Dapr dialect: the same servicer, with the wire rewritten.

Only the messages that differ are touched (see :mod:`emulator.dapr.dialect`); every other RPC
passes its bytes through unchanged. Dapr names ``CompleteOrchestratorTask`` also
``CompleteWorkflowTask``, and adds ``ListInstanceIDs`` and ``GetInstanceHistory``, served here on
the wire format directly (their messages exist only in Dapr's dialect).
"""

from __future__ import annotations

import functools

import grpc
from durabletask.internal import orchestrator_service_pb2 as pb
from google.protobuf.message import DecodeError

from emulator import wire
from emulator.dapr import dialect
from emulator.engine.queries import InstanceFilter
from emulator.service import Servicer, Unreadable, _guard_unary, generic_handler, yield_to_streams

#: The continuation tokens of Dapr's ListInstanceIDs are a listing of their own.
LIST_INSTANCE_IDS = "ListInstanceIDs"


async def list_instance_ids(hub, request: bytes, context) -> bytes:
    """Dapr's ``ListInstanceIDs``: every instance ID in ID order, paged (continuationToken 1, pageSize 2)."""
    fields = {n: v for n, _, v in wire.parse(request)}
    token = fields.get(1, b"").decode() or None
    states, next_token = hub.query(InstanceFilter(), int(fields.get(2, 0)), token, listing=LIST_INSTANCE_IDS)
    out = [wire.string(1, s.instanceId) for s in states]
    if next_token:
        out.append(wire.string(2, next_token))
    return wire.encode(out)


async def get_instance_history(hub, request: bytes, context) -> bytes:
    """Dapr's ``GetInstanceHistory``: the whole history, as a Dapr worker would read it."""
    fields = {n: v for n, _, v in wire.parse(request)}
    events = hub.history(fields.get(1, b"").decode())
    return wire.encode([(1, wire.LEN, e) for e in dialect.events_out([e.SerializeToString() for e in events])])


async def rerun_workflow_from_event(hub, request: bytes, context) -> bytes:
    """Dapr's ``RerunWorkflowFromEvent`` (sourceInstanceID 1, eventID 2, newInstanceID 3, input 4,
    overwriteInput 5, newChildWorkflowInstanceID 6) -> ``{newInstanceID 1}``."""
    fields = {n: v for n, _, v in wire.parse(request)}

    def text(number: int) -> str | None:
        return fields[number].decode() if number in fields else None

    task_input = wire.leading_strings(fields[4]).get(1, "") if 4 in fields else None
    new_id = hub.rerun_from_event(
        text(1) or "",
        int(fields.get(2, 0)),
        new_instance_id=text(3) or None,
        task_input=task_input,
        overwrite_input=bool(fields.get(5, 0)),
        new_child_id=text(6) or None,
    )
    return wire.encode([wire.string(1, new_id)])


def _work_items(fn):
    @functools.wraps(fn)
    async def stream(hub, request, context):
        async for data in fn(hub, request, context):
            translated = dialect.work_item_out(data)
            if translated is not None:
                yield translated

    return stream


def _workflow_response(data: bytes):
    try:
        response, extras = dialect.orchestrator_response_in(data)
        return pb.OrchestratorResponse.FromString(response), extras
    except (ValueError, DecodeError) as e:  # wire.parse raises ValueError on damage
        return Unreadable.of(data, e, hint=""), None


async def complete_workflow_task(hub, request, context):
    response, extras = request
    if isinstance(response, Unreadable):
        response.refuse(hub)
    hub.complete_orchestrator(response, extras)
    await yield_to_streams()
    return pb.CompleteTaskResponse()


class _Refused:
    """A client request that names another app ID, to be refused by its handler."""

    def __init__(self, error: dialect.OtherApp) -> None:
        self.error = error


def _routed(name: str, fn, parse):
    """A client RPC whose request may carry Dapr's ``router``: the emulator is the one app, so a
    call to another app ID is refused (UNIMPLEMENTED) and a router naming no other app is dropped."""

    def deserialize(data: bytes):
        try:
            return parse(dialect.client_request_in(name, data))
        except dialect.OtherApp as e:
            return _Refused(e)

    @functools.wraps(fn)
    async def handler(hub, request, context):
        if isinstance(request, _Refused):
            raise request.error
        return await fn(hub, request, context)

    return handler, deserialize


def _purge(fn):
    """PurgeInstances with Dapr's ``force``: an instance in any state is removed at once."""

    @functools.wraps(fn)
    async def purge(hub, request, context):
        req, force = request
        if force and req.WhichOneof("request") == "instanceId":
            return pb.PurgeInstancesResponse(deletedInstanceCount=hub.purge(req.instanceId, req.recursive, force=True))
        return await fn(hub, req, context)

    return purge


async def start_instance(hub, req: pb.CreateInstanceRequest, context):
    return pb.CreateInstanceResponse(instanceId=hub.start_instance(req, dialect="dapr"))


def _adapt(name: str, fn, deserialize):
    if name == "CompleteOrchestratorTask":
        return complete_workflow_task, _workflow_response
    if name == "GetWorkItems":
        return _work_items(fn), deserialize
    if name == "StartInstance":
        return _routed(name, start_instance, lambda data: deserialize(dialect.create_instance_in(data)))
    if name == "PurgeInstances":
        return _routed(name, _purge(fn), lambda data: _with_force(deserialize, *dialect.purge_in(data)))
    if name in dialect.CLIENT_ROUTERS:
        return _routed(name, fn, deserialize)
    return fn, deserialize


def _with_force(deserialize, data: bytes, force: bool):
    return deserialize(data), force


def dapr_handler(servicer: Servicer) -> grpc.GenericRpcHandler:
    def unary(name: str, fn, deserialize=None, serialize=None):
        return grpc.unary_unary_rpc_method_handler(
            _guard_unary(name, fn, servicer.hub_of), request_deserializer=deserialize, response_serializer=serialize
        )

    extra = {
        "CompleteWorkflowTask": unary(
            "CompleteWorkflowTask",
            complete_workflow_task,
            _workflow_response,
            pb.CompleteTaskResponse.SerializeToString,
        ),
        "ListInstanceIDs": unary("ListInstanceIDs", list_instance_ids),
        "GetInstanceHistory": unary("GetInstanceHistory", get_instance_history),
        "RerunWorkflowFromEvent": unary(
            "RerunWorkflowFromEvent", *_routed("RerunWorkflowFromEvent", rerun_workflow_from_event, bytes)
        ),
    }
    return generic_handler(servicer, _adapt, extra)
