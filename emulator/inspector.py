"""Talking to a running emulator over gRPC for the inspector commands (list, show, export...).

Plain functions returning plain data (dicts of JSON-ready values) plus rich tables for humans.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

import grpc
from durabletask.internal import orchestrator_service_pb2 as pb
from durabletask.internal import orchestrator_service_pb2_grpc as stubs
from google.protobuf import json_format, wrappers_pb2
from rich.table import Table
from rich.text import Text

from emulator.console.render import STATUS_STYLE, describe_event
from emulator.engine.events import status_name

STATUSES = ["PENDING", "RUNNING", "SUSPENDED", "COMPLETED", "FAILED", "TERMINATED"]


class InspectorError(Exception):
    """A failure to report to the user in one line; ``exit_code`` 1 for bad requests, 2 for no emulator."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


class _TaskHubHeader(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """Adds ``taskhub: <name>`` to every call, as DTS clients do."""

    def __init__(self, task_hub: str):
        self.metadata = (("taskhub", task_hub),)

    def _details(self, details):
        return details._replace(metadata=tuple(details.metadata or ()) + self.metadata)

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._details(details), request)


@contextmanager
def connect(
    address: str, task_hub: str | None = None, timeout: float = 5.0
) -> Iterator[stubs.TaskHubSidecarServiceStub]:
    """A TaskHubSidecarService stub for ``task_hub``; its ``control`` attribute is an EmulatorControl stub."""
    from emulator.control import ControlStub

    raw = grpc.insecure_channel(address)
    channel = grpc.intercept_channel(raw, _TaskHubHeader(task_hub)) if task_hub else raw
    try:
        try:
            grpc.channel_ready_future(raw).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            raise InspectorError(
                f"cannot reach an emulator at {address} (is it running? start one with `durabletask-emulator start`)",
                exit_code=2,
            ) from None
        stub = stubs.TaskHubSidecarServiceStub(channel)
        stub.control = ControlStub(raw)
        try:
            yield stub
        except grpc.RpcError as e:
            raise InspectorError(f"{e.code().name}: {e.details()}") from None
    finally:
        raw.close()


def status_value(name: str) -> int:
    return pb.OrchestrationStatus.Value(f"ORCHESTRATION_STATUS_{name.upper()}")


def json_payload(text: str | None) -> str | None:
    """Accept JSON as typed; anything that is not JSON is sent as a JSON string."""
    if text is None:
        return None
    try:
        json.loads(text)
        return text
    except ValueError:
        return json.dumps(text)


def _text(value: str | None) -> wrappers_pb2.StringValue | None:
    return wrappers_pb2.StringValue(value=value) if value is not None else None


def raise_event(stub, instance_id: str, name: str, data: str | None) -> None:
    stub.RaiseEvent(pb.RaiseEventRequest(instanceId=instance_id, name=name, input=_text(json_payload(data))))


def terminate(stub, instance_id: str, output: str | None, recursive: bool) -> None:
    stub.TerminateInstance(
        pb.TerminateRequest(instanceId=instance_id, output=_text(json_payload(output)), recursive=recursive)
    )


def suspend(stub, instance_id: str, reason: str | None) -> None:
    stub.SuspendInstance(pb.SuspendRequest(instanceId=instance_id, reason=_text(reason)))


def resume(stub, instance_id: str, reason: str | None) -> None:
    stub.ResumeInstance(pb.ResumeRequest(instanceId=instance_id, reason=_text(reason)))


def rewind(stub, instance_id: str, reason: str | None) -> None:
    stub.RewindInstance(pb.RewindInstanceRequest(instanceId=instance_id, reason=_text(reason)))


def purge(stub, instance_id: str | None, statuses, recursive: bool) -> int:
    if instance_id:
        request = pb.PurgeInstancesRequest(instanceId=instance_id, recursive=recursive)
    else:
        flt = pb.PurgeInstanceFilter(runtimeStatus=[status_value(s) for s in statuses])
        request = pb.PurgeInstancesRequest(purgeInstanceFilter=flt, recursive=recursive)
    return stub.PurgeInstances(request).deletedInstanceCount


def _iso(ts) -> str | None:
    if ts is None or (ts.seconds == 0 and ts.nanos == 0):
        return None
    return datetime.fromtimestamp(ts.seconds + ts.nanos / 1e9, tz=timezone.utc).isoformat()


