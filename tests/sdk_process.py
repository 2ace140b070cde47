"""Running one SDK suite's commands as child processes, for the sdk_*_runner modules."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass
class CommandRun:
    returncode: int | None  # None: killed at its timeout
    stdout: str
    stderr: str


def run_suite_command(cmd: list[str], cwd: Path, env: dict[str, str] | None, timeout: float) -> CommandRun:
    """Run ``cmd`` in its own process group; past ``timeout`` (or on any interruption) kill the group.

    The group matters: ``node --test`` runs each file in a child process, ``go test`` runs the test
    binary, Maven forks Surefire; killing only the command would leave those running against an
    emulator that is gone. The group is also killed after a normal exit, for strays.

    Every suite learns where the emulator's control ``.proto`` is from ``DTEMU_CONTROL_PROTO``.
    """
    from emulator.control import PROTO_PATH

    env = {**(os.environ if env is None else env), "DTEMU_CONTROL_PROTO": str(PROTO_PATH)}
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        stdout, stderr = proc.communicate(timeout=max(timeout, 1))
        return CommandRun(proc.returncode, stdout, stderr)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        stdout, stderr = proc.communicate()
        return CommandRun(None, stdout, stderr + f"\n{' '.join(cmd)} did not finish within {timeout:.0f} s\n")
    except BaseException:  # pytest-timeout, Ctrl-C: the children must not outlive us
        _kill_group(proc)
        proc.wait()
        raise
    finally:
        _kill_group(proc)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def note_bad_exit(results: dict[str, str], outputs: dict[str, str], label: str, run: CommandRun) -> None:
    """Record a command that failed although none of its scenarios did (a load error, a crash, a hook).

    ``label`` names no feature, so the suite's test fails on it and the matrix lists it.
    """
    if run.returncode == 0 or any(outcome == "fail" for outcome in results.values()):
        return
    results[label] = "fail"
    how = "was killed at its timeout" if run.returncode is None else f"exited {run.returncode}"
    outputs[label] = f"{label} {how} with no failed scenario:\n{run.stdout[-2000:]}\n{run.stderr[-3000:]}"


def json_lines(stdout: str, other: list[str]) -> Iterator[dict]:
    """The JSON objects in ``stdout``, one a line (``go test -json``, reporter.js); other lines go to ``other``."""
    for line in stdout.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if isinstance(record, dict):
            yield record
        else:
            other.append(line + "\n")


@contextmanager
def exclusive(folder: Path) -> Iterator[None]:
    """Hold ``folder``'s run lock: two runs sharing one build folder (Maven's target/, node_modules)
    take turns instead of reading each other's reports (``scripts/sdk-matrix`` beside ``scripts/test``)."""
    with open(folder / ".run.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
