"""Rendering a snapshot of the engine as rich renderables. Pure: same view in, same picture out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from google.protobuf import json_format
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from emulator.console.logpane import LogLine
from emulator.engine.queries import EngineSnapshot

STATUS_STYLE = {
    "RUNNING": "bold blue",
    "PENDING": "yellow",
    "SUSPENDED": "magenta",
    "COMPLETED": "green",
    "FAILED": "bold red",
    "TERMINATED": "red",
    "CANCELED": "red",
    "CONTINUED_AS_NEW": "cyan",
}
LEVEL_STYLE = {"DEBUG": "dim", "WARNING": "yellow", "ERROR": "bold red", "CRITICAL": "bold red"}
STATUS_ORDER = ["PENDING", "RUNNING", "SUSPENDED", "COMPLETED", "FAILED", "TERMINATED"]
MAX_TIMELINE = 20
PAYLOAD_CHARS = 48


@dataclass(frozen=True)
class View:
    """Everything the console shows: the engine's snapshot plus what the live loop measured."""

    address: str
    snapshot: EngineSnapshot
    work_items_per_second: float = 0.0
    log: tuple[LogLine, ...] = ()  # the log pane's last lines, from the live loop's PaneHandler
    log_title: str = "Log"
    dashboard_url: str | None = None


