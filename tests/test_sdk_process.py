"""The SDK runners' process handling: a timeout ends the whole process group, bad exits are failures."""

from __future__ import annotations

import os
import select
import sys

from tests.sdk_process import CommandRun, json_lines, note_bad_exit, run_suite_command


def _ends_within(pid: int, seconds: float) -> bool:
    """Whether the process ends (exits, or is a zombie waiting for init) within ``seconds``: a pidfd
    becomes readable when its process has ended, so this waits on that event, not on a timer."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True  # already gone and reaped
    try:
        return bool(select.select([fd], [], [], seconds)[0])
    finally:
        os.close(fd)


def test_timeout_kills_the_command_and_its_children(tmp_path):
    pidfile = tmp_path / "child.pid"
    script = f"sleep 300 & echo $! > {pidfile}; wait"
    run = run_suite_command(["bash", "-c", script], tmp_path, None, timeout=1)
    assert run.returncode is None and "did not finish within 1 s" in run.stderr
    child = int(pidfile.read_text())
    # The child was SIGKILLed with its group (a sleep of 300 s would otherwise live on): it ends
    # at once, and may linger only as a zombie until init reaps it.
    assert _ends_within(child, 5)


def test_exit_code_and_output_are_reported(tmp_path):
    run = run_suite_command([sys.executable, "-c", "import sys; print('out'); sys.exit(3)"], tmp_path, None, 30)
    assert (run.returncode, run.stdout.strip()) == (3, "out")


def test_a_bad_exit_without_a_failed_scenario_is_a_failure():
    results, outputs = {"a": "pass"}, {}
    note_bad_exit(results, outputs, "node --test x.js", CommandRun(1, "", "load error"))
    assert results == {"a": "pass", "node --test x.js": "fail"}
    assert "exited 1" in outputs["node --test x.js"] and "load error" in outputs["node --test x.js"]
    # A failing scenario already explains a non-zero exit; a clean exit needs no note.
    for results, code in (({"a": "fail"}, 1), ({"a": "pass"}, 0)):
        before = dict(results)
        note_bad_exit(results, {}, "cmd", CommandRun(code, "", ""))
        assert results == before


def test_json_lines_keeps_objects_and_passes_the_rest_on():
    other: list[str] = []
    records = list(json_lines('{"a": 1}\nnot json\n[1, 2]\n{"b": 2}', other))
    assert records == [{"a": 1}, {"b": 2}]
    assert other == ["not json\n", "[1, 2]\n"]
