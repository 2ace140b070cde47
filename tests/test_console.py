"""The live console: render() is a pure function of a snapshot; the executable shows it on a terminal."""

from __future__ import annotations

import dataclasses
import logging
import os
import pty
import re
import select
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
from durabletask import entities
from durabletask.client import TaskHubGrpcClient
from durabletask.worker import TaskHubGrpcWorker
from rich.console import Console

from emulator.console import View, render
from emulator.console.live import CPU_SHARE, REFRESH_PER_SECOND, next_view, pause_after, shown
from emulator.console.logpane import LogLine, PaneHandler


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


def _breaks(ctx, _):
    raise ValueError("the card was declined\nsecond line not shown")


def test_a_failed_instance_shows_its_error_message(backend, client, make_worker):
    make_worker(orchestrators=[_orchestrator, _breaks], activities=[_activity])
    client.schedule_new_orchestration(_breaks, instance_id="declined")
    client.wait_for_orchestration_completion("declined", timeout=10)
    text = _text(next_view(backend._server, None), width=200)
    row = next(line for line in text.splitlines() if "declined" in line and "FAILED" in line)
    assert "the card was declined" in row and "second line" not in text.split("History of")[0]


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


def test_a_view_that_would_draw_the_same_picture_is_not_drawn_again(backend, client):
    view = next_view(backend._server, None)
    snap = view.snapshot

    def at(seconds: float, **changes) -> View:
        return dataclasses.replace(
            view, snapshot=dataclasses.replace(snap, taken_at=snap.started_at + seconds), **changes
        )

    assert shown(at(5.1)) == shown(at(5.9))  # the header shows whole seconds
    assert shown(at(5.1)) != shown(at(6.0))
    assert shown(at(5.1)) != shown(at(5.1, log=(LogLine(T0, "INFO", "worker 1 connected"),)))
    client.schedule_new_orchestration("nobody-runs-this", instance_id="changes-the-picture")
    assert shown(next_view(backend._server, None)) != shown(view)


def test_frames_are_spaced_so_drawing_stays_within_its_cpu_share():
    assert pause_after(0.001) == 1 / REFRESH_PER_SECOND
    assert pause_after(0.030) == pytest.approx(0.030 / CPU_SHARE)
    assert 0.030 / pause_after(0.030) <= CPU_SHARE


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


# ---------------------------------------------------------------------- the log pane


def _record(created: float, msg: str, *args, level: int = logging.INFO) -> logging.LogRecord:
    record = logging.LogRecord("emulator.engine", level, __file__, 1, msg, args, None)
    record.created = created
    return record


def _feed(pane: PaneHandler, *records: logging.LogRecord) -> None:
    for record in records:
        pane.handle(record)


T0 = 1_700_000_000.0  # a whole second


def test_pane_shows_a_quiet_seconds_lines_as_they_come():
    pane = PaneHandler(lines=8, per_second=10)
    _feed(
        pane,
        _record(T0 + 0.1, "instance %s started: %s", "a", "hello"),
        _record(T0 + 0.2, "instance %s %s", "a", "COMPLETED"),
    )
    lines = pane.lines(now=T0 + 0.3)  # the second is not over: shown at once
    assert [line.text for line in lines] == ["instance a started: hello", "instance a COMPLETED"]
    assert not any(line.summary for line in lines)


def test_pane_summarises_a_busy_second_and_keeps_every_warning_as_a_line():
    pane = PaneHandler(lines=8, per_second=10)
    records = [_record(T0 + i / 1000, "instance %s started: %s", f"i{i}", "hello") for i in range(412)]
    records += [_record(T0 + 0.5 + i / 1000, "instance %s %s", f"i{i}", "COMPLETED") for i in range(398)]
    records.insert(300, _record(T0 + 0.3, "entity could not start orchestration: %s", "boom", level=logging.WARNING))
    records.append(_record(T0 + 0.95, "unexpected error in %s", "StartInstance", level=logging.ERROR))
    _feed(pane, *records)
    lines = pane.lines(now=T0 + 0.99)
    summaries = [line for line in lines if line.summary]
    assert [line.text for line in summaries] == ["412 instances started, 398 completed"]
    assert [(line.level, line.text) for line in lines if not line.summary] == [
        ("WARNING", "entity could not start orchestration: boom"),
        ("ERROR", "unexpected error in StartInstance"),
    ]
    # the next quiet second is shown line by line again, after the summary of the busy one
    _feed(pane, _record(T0 + 1.2, "worker %d connected (%d connected)", 1, 1))
    lines = pane.lines(now=T0 + 2.5)
    assert lines[-1].text == "worker 1 connected (1 connected)" and not lines[-1].summary
    assert any(line.summary for line in lines)


