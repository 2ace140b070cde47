"""Running one SDK suite's test command as a child process, for the sdk_*_runner modules."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path


def run_suite_command(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float) -> tuple[str, str]:
    """``(stdout, stderr)`` of ``cmd``; past ``timeout`` its whole process group is killed and stderr says so.

    The group matters: ``node --test`` runs each file in a child process, ``go test`` runs the test
    binary, Maven forks Surefire; killing only the command would leave those running.
    """
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        return proc.communicate(timeout=max(timeout, 1))
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        stdout, stderr = proc.communicate()
        return stdout, stderr + f"\n{' '.join(cmd)} did not finish within {timeout:.0f} s\n"
