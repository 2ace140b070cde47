"""Building history events and encoding histories.

A history is kept already serialized, framed as the repeated ``pastEvents`` field of an
``OrchestratorRequest``: appending an event is one ``SerializeToString`` and a bytes append, and
a work item carries the whole past history with one memory copy and no per-event Python work.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from durabletask.internal import orchestrator_service_pb2 as pb
from google.protobuf import timestamp_pb2, unknown_fields, wrappers_pb2

HistoryEvent = pb.HistoryEvent

_PING = pb.WorkItem(healthPing=pb.HealthPing()).SerializeToString()


def timestamp(t: float) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromNanoseconds(int(t * 1e9))
    return ts


def seconds(ts: timestamp_pb2.Timestamp) -> float:
    return ts.seconds + ts.nanos / 1e9


def string_value(s: str | None) -> wrappers_pb2.StringValue | None:
    return None if s is None else wrappers_pb2.StringValue(value=s)


def bool_value(b: bool) -> wrappers_pb2.BoolValue:
    return wrappers_pb2.BoolValue(value=b)


# The older policy shape (durabletask-go <= 0.6): field 1 lists the statuses the policy applies
# to and field 2, since dropped from the proto, says what to do then: ERROR (0), IGNORE (1) or
# TERMINATE (2). TERMINATE is what today's replaceableStatus means anyway.
LEGACY_REUSE_IGNORE = 1


def legacy_reuse_action(policy: pb.OrchestrationIdReusePolicy) -> int | None:
    """The old ``action`` field of an ID reuse policy, or None when the client sent none."""
    for field in unknown_fields.UnknownFieldSet(policy):
        if field.field_number == 2 and field.wire_type == 0:
            return field.data
    return None


def optional(msg, field: str) -> str | None:
    """The value of a ``StringValue`` field, or None when it is unset."""
    return getattr(msg, field).value if msg.HasField(field) else None


def event(now: float, event_id: int = -1, **kind) -> HistoryEvent:
    """``event(now, taskCompleted=pb.TaskCompletedEvent(...))``."""
    return HistoryEvent(eventId=event_id, timestamp=timestamp(now), **kind)


def encode_history(events: Iterable[HistoryEvent]) -> bytes:
    """Events framed as ``pastEvents`` entries, ready to append to a stored history."""
    return pb.OrchestratorRequest(pastEvents=events).SerializeToString()


def decode_history(data: bytes | bytearray) -> Sequence[HistoryEvent]:
    return pb.OrchestratorRequest.FromString(bytes(data)).pastEvents


def varint(n: int) -> bytes:
    """``n`` as a protobuf base-128 varint."""
    out = bytearray()
    while True:
        bits = n & 0x7F
        n >>= 7
        if n:
            out.append(bits | 0x80)
        else:
            out.append(bits)
            return bytes(out)


def orchestrator_work_item(
    instance_id: str,
    execution_id: str,
    new_events: Sequence[HistoryEvent],
    past: bytes | bytearray,
    token: str,
) -> bytes:
    """A serialized ``WorkItem{orchestratorRequest, completionToken}`` built around ``past``."""
    head = pb.OrchestratorRequest(
        instanceId=instance_id,
        executionId=string_value(execution_id),
        newEvents=new_events,
    ).SerializeToString()
    size = len(head) + len(past)
    tail = pb.WorkItem(completionToken=token).SerializeToString()
    return b"".join((b"\x0a", varint(size), head, past, tail))


def health_ping() -> bytes:
    return _PING


TERMINAL = frozenset(
    {
        pb.ORCHESTRATION_STATUS_COMPLETED,
        pb.ORCHESTRATION_STATUS_FAILED,
        pb.ORCHESTRATION_STATUS_TERMINATED,
        pb.ORCHESTRATION_STATUS_CANCELED,
    }
)


def status_name(status: int) -> str:
    return pb.OrchestrationStatus.Name(status).removeprefix("ORCHESTRATION_STATUS_")
