"""Running one SDK suite's test command as a child process, for the sdk_*_runner modules."""

from __future__ import annotations

import subprocess
from pathlib import Path


def run_suite_command(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float) -> tuple[str, str]:
    """``(stdout, stderr)`` of ``cmd``; past ``timeout`` the process is killed and stderr says so."""
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
        return proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        note = f"\n{cmd[0]} did not finish within {timeout} s\n"
        return _text(exc.stdout), _text(exc.stderr) + note


def _text(data: bytes | str | None) -> str:
    # TimeoutExpired carries bytes even when the run asked for text.
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode(errors="replace")
