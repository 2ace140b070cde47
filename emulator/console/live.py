"""The live loop: take a snapshot a few times a second and hand it to ``render`` (off the request path)."""

from __future__ import annotations

import logging
import threading
import time

from rich.console import Console
from rich.live import Live

from emulator.console.logpane import PaneHandler
from emulator.console.render import View, render

REFRESH_PER_SECOND = 4  # at most; fewer when frames are dear (CPU_SHARE) or the picture did not change
CPU_SHARE = 0.02  # of one core, the most the console spends drawing: rich needs 10-30 ms for a frame


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
    return View(
        address=server.address,
        snapshot=snap,
        work_items_per_second=rate,
        log=log,
        log_title=log_title,
        dashboard_url=getattr(server, "dashboard_url", None),
    )


def shown(view: View) -> tuple:
    """What a view puts on the screen: the clock only to the second it is shown with, the rate to 0.1."""
    snap = view.snapshot
    fields = {**snap.__dict__, "taken_at": int(snap.taken_at - snap.started_at), "started_at": None}
    return (view.address, view.dashboard_url, round(view.work_items_per_second, 1), view.log, view.log_title, fields)


def pause_after(frame_cpu_seconds: float) -> float:
    """Seconds to wait before the next frame: the refresh interval, or longer when frames are dear."""
    return max(1 / REFRESH_PER_SECOND, frame_cpu_seconds / CPU_SHARE)


def run_console(server, stop: threading.Event, console: Console | None = None) -> None:
    """Refresh the screen until ``stop`` is set; log records go to the log pane, drawn with the view.

    At most one redraw per refresh, however many records arrive (the handler only buffers them),
    none when the picture would not change, and under load no more often than keeps the console
    within ``CPU_SHARE`` of a core: the emulator's work comes first.
    """
    console = console or Console()
    pane = PaneHandler()
    previous_handlers, title = _log_to_pane(pane)
    try:
        view = next_view(server, None, pane, title)
        drawn = shown(view)
        wait = 1 / REFRESH_PER_SECOND
        with Live(render(view), console=console, auto_refresh=False, screen=False, transient=False) as live:
            while not stop.wait(wait):
                began = time.thread_time()
                view = next_view(server, view, pane, title)
                if shown(view) != drawn:
                    drawn = shown(view)
                    live.update(render(view), refresh=True)
                wait = pause_after(time.thread_time() - began)
    finally:
        logging.getLogger().handlers[:] = previous_handlers
