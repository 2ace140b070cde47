"""The live loop: take a snapshot a few times a second and hand it to ``render`` (off the request path)."""

from __future__ import annotations

import logging
import threading

from rich.console import Console
from rich.live import Live

from emulator.console.render import View, render

REFRESH_PER_SECOND = 4


def _log_through(console: Console) -> None:
    """Send log records through the live console so they do not tear the screen."""
    from rich.logging import RichHandler

    root = logging.getLogger()
    level = root.level
    root.handlers[:] = [RichHandler(console=console, show_path=False)]
    root.setLevel(level)


def next_view(server, previous: View | None) -> View:
    snap = server.engine.snapshot()
    rate = 0.0
    if previous is not None:
        elapsed = snap.taken_at - previous.snapshot.taken_at
        if elapsed > 0:
            rate = (snap.delivered_total - previous.snapshot.delivered_total) / elapsed
    return View(address=server.address, snapshot=snap, work_items_per_second=rate)


def run_console(server, stop: threading.Event, console: Console | None = None) -> None:
    """Refresh the screen until ``stop`` is set; log records print above the live view."""
    console = console or Console()
    _log_through(console)
    view = next_view(server, None)
    with Live(
        render(view), console=console, refresh_per_second=REFRESH_PER_SECOND, screen=False, transient=False
    ) as live:
        while not stop.wait(1 / REFRESH_PER_SECOND):
            view = next_view(server, view)
            live.update(render(view))
