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

from emulator import wire

TASK_EXECUTION_TAG = "dapr.taskExecutionId"


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


def _action_in(data: bytes) -> bytes:
    out = []
    for number, kind, value in wire.parse(data):
        if number == 9:  # router: the emulator is the one app
            continue
        if number == 2 and kind == wire.LEN:
            value = _schedule_task_in(value)
        elif number == 3 and kind == wire.LEN:
            value = _child_workflow_in(value)
        out.append((number, kind, value))
    return wire.encode(out)


def orchestrator_response_in(data: bytes) -> tuple[bytes, bytes]:
    """A Dapr ``WorkflowResponse`` as Microsoft's ``OrchestratorResponse``, and the fields to keep
    with the turn's OrchestratorStarted event: Dapr's ``version`` (name and patches) is field 1 of
    its ``WorkflowStartedEvent``, where a Dapr worker reads it back on replay (``is_patched``)."""
    out, started = [], []
    for number, kind, value in wire.parse(data):
        if number == 6 and kind == wire.LEN:  # the workflow's version
            started.append((1, wire.LEN, value))
            continue
        if number == 2 and kind == wire.LEN:
            value = _action_in(value)
        out.append((number, kind, value))
    return wire.encode(out), wire.encode(started)


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