def _clock(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%H:%M:%S.%f")[:-3]


def _uptime(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _status(name: str) -> Text:
    return Text(name, style=STATUS_STYLE.get(name, ""))


def header(view: View) -> Text:
    snap = view.snapshot
    line = Text()
    line.append("durabletask-emulator ", style="bold")
    line.append(f"{view.address}  ")
    if view.dashboard_url:
        line.append(f"dashboard {view.dashboard_url}  ", style="cyan")
    line.append(f"up {_uptime(snap.taken_at - snap.started_at)}  ")
    if len(snap.hubs) > 1:
        line.append(f"task hubs {len(snap.hubs)}  ")
    line.append(f"workers {snap.workers}  ")
    line.append(f"{view.work_items_per_second:.1f} work items/s  ")
    for c in snap.clocks:
        if c.skipping or c.offset > 0:
            when = datetime.fromtimestamp(c.now, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
            label = f"{c.hub} " if len(snap.clocks) > 1 else ""
            line.append(f"{label}time {when}{' skipping' if c.skipping else ''}  ", style="magenta")
    if snap.expired_leases:
        line.append(f"leases expired {snap.expired_leases}  ", style="bold yellow")
    if snap.faults:
        injected = ", ".join(f"{kind} {n}" for kind, n in sorted(snap.faults.items()))
        line.append(f"faults injected: {injected}  ", style="yellow")
    line.append(f"instances {sum(snap.counts.values())}:")
    for name in STATUS_ORDER:
        if snap.counts.get(name):
            line.append(" ")
            line.append(f"{name.lower()} {snap.counts[name]}", style=STATUS_STYLE[name])
    return line


def _name(row) -> Text:
    """The orchestration's name; a Dapr Workflow client's instances are marked "Dapr"."""
    name = Text(row.name)
    if row.dialect == "dapr":
        name.append(" Dapr", style="magenta")
    return name


def instances_table(view: View) -> Table:
    table = Table(title="Recently changed instances", title_justify="left", expand=True)
    many_hubs = len(view.snapshot.hubs) > 1
    if many_hubs:
        table.add_column("Task hub", overflow="ellipsis", no_wrap=True, ratio=1)
    table.add_column("Instance ID", overflow="ellipsis", no_wrap=True, ratio=3)
    table.add_column("Name", overflow="ellipsis", no_wrap=True, ratio=2)
    table.add_column("Status", no_wrap=True)
    table.add_column("Created", no_wrap=True)
    table.add_column("Updated", no_wrap=True)
    table.add_column("Events", justify="right")
    errors = any(row.error for row in view.snapshot.recent)
    if errors:
        table.add_column("Error", overflow="ellipsis", no_wrap=True, ratio=3, style="red")
    for row in view.snapshot.recent:
        table.add_row(
            *((row.hub,) if many_hubs else ()),
            row.instance_id,
            _name(row),
            _status(row.status),
            _clock(row.created),
            _clock(row.updated),
            str(row.history_length),
            *((row.error or "",) if errors else ()),
        )
    if not view.snapshot.recent:
        blanks = [""] * (len(table.columns) - 1)
        table.add_row(Text("no instances yet: start an orchestration from any SDK", style="dim"), *blanks)
    return table


def workers_table(view: View) -> Table:
    """Connected workers: which hub, which SDK (user agent), which process (worker ID)."""
    rows = view.snapshot.worker_rows
    table = Table(title=f"Workers ({len(rows)})", title_justify="left", expand=True)
    table.add_column("Task hub", overflow="ellipsis", no_wrap=True, ratio=1)
    table.add_column("SDK", overflow="ellipsis", no_wrap=True, ratio=2)
    table.add_column("Worker ID", overflow="ellipsis", no_wrap=True, ratio=3)
    table.add_column("In flight", justify="right")
    table.add_column("Delivered", justify="right")
    for w in rows:
        table.add_row(w.hub, w.user_agent or "?", w.worker_id or w.peer, str(w.in_flight), str(w.delivered))
    return table


def entities_table(view: View) -> Table:
    snap = view.snapshot
    table = Table(title=f"Entities ({snap.entity_count})", title_justify="left", expand=True)
    table.add_column("Entity ID", overflow="ellipsis", no_wrap=True, ratio=3)
    table.add_column("Locked by", overflow="ellipsis", no_wrap=True, ratio=2)
    table.add_column("Backlog", justify="right")
    table.add_column("Updated", no_wrap=True)
    for row in snap.entities:
        table.add_row(row.instance_id, row.locked_by or "", str(row.backlog), _clock(row.modified))
    return table


def describe_event(event) -> tuple[str, str, str]:
    """(event type, task name or ID, short payload) of a history event."""
    kind = event.WhichOneof("eventType") or "unknown"
    body = getattr(event, kind) if kind != "unknown" else None
    name = ""
    for field in ("name", "instanceId", "operation"):
        if body is not None and field in body.DESCRIPTOR.fields_by_name and getattr(body, field):
            name = getattr(body, field)
            break
    if event.eventId >= 0:
        name = f"#{event.eventId} {name}".strip()
    for field in ("taskScheduledId", "timerId"):
        if body is not None and field in body.DESCRIPTOR.fields_by_name:
            name = f"→#{getattr(body, field)} {name}".strip()
    payload = ""
    if body is not None:
        for field in ("input", "result", "output", "failureDetails", "fireAt"):
            if field in body.DESCRIPTOR.fields_by_name and body.HasField(field):
                value = getattr(body, field)
                if field == "failureDetails":
                    payload = f"{value.errorType}: {value.errorMessage}"
                elif field == "fireAt":
                    payload = f"fires {_clock(value.seconds + value.nanos / 1e9)}"
                else:
                    payload = value.value if hasattr(value, "value") else json_format.MessageToJson(value)
                break
    if len(payload) > PAYLOAD_CHARS:
        payload = payload[: PAYLOAD_CHARS - 1] + "…"
    return kind, name, payload


def timeline(view: View) -> Panel:
    snap = view.snapshot
    table = Table(expand=True, show_edge=False)
    table.add_column("Time", no_wrap=True)
    table.add_column("Event", no_wrap=True)
    table.add_column("Task", overflow="ellipsis", no_wrap=True)
    table.add_column("Payload", overflow="ellipsis", no_wrap=True, ratio=1)
    events = list(snap.focus_history)
    hidden = max(0, len(events) - MAX_TIMELINE)
    if hidden:
        table.add_row("", Text(f"… {hidden} earlier events", style="dim"), "", "")
    for event in events[hidden:]:
        kind, name, payload = describe_event(event)
        t = event.timestamp.seconds + event.timestamp.nanos / 1e9
        table.add_row(_clock(t), kind, name, payload)
    title = "History"
    if snap.focus is not None:
        title = f"History of {snap.focus.instance_id} ({snap.focus.name}, {snap.focus.status})"
    return Panel(table, title=title, title_align="left")


def log_pane(view: View) -> Panel:
    """The last log lines, one row each; a busy second is one summary row ("info/s")."""
    table = Table(expand=True, show_edge=False, show_header=False, box=None, padding=(0, 1, 0, 0))
    table.add_column("Time", no_wrap=True)
    table.add_column("Level", no_wrap=True)
    table.add_column("Message", overflow="ellipsis", no_wrap=True, ratio=1)
    for line in view.log:
        style = "cyan" if line.summary else LEVEL_STYLE.get(line.level, "")
        level = "info/s" if line.summary else line.level
        when = f"{_clock(line.created)[:-4]:<12}" if line.summary else _clock(line.created)
        table.add_row(when, Text(f"{level:<7}", style=style), Text(line.text, style=style))
    if not view.log:
        table.add_row("", "", Text("no log lines yet", style="dim"))
    return Panel(table, title=view.log_title, title_align="left")


def render(view: View) -> Group:
    """The whole screen for one view."""
    parts = [header(view), instances_table(view)]
    if view.snapshot.worker_rows:
        parts.append(workers_table(view))
    if view.snapshot.entity_count:
        parts.append(entities_table(view))
    parts.append(log_pane(view))
    parts.append(timeline(view))
    return Group(*parts)
