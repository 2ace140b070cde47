"""``TaskHubSidecarService`` in the Dapr dialect: the same servicer, with the wire rewritten.

Only the messages that differ are touched (see :mod:`emulator.dapr.dialect`); every other RPC
passes its bytes through unchanged. Dapr names ``CompleteOrchestratorTask`` also
``CompleteWorkflowTask``.
"""

from __future__ import annotations

import functools

import grpc
from durabletask.internal import orchestrator_service_pb2 as pb
from google.protobuf import message_factory

from emulator.dapr import dialect
from emulator.service import SERVICE, Servicer, _guard_stream, _guard_unary


def _work_items(fn):
    @functools.wraps(fn)
    async def stream(hub, request, context):
        async for data in fn(hub, request, context):
            translated = dialect.work_item_out(data)
            if translated is not None:
                yield translated

    return stream


def dapr_handler(servicer: Servicer) -> grpc.GenericRpcHandler:
    handlers = {}
    for method in SERVICE.methods:
        request_cls = message_factory.GetMessageClass(method.input_type)
        response_cls = message_factory.GetMessageClass(method.output_type)
        fn = getattr(servicer, method.name)
        deserialize = request_cls.FromString
        if method.name == "CompleteOrchestratorTask":

            def deserialize(data: bytes):
                return pb.OrchestratorResponse.FromString(dialect.orchestrator_response_in(data))

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
    return grpc.method_handlers_generic_handler(SERVICE.full_name, handlers)
