"""Rewriting the fields where the Dapr fork of the protocol differs (docs/dapr-dialect.md).

Inbound (a Dapr worker's answer): ``OrchestratorAction`` 9 is Dapr's ``router``, not
``rewindOrchestration``; ``ScheduleTaskAction`` 4 and 5 are ``router`` and ``taskExecutionId``,
not ``tags`` and ``parentTraceContext``; ``CreateChildWorkflowAction`` 5 and 6 are ``router`` and
``historyPropagationScope``; ``WorkflowResponse`` 6 is the workflow ``version``, kept in the
turn's OrchestratorStarted event. The task execution ID travels through the engine as the task's
tag ``dapr.taskExecutionId``.

Outbound (work items): ``WorkItem`` 4 ``healthPing`` does not exist for Dapr 1.18 workers (they
reconnect on it), so it is dropped; ``ActivityRequest`` 7 and ``TaskScheduledEvent`` 5 are Dapr's
``taskExecutionId``, where Microsoft's dialect has ``tags``.
"""

from __future__ import annotations

from durabletask.internal import orchestrator_service_pb2 as pb

from emulator import wire

TASK_EXECUTION_TAG = "dapr.taskExecutionId"
#: The error type of a call routed to another app ID (``router.targetAppID``).
CROSS_APP_ERROR = "CrossAppCallNotSupported"


def _without(fields, *numbers):
    return [f for f in fields if f[0] not in numbers]


# ------------------------------------------------------------------ inbound


def _schedule_task_in(data: bytes) -> bytes:
    fields = wire.parse(data)
    execution_id = next((v for n, k, v in fields if n == 5 and k == wire.LEN), None)
    out = _without(fields, 4, 5, 6)
    if execution_id is not None:
        out.append(wire.map_entry(4, TASK_EXECUTION_TAG, execution_id.decode()))
    return wire.encode(out)


def _child_workflow_in(data: bytes) -> bytes:
    return wire.encode(_without(wire.parse(data), 5, 6))


def _other_app(router: bytes | None) -> str | None:
    """The app ID a ``TaskRouter`` sends a call to, when that is not the calling app."""
    if not router:
        return None
    fields = wire.leading_strings(router)
    target = fields.get(2, "")
    return target if target and target != fields.get(1, "") else None


def _routed_elsewhere(action_id: int, what: str, name: str, app_id: str) -> pb.TaskFailureDetails:
    message = (
        f"{what} '{name}' (task {action_id}) is routed to app ID '{app_id}', but the emulator runs one app: "
        "the workers connected to it. Calls to another app ID are not supported; call it without an app ID "
        "and register it in a worker connected to this emulator."
    )
    return pb.TaskFailureDetails(errorType=CROSS_APP_ERROR, errorMessage=message, isNonRetriable=True)


def _action_in(data: bytes, refused: dict) -> bytes:
    out, action_id, routers, call = [], 0, [], None
    for number, kind, value in wire.parse(data):
        if number == 1 and kind == wire.VARINT:
            action_id = value - (1 << 64) if value >= 1 << 63 else value  # int32, sign-extended
        if number == 9:  # router: the emulator is the one app
            routers.append(value)
            continue
        if number == 2 and kind == wire.LEN:
            routers.append(_field(value, 4))
            call = ("activity", value)
            value = _schedule_task_in(value)
        elif number == 3 and kind == wire.LEN:
            routers.append(_field(value, 5))
            call = ("child workflow", value)
            value = _child_workflow_in(value)
        out.append((number, kind, value))
    target = next((app for app in map(_other_app, routers) if app), None)
    if target is not None and call is not None:
        what, body = call
        refused[action_id] = _routed_elsewhere(action_id, what, wire.leading_strings(body).get(1, ""), target)
    return wire.encode(out)


def _field(data: bytes, number: int) -> bytes | None:
    return next((v for n, k, v in wire.parse(data) if n == number and k == wire.LEN), None)


def orchestrator_response_in(data: bytes) -> tuple[bytes, bytes, dict]:
    """A Dapr ``WorkflowResponse`` as Microsoft's ``OrchestratorResponse``; the fields to keep with
    the turn's OrchestratorStarted event: Dapr's ``version`` (name and patches) is field 1 of its
    ``WorkflowStartedEvent``, where a Dapr worker reads it back on replay (``is_patched``); and the
    calls routed to another app ID, ``{action ID: TaskFailureDetails}``, which fail at once."""
    out, started, refused = [], [], {}
    for number, kind, value in wire.parse(data):
        if number == 6 and kind == wire.LEN:  # the workflow's version
            started.append((1, wire.LEN, value))
            continue
        if number == 2 and kind == wire.LEN:
            value = _action_in(value, refused)
        out.append((number, kind, value))
    return wire.encode(out), wire.encode(started), refused


def create_instance_in(data: bytes) -> bytes:
    """Dapr's ``CreateInstanceRequest``: ``enforceUniqueInstanceId`` (10, a bool where Microsoft has
    ``requestTime``) becomes the ID reuse policy that refuses any existing instance (the older
    policy shape: no replaceable status, action ERROR); ``router`` (11) is dropped."""
    out, unique = [], False
    for number, kind, value in wire.parse(data):
        if number == 10 and kind == wire.VARINT:
            unique = bool(value)
        elif number != 11:
            out.append((number, kind, value))
    if unique:
        out.append((6, wire.LEN, wire.encode([(2, wire.VARINT, 0)])))
    return wire.encode(out)


def purge_in(data: bytes) -> tuple[bytes, bool]:
    """Dapr's ``PurgeInstancesRequest`` and its ``force`` (4, a bool where Microsoft has ``instanceBatch``)."""
    fields = wire.parse(data)
    force = any(n == 4 and k == wire.VARINT and v for n, k, v in fields)
    return wire.encode([f for f in fields if not (f[0] == 4 and f[1] == wire.VARINT)]), force


# ------------------------------------------------------------------ outbound


def _tag_to_execution_id(data: bytes, tags_field: int) -> bytes:
    fields = wire.parse(data)
    execution_id = wire.map_items(fields, tags_field).get(TASK_EXECUTION_TAG)
    out = _without(fields, tags_field)
    if execution_id is not None:
        out.append(wire.string(tags_field, execution_id))
    return wire.encode(out)


def _event_out(data: bytes) -> bytes:
    fields = wire.parse(data)
    if not any(n == 6 for n, _, _ in fields):  # only taskScheduled differs
        return data
    return wire.encode([(n, k, _tag_to_execution_id(v, 5) if n == 6 and k == wire.LEN else v) for n, k, v in fields])


def _orchestrator_request_out(data: bytes) -> bytes:
    return wire.encode([(n, k, _event_out(v) if n in (3, 4) and k == wire.LEN else v) for n, k, v in wire.parse(data)])


def work_item_out(data: bytes) -> bytes | None:
    """A work item as a Dapr worker reads it, or None for one it must not get (health pings)."""
    fields = wire.parse(data)
    out = []
    for number, kind, value in fields:
        if number == 4:  # healthPing: unknown to Dapr 1.18 workers
            return None
        if number == 1 and kind == wire.LEN:
            value = _orchestrator_request_out(value)
        elif number == 2 and kind == wire.LEN:
            value = _tag_to_execution_id(value, 7)
        out.append((number, kind, value))
    return wire.encode(out)


def history_event_out(data: bytes) -> bytes:
    return _event_out(data)
