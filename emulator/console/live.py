"""The live loop: take a snapshot a few times a second and hand it to ``render`` (off the request path)."""

from __future__ import annotations

import logging
import threading
import time

from rich.console import Console
from rich.live import Live

from emulator.console.logpane import PaneHandler
from emulator.console.render import View, render

REFRESH_PER_SECOND = 4


def _on_terminal(handler: logging.Handler) -> bool:
    stream = getattr(handler, "stream", None)
    try:
        return isinstance(handler, logging.StreamHandler) and bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def _log_to_pane(pane: PaneHandler) -> tuple[list[logging.Handler], str]:
    """Put ``pane`` in place of the handlers that write to the terminal; returns the old handlers and a title.

    Handlers that write elsewhere (``--log-file``, a redirected stderr) stay: they get every record.
    """
    root = logging.getLogger()
    previous = list(root.handlers)
    kept = [h for h in previous if not _on_terminal(h)]
    root.handlers[:] = [*kept, pane]
    files = [h.baseFilename for h in kept if isinstance(h, logging.FileHandler)]
    if files:
        title = f"Log (last lines; every line is in {', '.join(files)})"
    elif kept:
        title = "Log (last lines; every line goes to stderr)"
    else:
        title = "Log (last lines; --log-file PATH keeps every line)"
    return previous, title


def next_view(server, previous: View | None, pane: PaneHandler | None = None, log_title: str = "Log") -> View:
    snap = server.engine.snapshot()
    rate = 0.0
    if previous is not None:
        elapsed = snap.taken_at - previous.snapshot.taken_at
        if elapsed > 0:
            rate = (snap.delivered_total - previous.snapshot.delivered_total) / elapsed
    log = pane.lines(time.time()) if pane is not None else ()
    return View(address=server.address, snapshot=snap, work_items_per_second=rate, log=log, log_title=log_title)


def run_console(server, stop: threading.Event, console: Console | None = None) -> None:
    """Refresh the screen until ``stop`` is set; log records go to the log pane, drawn with the view.

    One redraw per refresh, however many records arrive: the handler only buffers them.
    """
    console = console or Console()
    pane = PaneHandler()
    previous_handlers, title = _log_to_pane(pane)
    try:
        view = next_view(server, None, pane, title)
        with Live(render(view), console=console, auto_refresh=False, screen=False, transient=False) as live:
            while not stop.wait(1 / REFRESH_PER_SECOND):
                view = next_view(server, view, pane, title)
                live.update(render(view), refresh=True)
    finally:
        logging.getLogger().handlers[:] = previous_handlers
