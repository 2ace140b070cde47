"""The emulator as a child process, for test sessions that must not load it in their own process.

A Dapr Workflow app's tests are such a session: the Dapr SDK's generated protocol messages and
Microsoft's (which the emulator serves with) have the same names in protobuf's default pool, so
one process cannot import both. :class:`EmulatorProcess` starts ``python -m emulator start`` on
free ports and reads the addresses from its banner; this module imports nothing of the protocol::

    with EmulatorProcess(dapr=True) as emulator:
        runtime = WorkflowRuntime(host="127.0.0.1", port=str(emulator.dapr_port))

The pytest plugin's ``durabletask_dapr_emulator`` fixture is one of these for the whole session.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

_BANNER = re.compile(r"listening on (?P<address>\S+):(?P<port>\d+)")
_DAPR = re.compile(r"Dapr dialect on port (?P<port>\d+)")


class EmulatorProcess:
    """``python -m emulator start`` on free ports (``dapr=True``: also the Dapr dialect's port).

    ``args`` are more ``start`` options (``["--db", path]``, ``["--time-skipping"]``). The child
    writes its log to this process's standard error.
    """

    def __init__(self, *args: str, dapr: bool = False, startup_timeout: float = 30.0) -> None:
        self.args = ["--port", "0", *(["--dapr-port", "0"] if dapr else []), *args]
        self.startup_timeout = startup_timeout
        self.banner = ""
        self.port: int | None = None
        self.dapr_port: int | None = None
        self._proc: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        """``127.0.0.1:<port>`` of the Microsoft dialect (every Durable Task SDK)."""
        return f"127.0.0.1:{self.port}"

    @property
    def dapr_address(self) -> str | None:
        """``127.0.0.1:<port>`` of the Dapr dialect, when started with ``dapr=True``."""
        return None if self.dapr_port is None else f"127.0.0.1:{self.dapr_port}"

    def start(self) -> EmulatorProcess:
        cmd = [sys.executable, "-m", "emulator", "start", "--no-console", "--no-dashboard", *self.args]
        self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=os.environ.copy())
        try:
            # The banner is the first line, printed once every port is bound; EOF if it died.
            line = _readline(self._proc, self.startup_timeout)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"`{' '.join(cmd)}` printed no banner within {self.startup_timeout:g}s") from None
        match = _BANNER.search(line)
        if not match:
            code = self._proc.wait()
            raise RuntimeError(f"`{' '.join(cmd)}` exited {code} before serving (its log is above): {line!r}")
        self.banner = line.strip()
        self.port = int(match["port"])
        dapr = _DAPR.search(line)
        self.dapr_port = int(dapr["port"]) if dapr else None
        return self

    def stop(self) -> None:
        """Stop the child gracefully (SIGTERM), killing it if it has not ended within 10 s."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        finally:
            if proc.stdout:
                proc.stdout.close()

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _readline(proc: subprocess.Popen, timeout: float) -> str:
    import selectors

    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise TimeoutError
    return proc.stdout.readline()
