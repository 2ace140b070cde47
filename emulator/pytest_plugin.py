"""pytest plugin (registered through the ``pytest11`` entry point).

Fixtures:

* ``durabletask_emulator`` -- a started :class:`~emulator.InMemoryOrchestrationBackend`
  on a free port, stopped after the test.
* ``durabletask_address`` -- the ``host:port`` string that SDK clients and workers use
  to reach it.
* ``durabletask_shared_emulator`` -- one backend for the whole session (under pytest-xdist,
  one per worker process).
* ``durabletask_hub`` -- a fresh task hub of its own for each test on the shared backend
  (a :class:`~emulator.testing.TaskHubHandle`: ``.client()``, ``.worker(...)``, ``.metadata``,
  ``.name``, ``.address``), reset and forgotten when the test ends. Tests are isolated
  without a server start each. Mark a test ``@pytest.mark.time_skipping`` to give its hub time
  skipping (see README "Testing timers").
* ``durabletask_dapr_emulator`` -- one emulator *process* for the whole session, serving the Dapr
  dialect too (an :class:`~emulator.process.EmulatorProcess`: ``.dapr_address``, ``.dapr_port``,
  ``.address``). For Dapr Workflow apps, whose SDK cannot share a process with the emulator's
  protocol messages (see README "Dapr Workflow").
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from emulator.testing import InMemoryOrchestrationBackend, TaskHubHandle

# Nothing of the emulator is imported when pytest loads this plugin, only when a fixture is used:
# its generated protocol messages would otherwise be in protobuf's default pool in every pytest
# session, where they clash with the Dapr SDK's copy of the same names ("duplicate symbol").


def _started_backend() -> Iterator[InMemoryOrchestrationBackend]:
    from emulator.testing import InMemoryOrchestrationBackend

    backend = InMemoryOrchestrationBackend(port=0)
    backend.start()
    try:
        yield backend
    finally:
        backend.stop()


@pytest.fixture
def durabletask_emulator() -> Iterator[InMemoryOrchestrationBackend]:
    """A started in-memory backend on a free port; stopped when the test ends."""
    yield from _started_backend()


@pytest.fixture
def durabletask_address(durabletask_emulator: InMemoryOrchestrationBackend) -> str:
    """``localhost:<port>`` of the test's backend."""
    return durabletask_emulator.address


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers", "time_skipping: the durabletask_hub fixture's hub jumps to its next timer while the test waits"
    )


@pytest.fixture(scope="session")
def durabletask_shared_emulator() -> Iterator[InMemoryOrchestrationBackend]:
    """One started in-memory backend on a free port for the whole test session."""
    yield from _started_backend()


@pytest.fixture(scope="session")
def durabletask_dapr_emulator():
    """``durabletask-emulator start --dapr-port 0`` as a child process, for the whole session."""
    from emulator.process import EmulatorProcess

    with EmulatorProcess(dapr=True) as emulator:
        yield emulator


@pytest.fixture
def durabletask_hub(request, durabletask_shared_emulator: InMemoryOrchestrationBackend) -> Iterator[TaskHubHandle]:
    """A task hub of the test's own on the session's shared backend (time skipping with the marker)."""
    skipping = request.node.get_closest_marker("time_skipping") is not None
    hub = durabletask_shared_emulator.task_hub(time_skipping=skipping)
    try:
        yield hub
    finally:
        hub.close()
