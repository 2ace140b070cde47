"""The emulator's own control service (``durabletask.emulator.v1.EmulatorControl``).

``control.proto`` ships in the package; ``control_pb2`` is generated from it by
``scripts/gen-protos``. :mod:`emulator.control.service` serves it, :class:`ControlStub` calls it.
"""

from __future__ import annotations

from pathlib import Path

from google.protobuf import message_factory

from emulator.control import control_pb2

SERVICE = control_pb2.DESCRIPTOR.services_by_name["EmulatorControl"]
#: The .proto, for other languages' code generators and for grpcurl's -proto.
PROTO_PATH = Path(__file__).with_name("control.proto")


def _classes(method):
    return message_factory.GetMessageClass(method.input_type), message_factory.GetMessageClass(method.output_type)


class ControlStub:
    """A client of EmulatorControl on a grpc channel: ``stub.ListTaskHubs(request, timeout=...)``."""

    def __init__(self, channel):
        for method in SERVICE.methods:
            request_cls, response_cls = _classes(method)
            call = channel.unary_unary(
                f"/{SERVICE.full_name}/{method.name}",
                request_serializer=request_cls.SerializeToString,
                response_deserializer=response_cls.FromString,
            )
            setattr(self, method.name, call)
