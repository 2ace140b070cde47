"""The live console: render() is a pure function of a snapshot; the executable shows it on a terminal."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

from durabletask import entities
from durabletask.client import TaskHubGrpcClient
from rich.console import Console

from emulator.console import View, render
from emulator.console.live import next_view


def _text(view: View, width: int = 140) -> str:
    console = Console(record=True, width=width, force_terminal=True, color_system="truecolor")
    console.print(render(view))
    return console.export_text()


def _activity(ctx, x):
    return x * 2


def _orchestrator(ctx, x):
    doubled = yield ctx.call_activity(_activity, input=x)
    return doubled


def _counter(ctx: entities.EntityContext, value):
    ctx.set_state(ctx.get_state(int, 0) + value)


def test_render_shows_header_instances_entities_and_history(backend, client, make_worker):
    make_worker(orchestrators=[_orchestrator], activities=[_activity], entities=[_counter])
    done = client.schedule_new_orchestration(_orchestrator, input=21, instance_id="render-done")
    client.wait_for_orchestration_completion(done, timeout=10)
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    client.schedule_new_orchestration(_orchestrator, instance_id="render-pending", start_at=later)
    client.signal_entity(entities.EntityInstanceId("_counter", "k"), "add", 1)

    view = next_view(backend._server, None)
    text = _text(view)
    assert "durabletask-emulator" in text and backend.address in text
    assert "workers 1" in text
    assert "instances 2" in text and "pending 1" in text and "completed 1" in text
    assert "render-done" in text and "render-pending" in text
    assert "Entities (1)" in text and "@_counter@k" in text
    # the most recently changed instance is the one whose history is shown
    assert "History of render-pending (_orchestrator, PENDING)" in text


def test_render_timeline_of_completed_instance_lists_its_events(backend, client, make_worker):
    make_worker(orchestrators=[_orchestrator], activities=[_activity])
    iid = client.schedule_new_orchestration(_orchestrator, input=4, instance_id="timeline")
    client.wait_for_orchestration_completion(iid, timeout=10)
    text = _text(next_view(backend._server, None))
    panel = text[text.index("History of timeline") :]
    for kind in ("executionStarted", "taskScheduled", "taskCompleted", "executionCompleted"):
        assert kind in panel
    assert "_activity" in panel and "8" in panel


def test_render_is_pure_and_bounded_with_many_instances(backend, client):
    for i in range(300):
        client.schedule_new_orchestration("nobody-runs-this", instance_id=f"many-{i:04d}")
    view = next_view(backend._server, None)
    first, second = _text(view), _text(view)
    assert first == second  # same view, same picture
    assert "pending 300" in first
    assert first.count("many-") <= 20  # bounded rows, not one per instance


def test_rate_comes_from_successive_snapshots(backend, client, make_worker):
    make_worker(orchestrators=[_orchestrator], activities=[_activity])
    before = next_view(backend._server, None)
    for i in range(5):
        client.wait_for_orchestration_completion(client.schedule_new_orchestration(_orchestrator, input=i), timeout=10)
    after = next_view(backend._server, before)
    assert after.work_items_per_second > 0


def _read_until(fd: int, pattern: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    seen = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
            if re.search(pattern, seen.decode(errors="replace")):
                return seen.decode(errors="replace")
    raise AssertionError(f"{pattern!r} not seen on the terminal; got {seen.decode(errors='replace')[-2000:]!r}")


def test_executable_shows_live_console_on_a_terminal():
    """Run the real executable under a pseudo-terminal and read the screen it draws."""
    main_fd, child_fd = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "emulator", "start", "--port", "0"],
        stdin=child_fd,
        stdout=child_fd,
        stderr=child_fd,
        env={**os.environ, "COLUMNS": "140", "LINES": "40", "TERM": "xterm-256color"},
        close_fds=True,
    )
    os.close(child_fd)
    try:
        screen = _read_until(main_fd, r"listening on \S+:\d+", 15)
        address = re.search(r"listening on (\S+:\d+)", screen).group(1)
        _read_until(main_fd, "Recently changed instances", 15)
        client = TaskHubGrpcClient(host_address=address)
        client.schedule_new_orchestration("shown-on-screen", instance_id="pty-instance")
        client.close()
        _read_until(main_fd, "pty-instance", 15)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(main_fd)