def state_dict(s: pb.OrchestrationState) -> dict:
    def opt(field):
        return getattr(s, field).value if s.HasField(field) else None

    return {
        "instanceId": s.instanceId,
        "name": s.name,
        "status": status_name(s.orchestrationStatus),
        "version": opt("version"),
        "executionId": opt("executionId"),
        "parentInstanceId": opt("parentInstanceId"),
        "createdAt": _iso(s.createdTimestamp),
        "lastUpdatedAt": _iso(s.lastUpdatedTimestamp),
        "completedAt": _iso(s.completedTimestamp) if s.HasField("completedTimestamp") else None,
        "input": opt("input"),
        "output": opt("output"),
        "customStatus": opt("customStatus"),
        "failureDetails": json_format.MessageToDict(s.failureDetails) if s.HasField("failureDetails") else None,
        "tags": dict(s.tags),
    }


def list_instances(stub, statuses, prefix, created_from, created_to, limit) -> list[dict]:
    query = pb.InstanceQuery(
        runtimeStatus=[status_value(s) for s in statuses],
        instanceIdPrefix=wrappers_pb2.StringValue(value=prefix) if prefix else None,
        maxInstanceCount=limit,
    )
    if created_from:
        query.createdTimeFrom.FromDatetime(created_from)
    if created_to:
        query.createdTimeTo.FromDatetime(created_to)
    reply = stub.QueryInstances(pb.QueryInstancesRequest(query=query))
    return [state_dict(s) for s in reply.orchestrationState]


def get_state(stub, instance_id: str) -> pb.OrchestrationState:
    reply = stub.GetInstance(pb.GetInstanceRequest(instanceId=instance_id, getInputsAndOutputs=True))
    if not reply.exists:
        raise InspectorError(f"no orchestration instance with ID '{instance_id}' exists")
    return reply.orchestrationState


def get_history(stub, instance_id: str) -> list[pb.HistoryEvent]:
    events: list[pb.HistoryEvent] = []
    for chunk in stub.StreamInstanceHistory(pb.StreamInstanceHistoryRequest(instanceId=instance_id)):
        events.extend(chunk.events)
    return events


def export(stub, instance_id: str) -> dict:
    state = get_state(stub, instance_id)
    history = get_history(stub, instance_id)
    return {
        "instance": state_dict(state),
        "history": [json_format.MessageToDict(e) for e in history],
    }


def _short(iso: str | None) -> str:
    return iso[:19].replace("T", " ") if iso else ""


def instances_table(rows: list[dict]) -> Table:
    table = Table(expand=False)
    table.add_column("Instance ID", overflow="fold")
    table.add_column("Name", overflow="fold")
    table.add_column("Status", no_wrap=True)
    table.add_column("Created (UTC)", no_wrap=True)
    table.add_column("Updated (UTC)", no_wrap=True)
    for r in rows:
        status = Text(r["status"], style=STATUS_STYLE.get(r["status"], ""))
        table.add_row(r["instanceId"], r["name"], status, _short(r["createdAt"]), _short(r["lastUpdatedAt"]))
    if not rows:
        table.add_row(Text("no instances", style="dim"), "", "", "", "")
    return table


def failure_text(failure: dict, depth: int = 0) -> Text:
    """Failure details as a person reads them: type and message, the stack trace as lines, then each
    inner failure ("caused by"), indented."""
    pad = "  " * depth
    text = Text()
    text.append(f"{pad}{failure.get('errorType', '')}: ", style="bold red")
    text.append(f"{failure.get('errorMessage', '')}\n", style="red")
    for line in (failure.get("stackTrace") or "").rstrip().splitlines():
        text.append(f"{pad}  {line}\n", style="dim")
    inner = failure.get("innerFailure")
    if inner:
        text.append(f"{pad}caused by:\n", style="bold")
        text.append_text(failure_text(inner, depth + 1))
    return text


