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
from google.protobuf import message_factory

from emulator.dapr import dialect, wire
from emulator.engine.queries import InstanceFilter
from emulator.service import SERVICE, Servicer, _guard_stream, _guard_unary

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
    response, started_fields = dialect.orchestrator_response_in(data)
    return pb.OrchestratorResponse.FromString(response), started_fields


async def complete_workflow_task(hub, request, context):
    response, started_fields = request
    hub.complete_orchestrator(response, started_fields)
    return pb.CompleteTaskResponse()


def dapr_handler(servicer: Servicer) -> grpc.GenericRpcHandler:
    handlers = {}
    for method in SERVICE.methods:
        request_cls = message_factory.GetMessageClass(method.input_type)
        response_cls = message_factory.GetMessageClass(method.output_type)
        fn = getattr(servicer, method.name)
        deserialize = request_cls.FromString
        if method.name == "CompleteOrchestratorTask":
            fn = complete_workflow_task
            deserialize = _workflow_response
        if method.name == "GetWorkItems":
            handlers[method.name] = grpc.unary_stream_rpc_method_handler(
                _guard_stream(method.name, _work_items(fn), servicer.hub_of),
                request_deserializer=deserialize,
                response_serializer=lambda data: data,
            )
        elif method.server_streaming:
            handlers[method.name] = grpc.unary_stream_rpc_method_handler(
                _guard_stream(method.name, fn, servicer.hub_of),
                request_deserializer=deserialize,
                response_serializer=response_cls.SerializeToString,
            )
        else:
            handlers[method.name] = grpc.unary_unary_rpc_method_handler(
                _guard_unary(method.name, fn, servicer.hub_of),
                request_deserializer=deserialize,
                response_serializer=response_cls.SerializeToString,
            )
    handlers["CompleteWorkflowTask"] = handlers["CompleteOrchestratorTask"]
    for name, fn in (("ListInstanceIDs", list_instance_ids), ("GetInstanceHistory", get_instance_history)):
        handlers[name] = grpc.unary_unary_rpc_method_handler(
            _guard_unary(name, fn, servicer.hub_of), request_deserializer=None, response_serializer=None
        )
    return grpc.method_handlers_generic_handler(SERVICE.full_name, handlers)
