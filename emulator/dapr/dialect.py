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
from emulator.engine.orchestrations import TurnExtras
from emulator.errors import Unsupported

TASK_EXECUTION_TAG = "dapr.taskExecutionId"
#: The error type of a call routed to another app ID (``router.targetAppID``).
CROSS_APP_ERROR = "CrossAppCallNotSupported"


class OtherApp(Unsupported):
    """A client call routed to another app ID."""


def _without(fields, *numbers):
    return [f for f in fields if f[0] not in numbers]


# ------------------------------------------------------------------ inbound


def _schedule_task_in(fields: list) -> bytes:
    execution_id = wire.first(fields, 5)
    out = _without(fields, 4, 5, 6)
    if execution_id is not None:
        out.append(wire.map_entry(4, TASK_EXECUTION_TAG, execution_id.decode()))
    return wire.encode(out)


def _child_workflow_in(fields: list) -> bytes:
    return wire.encode(_without(fields, 5, 6))


#: An action's call: ``{action field: (what it calls, its body's router field, its translation)}``.
_CALLS = {2: ("activity", 4, _schedule_task_in), 3: ("child workflow", 5, _child_workflow_in)}


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


def _timer_in(data: bytes) -> tuple[bytes, bytes]:
    """Dapr's ``CreateTimerAction``: ``fireAt`` for the engine, and its ``name`` (2) and ``origin``
    (3-6) as the fields of Dapr's ``TimerCreatedEvent`` (name 2, origin 4-7), which its SDK reads
    on replay to match the timer (a wait for an event without a timeout is such a timer)."""
    fields = wire.parse(data)
    extra = [(n if n == 2 else n + 1, k, v) for n, k, v in fields if 2 <= n <= 6]
    return wire.encode([f for f in fields if not 2 <= f[0] <= 6]), wire.encode(extra)


def _action_in(data: bytes, extras: TurnExtras) -> bytes:
    out, action_id, routers, call = [], 0, [], None
    for number, kind, value in wire.parse(data):
        if number == 1 and kind == wire.VARINT:
            action_id = value - (1 << 64) if value >= 1 << 63 else value  # int32, sign-extended
        if number == 9:  # router: the emulator is the one app
            routers.append(value)
            continue
        if number in _CALLS and kind == wire.LEN:
            what, router_field, translate = _CALLS[number]
            body = wire.parse(value)
            routers.append(wire.first(body, router_field))
            call = (what, (wire.first(body, 1) or b"").decode())
            value = translate(body)
        elif number == 4 and kind == wire.LEN:
            value, timer_fields = _timer_in(value)
            if timer_fields:
                extras.timer_fields[action_id] = timer_fields
        out.append((number, kind, value))
    target = next((app for app in map(_other_app, routers) if app), None)
    if target is not None and call is not None:
        extras.refused[action_id] = _routed_elsewhere(action_id, *call, target)
    return wire.encode(out)


def orchestrator_response_in(data: bytes) -> tuple[bytes, TurnExtras]:
    """A Dapr ``WorkflowResponse`` as Microsoft's ``OrchestratorResponse``, and what the engine
    keeps beside it (:class:`TurnExtras`): Dapr's ``version`` (name and patches), field 1 of its
    ``WorkflowStartedEvent``, where a Dapr worker reads it back on replay (``is_patched``); the
    calls routed to another app ID, which fail at once; and each timer's name and origin."""
    out, started, extras = [], [], TurnExtras()
    for number, kind, value in wire.parse(data):
        if number == 6 and kind == wire.LEN:  # the workflow's version
            started.append((1, wire.LEN, value))
            continue
        if number == 2 and kind == wire.LEN:
            value = _action_in(value, extras)
        out.append((number, kind, value))
    extras.started_fields = wire.encode(started)
    return wire.encode(out), extras


#: The ``router`` field of each Dapr client request that has one (a ``TaskRouter``).
CLIENT_ROUTERS = {
    "StartInstance": 11,
    "GetInstance": 3,
    "WaitForInstanceStart": 3,
    "WaitForInstanceCompletion": 3,
    "RaiseEvent": 4,
    "TerminateInstance": 4,
    "SuspendInstance": 3,
    "ResumeInstance": 3,
    "PurgeInstances": 5,
    "RerunWorkflowFromEvent": 7,
}


def client_request_in(method: str, data: bytes) -> bytes:
    """A client request without its ``router``; :class:`OtherApp` when it names another app ID."""
    number = CLIENT_ROUTERS[method]
    fields = wire.parse(data)
    router = wire.first(fields, number)
    target = _other_app(router)
    if target is not None:
        raise OtherApp(
            f"{method} is routed to app ID '{target}', but the emulator runs one app: the workflows of the "
            "workers connected to it. Call it without an app ID."
        )
    return wire.encode([f for f in fields if not (f[0] == number and f[1] == wire.LEN)])


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


def _execution_id(scheduled: bytes) -> str | None:
    return wire.map_items(wire.parse(scheduled), 5).get(TASK_EXECUTION_TAG)


def _tag_to_execution_id(data: bytes, tags_field: int) -> bytes:
    fields = wire.parse(data)
    execution_id = wire.map_items(fields, tags_field).get(TASK_EXECUTION_TAG)
    out = _without(fields, tags_field)
    if execution_id is not None:
        out.append(wire.string(tags_field, execution_id))
    return wire.encode(out)


def _with_execution_id(result: bytes, ids: dict[int, str]) -> bytes:
    """TaskCompleted or TaskFailed with Dapr's ``taskExecutionId`` (3), as daprd fills it: its SDK
    gives a retry of the activity the first attempt's ID from there."""
    fields = wire.parse(result)
    scheduled_id = next((v for n, k, v in fields if n == 1 and k == wire.VARINT), 0)
    execution_id = ids.get(scheduled_id)
    return wire.encode([*fields, wire.string(3, execution_id)]) if execution_id else result


def events_out(events: list[bytes]) -> list[bytes]:
    """History events as a Dapr worker reads them: a TaskScheduled's (6) tags become its
    ``taskExecutionId`` (5), which its TaskCompleted (7) and TaskFailed (8) carry too (3)."""
    parsed = [wire.parse(e) for e in events]
    ids: dict[int, str] = {}
    for fields in parsed:
        scheduled = wire.first(fields, 6)
        if scheduled is not None:
            event_id = next((v for n, k, v in fields if n == 1 and k == wire.VARINT), 0)
            execution_id = _execution_id(scheduled)
            if execution_id:
                ids[event_id] = execution_id
    out = []
    for data, fields in zip(events, parsed, strict=True):
        if not any(n in (6, 7, 8) and k == wire.LEN for n, k, _ in fields):
            out.append(data)  # only the task events differ
            continue
        rewritten = []
        for number, kind, value in fields:
            if kind == wire.LEN and number == 6:
                value = _tag_to_execution_id(value, 5)
            elif kind == wire.LEN and number in (7, 8):
                value = _with_execution_id(value, ids)
            rewritten.append((number, kind, value))
        out.append(wire.encode(rewritten))
    return out


def _orchestrator_request_out(data: bytes) -> bytes:
    fields = wire.parse(data)
    history = [i for i, (n, k, _) in enumerate(fields) if n in (3, 4) and k == wire.LEN]
    translated = iter(events_out([fields[i][2] for i in history]))
    for i in history:
        fields[i] = (fields[i][0], wire.LEN, next(translated))
    return wire.encode(fields)


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
