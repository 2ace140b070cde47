"""The log pane's data: a logging handler that only buffers, and the lines the live loop puts in the view.

The handler is on the hot path (the engine logs an INFO line per instance start and end while it
holds its lock), so ``emit`` does no formatting, no I/O and no rich call: it files the record in a
bounded buffer under the handler's lock. The live loop asks for :meth:`PaneHandler.lines` at its
refresh rate and the pane is drawn from those plain values.

What the pane shows: warnings and errors always, each as a line. Lines below WARNING are shown
one by one while a second has at most ``per_second`` of them; a busier second is shown as one
summary line instead ("412 instances started, 398 completed"), so the screen stays readable
under load. The full log is never on the screen: it goes to ``--log-file`` or to a redirected stderr.
"""

from __future__ import annotations

import logging
import re
from collections import Counter, deque
from dataclasses import dataclass

PANE_LINES = 8  # lines kept for the pane
PER_SECOND = 10  # more lines than this in one second become a summary

# Engine messages whose kind reads well in a summary. Any other message is counted by its template.
_KINDS = {
    "instance %s started: %s": "instances started",
    "worker %d connected (%d connected)": "workers connected",
    "worker %d disconnected; %d unfinished work item(s) queued again": "workers disconnected",
}
_ENDED = ("instance %s %s", "instance %s %s: %s: %s")  # second argument: the status it ended in
_ORDER = [
    "instances started",
    "completed",
    "failed",
    "terminated",
    "continued_as_new",
    "workers connected",
    "workers disconnected",
]
_PLACEHOLDER = re.compile(r"%[-#0 +]*\d*(?:\.\d+)?[a-zA-Z]")


@dataclass(frozen=True)
class LogLine:
    """One line of the pane: a log record, or the summary of one busy second (``summary=True``)."""

    created: float
    level: str
    text: str
    summary: bool = False


def kind(record: logging.LogRecord) -> str:
    """What a record counts as in a summary: "instances started", "completed", ... or its template."""
    msg = record.msg if isinstance(record.msg, str) else str(record.msg)
    known = _KINDS.get(msg)
    if known is not None:
        return known
    if msg in _ENDED and isinstance(record.args, tuple) and len(record.args) >= 2:
        return str(record.args[1]).lower()
    return _PLACEHOLDER.sub("…", msg)


def _counted(n: int, label: str) -> str:
    if n == 1 and label.split(" ", 1)[0] in ("instances", "workers"):
        label = label.replace("s ", " ", 1)
    return f"{n} {label}"


def summarise(counts: Counter) -> str:
    """``"412 instances started, 398 completed, 3× event … dropped"``: known kinds first, then templates."""
    known = [_counted(counts[k], k) for k in _ORDER if counts.get(k)]
    rest = [f"{counts[k]}× {k}" for k in counts if k not in _ORDER]
    return ", ".join(known + rest)


def _text(record: logging.LogRecord) -> str:
    try:
        text = record.getMessage()
    except Exception:  # a bad format string must not break the console
        text = str(record.msg)
    if record.exc_info and record.exc_info[1] is not None:
        error = record.exc_info[1]
        text = f"{text}: {type(error).__name__}: {error}"
    return text


class _Second:
    """The lines below WARNING of one wall-clock second: the first few kept, all of them counted."""

    __slots__ = ("second", "records", "counts", "total")

    def __init__(self, second: int):
        self.second = second
        self.records: list[logging.LogRecord] = []
        self.counts: Counter = Counter()
        self.total = 0

    def add(self, record: logging.LogRecord, keep: int) -> None:
        self.total += 1
        self.counts[kind(record)] += 1
        if len(self.records) < keep:
            self.records.append(record)

    def entries(self, keep: int) -> list:
        """Records if the second was quiet, else one ``(second, counts)`` summary."""
        if self.total <= keep:
            return list(self.records)
        return [(float(self.second), Counter(self.counts))]


class PaneHandler(logging.Handler):
    """Buffers records for the log pane; cheap enough to sit under the engine's lock."""

    def __init__(self, lines: int = PANE_LINES, per_second: int = PER_SECOND, level: int = logging.NOTSET):
        super().__init__(level)
        self.pane_lines = lines
        self.per_second = per_second
        # finished entries, oldest first: a warning record, a quiet second's record, or a summary
        self._entries: deque = deque(maxlen=max(lines, 1) * 4)
        self._open: _Second | None = None

    def emit(self, record: logging.LogRecord) -> None:  # called with self.lock held (Handler.handle)
        if record.levelno >= logging.WARNING:
            self._entries.append(record)
            return
        second = int(record.created)
        current = self._open
        if current is None or current.second != second:
            self._close()
            current = self._open = _Second(second)
        current.add(record, self.per_second)

    def _close(self) -> None:
        if self._open is not None:
            self._entries.extend(self._open.entries(self.per_second))
            self._open = None

    def lines(self, now: float) -> tuple[LogLine, ...]:
        """The pane's last lines at wall-clock time ``now``, oldest first."""
        with self.lock:
            if self._open is not None and self._open.second < int(now):
                self._close()
            entries = list(self._entries)
            if self._open is not None:
                entries += self._open.entries(self.per_second)
        entries.sort(key=lambda e: e.created if isinstance(e, logging.LogRecord) else e[0])
        return tuple(_line(e) for e in entries[-self.pane_lines :]) if self.pane_lines else ()


def _line(entry) -> LogLine:
    if isinstance(entry, logging.LogRecord):
        return LogLine(entry.created, entry.levelname, _text(entry))
    second, counts = entry
    return LogLine(second, "INFO", summarise(counts), summary=True)