def test_pane_is_bounded_to_its_last_lines():
    pane = PaneHandler(lines=5, per_second=10)
    _feed(pane, *[_record(T0 + s, "warned %d", s, level=logging.WARNING) for s in range(50)])
    lines = pane.lines(now=T0 + 60)
    assert [line.text for line in lines] == [f"warned {s}" for s in range(45, 50)]


def test_unknown_messages_are_summarised_by_their_template():
    pane = PaneHandler(lines=5, per_second=2)
    _feed(pane, *[_record(T0 + i / 10, "event %r for %s dropped", "e", f"i{i}") for i in range(3)])
    _feed(pane, _record(T0 + 0.5, "worker %d connected (%d connected)", 1, 1))
    assert [line.text for line in pane.lines(now=T0 + 1.5)] == ["1 worker connected, 3× event … for … dropped"]


def test_render_draws_the_log_pane_from_the_view(backend):
    view = next_view(backend._server, None)
    log = (
        LogLine(T0, "INFO", "412 instances started, 398 completed", summary=True),
        LogLine(T0 + 0.5, "WARNING", "entity could not start orchestration: boom"),
    )
    text = _text(View(address=view.address, snapshot=view.snapshot, log=log, log_title="Log (every line in x.log)"))
    pane = text[text.index("Log (every line in x.log)") :]
    assert "info/s" in pane and "412 instances started, 398 completed" in pane
    assert "WARNING" in pane and "entity could not start orchestration: boom" in pane
    assert "no log lines yet" in _text(view)


_SGR = re.compile(r"\x1b\[[0-9;]*m")


class _Terminal:
    """The main side of a pseudo-terminal, read by a thread (so the child never blocks on a full pty)."""

    def __init__(self, fd: int):
        self.fd = fd
        self.seen = b""
        self.changed = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                chunk = b""
            with self.changed:
                self.seen += chunk
                self.changed.notify_all()
            if not chunk:
                return

    def text(self) -> str:
        """Everything drawn so far, colours taken out."""
        with self.changed:
            return _SGR.sub("", self.seen.decode(errors="replace"))

    def wait_for(self, pattern: str, timeout: float) -> re.Match:
        """The first match of ``pattern`` in everything drawn so far, waiting for more output until ``timeout``."""
        with self.changed:
            self.changed.wait_for(lambda: re.search(pattern, _SGR.sub("", self.seen.decode(errors="replace"))), timeout)
        match = re.search(pattern, self.text())
        if match is None:
            raise AssertionError(f"{pattern!r} not seen on the terminal; got {self.text()[-3000:]!r}")
        return match


def _quick(ctx, x):
    return x


@pytest.mark.timeout(90)
def test_console_under_load_redraws_at_its_refresh_rate_and_summarises_the_log(tmp_path):
    """A few hundred instances through the real executable on a pty: the view and the pane are read
    from the screen, the screen is redrawn per refresh (not per log line), and the log file has every line."""
    log_file = tmp_path / "emulator.log"
    main_fd, child_fd = pty.openpty()
    began = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "emulator", "start", "--port", "0", "--log-file", str(log_file)],
        stdin=child_fd,
        stdout=child_fd,
        stderr=child_fd,
        env={**os.environ, "COLUMNS": "140", "LINES": "40", "TERM": "xterm-256color"},
        close_fds=True,
    )
    os.close(child_fd)
    terminal = _Terminal(main_fd)
    worker = None
    try:
        address = terminal.wait_for(r"listening on (\S+:\d+)", 15).group(1)
        terminal.wait_for("no log lines yet|Log \\(", 15)
        worker = TaskHubGrpcWorker(host_address=address)
        worker.add_orchestrator(_quick)
        worker.start()
        client = TaskHubGrpcClient(host_address=address)
        count = 300
        with ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(lambda i: client.schedule_new_orchestration(_quick, input=i), range(count)))
            list(pool.map(lambda iid: client.wait_for_orchestration_completion(iid, timeout=30), ids))
        client.close()
        terminal.wait_for(f"instances {count}:.*completed {count}", 15)  # the live view's header
        terminal.wait_for(r"info/s +\d+ instances started, \d+ completed", 15)  # the pane
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
        elapsed = time.monotonic() - began
    finally:
        if worker is not None:
            worker.stop()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    terminal.reader.join(timeout=10)
    os.close(main_fd)
    screen = terminal.text()
    frames = len(re.findall(r"durabletask-emulator \S+:\d+  up", screen))
    # 600+ INFO lines were logged; the screen was still drawn only once per refresh
    assert 2 <= frames <= elapsed * REFRESH_PER_SECOND + 3, (frames, elapsed)
    lines = log_file.read_text().splitlines()
    assert sum(" started: _quick" in line for line in lines) == count
    assert sum(line.endswith(" COMPLETED") for line in lines) == count
    assert any("worker 1 connected" in line for line in lines)
