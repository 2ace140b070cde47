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
from emulator.service import Servicer, Unreadable, _guard_unary, generic_handler

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
    return wire.encode([(1, wire.LEN, dialect.history_event_out(e.SerializeToString())) for e in events])


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
        response, started_fields, refused = dialect.orchestrator_response_in(data)
        return pb.OrchestratorResponse.FromString(response), started_fields, refused
    except (ValueError, DecodeError) as e:  # wire.parse raises ValueError on damage
        return Unreadable.of(data, e, hint=""), b"", {}


async def complete_workflow_task(hub, request, context):
    response, started_fields, refused = request
    if isinstance(response, Unreadable):
        response.refuse(hub)
    hub.complete_orchestrator(response, started_fields, refused)
    return pb.CompleteTaskResponse()


def _purge(fn):
    """PurgeInstances with Dapr's ``force``: an instance in any state is removed at once."""

    @functools.wraps(fn)
    async def purge(hub, request, context):
        req, force = request
        if force and req.WhichOneof("request") == "instanceId":
            return pb.PurgeInstancesResponse(deletedInstanceCount=hub.purge(req.instanceId, req.recursive, force=True))
        return await fn(hub, req, context)

    return purge


def _adapt(name: str, fn, deserialize):
    if name == "CompleteOrchestratorTask":
        return complete_workflow_task, _workflow_response
    if name == "StartInstance":
        return fn, lambda data: deserialize(dialect.create_instance_in(data))
    if name == "PurgeInstances":
        return _purge(fn), lambda data: (lambda req, force: (deserialize(req), force))(*dialect.purge_in(data))
    if name == "GetWorkItems":
        return _work_items(fn), deserialize
    return fn, deserialize


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
    }
    return generic_handler(servicer, _adapt, extra)
