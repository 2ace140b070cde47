"""pytest plugin (registered through the ``pytest11`` entry point).

Fixtures:

* ``durabletask_emulator`` -- a started :class:`~emulator.InMemoryOrchestrationBackend`
  on a free port, stopped after the test.
* ``durabletask_address`` -- the ``host:port`` string that SDK clients and workers use
  to reach it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from emulator.testing import InMemoryOrchestrationBackend


@pytest.fixture
def durabletask_emulator() -> Iterator[InMemoryOrchestrationBackend]:
    """A started in-memory backend on a free port; stopped when the test ends."""
    backend = InMemoryOrchestrationBackend(port=0)
    backend.start()
    try:
        yield backend
    finally:
        backend.stop()


@pytest.fixture
def durabletask_address(durabletask_emulator: InMemoryOrchestrationBackend) -> str:
    """``localhost:<port>`` of the test's backend."""
    return durabletask_emulator.address