def state_table(state: dict) -> Table:
    table = Table(show_header=False, expand=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in state.items():
        if value in (None, {}, ""):
            continue
        if key == "failureDetails":
            table.add_row(key, failure_text(value))
            continue
        if isinstance(value, dict):
            value = json.dumps(value, indent=2)
        style = STATUS_STYLE.get(value, "") if key == "status" else ""
        table.add_row(key, Text(str(value), style=style))
    return table


def history_table(history: list[pb.HistoryEvent]) -> Table:
    table = Table(title="History", title_justify="left")
    for col in ("#", "Time", "Event", "Task", "Payload"):
        table.add_column(col)
    for i, event in enumerate(history):
        kind, name, payload = describe_event(event)
        table.add_row(str(i), (_iso(event.timestamp) or "")[11:23], kind, name, payload)
    return table


# ---------------------------------------------------------------------- task hubs and workers


def list_hubs(stub) -> list[dict]:
    from emulator.control import control_pb2 as cpb

    reply = stub.control.ListTaskHubs(cpb.ListTaskHubsRequest())
    return [
        {
            "name": h.name,
            "instances": dict(sorted(h.instance_counts.items())),
            "entities": h.entity_count,
            "workers": h.worker_count,
            "now": h.now.ToDatetime(tzinfo=timezone.utc).isoformat(),
            "timeSkipping": h.time_skipping,
        }
        for h in reply.task_hubs
    ]


def list_workers(stub, task_hub: str | None) -> list[dict]:
    from emulator.control import control_pb2 as cpb

    reply = stub.control.ListWorkers(cpb.ListWorkersRequest(task_hub=task_hub or ""))
    return [
        {
            "taskHub": w.task_hub,
            "id": w.session_id,
            "workerId": w.worker_id,
            "userAgent": w.user_agent,
            "peer": w.peer,
            "connectedAt": _iso(w.connected_at),
            "inFlight": w.in_flight,
            "delivered": w.delivered,
        }
        for w in reply.workers
    ]


def reset(stub, task_hub: str | None, everything: bool) -> None:
    from emulator.control import control_pb2 as cpb

    stub.control.ResetTaskHub(cpb.ResetTaskHubRequest(task_hub=task_hub or "", all=everything))


def hubs_table(rows: list[dict]) -> Table:
    table = Table(expand=False)
    table.add_column("Task hub", no_wrap=True)
    for name in STATUSES:
        table.add_column(name.lower(), justify="right")
    table.add_column("entities", justify="right")
    table.add_column("workers", justify="right")
    table.add_column("time (UTC)", no_wrap=True)
    for r in rows:
        counts = [str(r["instances"].get(name, 0)) for name in STATUSES]
        when = r["now"][:19].replace("T", " ") + (" skipping" if r["timeSkipping"] else "")
        table.add_row(r["name"], *counts, str(r["entities"]), str(r["workers"]), when)
    return table


def workers_table(rows: list[dict]) -> Table | Text:
    if not rows:
        return Text("no workers connected", style="dim")
    table = Table(expand=False)
    for col in ("Task hub", "#", "SDK (user agent)", "Worker ID", "Peer", "Connected (UTC)", "In flight", "Delivered"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            r["taskHub"],
            str(r["id"]),
            r["userAgent"],
            r["workerId"],
            r["peer"],
            _short(r["connectedAt"]),
            str(r["inFlight"]),
            str(r["delivered"]),
        )
    return table


# ---------------------------------------------------------------------- time


def _time_dict(reply) -> dict:
    return {
        "taskHub": reply.task_hub,
        "now": _iso(reply.now),
        "offsetSeconds": reply.offset.ToTimedelta().total_seconds(),
        "timeSkipping": reply.time_skipping,
    }


def get_time(stub, task_hub: str | None) -> dict:
    from emulator.control import control_pb2 as cpb

    return _time_dict(stub.control.GetTime(cpb.GetTimeRequest(task_hub=task_hub or "")))


def advance_time(stub, task_hub: str | None, seconds: float) -> dict:
    from datetime import timedelta

    from google.protobuf import duration_pb2

    from emulator.control import control_pb2 as cpb

    duration = duration_pb2.Duration()
    duration.FromTimedelta(timedelta(seconds=seconds))
    return _time_dict(stub.control.AdvanceTime(cpb.AdvanceTimeRequest(task_hub=task_hub or "", duration=duration)))


def set_time_skipping(stub, task_hub: str | None, enabled: bool) -> dict:
    from emulator.control import control_pb2 as cpb

    return _time_dict(
        stub.control.SetTimeSkipping(cpb.SetTimeSkippingRequest(task_hub=task_hub or "", enabled=enabled))
    )
