"""Shared fixtures: a real emulator on a free port, the real SDK client and workers."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator

import pytest
from durabletask.client import TaskHubGrpcClient
from durabletask.worker import TaskHubGrpcWorker

from emulator import InMemoryOrchestrationBackend
from emulator.testing import register

# tests/sdk/dapr_python is a Dapr app's pytest session of its own (tests/sdk_dapr_python_runner.py):
# the Dapr SDK cannot be imported here, where the emulator's protocol messages are.
collect_ignore = ["sdk"]

# Emulators the tests start as processes serve no dashboard unless a test asks for one: the
# default port (8082) is one per machine, and a developer's own emulator may be holding it.
os.environ.setdefault("DURABLETASK_EMULATOR_DASHBOARD", "false")


@pytest.fixture(params=["memory", "sqlite"])
def backend(request, tmp_path) -> Iterator[InMemoryOrchestrationBackend]:
    """A started backend on a free port, once per store: every behaviour test runs against both."""
    db_path = str(tmp_path / "emulator.db") if request.param == "sqlite" else None
    b = InMemoryOrchestrationBackend(port=0, db_path=db_path)
    b.start()
    yield b
    b.stop()


@pytest.fixture
def client(backend: InMemoryOrchestrationBackend) -> Iterator[TaskHubGrpcClient]:
    c = TaskHubGrpcClient(host_address=backend.address)
    yield c
    c.close()


WorkerFactory = Callable[..., TaskHubGrpcWorker]


@pytest.fixture
def make_worker(backend: InMemoryOrchestrationBackend) -> Iterator[WorkerFactory]:
    """Start a real SDK worker with the given orchestrators/activities/entities.

    ``make_worker(orchestrators=[...], activities=[...], entities=[...], address=None, **kwargs)``
    returns the started worker; every worker is stopped when the test ends.
    """
    workers: list[TaskHubGrpcWorker] = []

    def factory(orchestrators=(), activities=(), entities=(), address=None, **kwargs):
        w = register(
            TaskHubGrpcWorker(host_address=address or backend.address, **kwargs), orchestrators, activities, entities
        )
        w.start()
        workers.append(w)
        return w

    yield factory
    for w in workers:
        w.stop()


@pytest.fixture(autouse=True)
def _quiet_sdk_logs(caplog):
    caplog.set_level(logging.WARNING, logger="durabletask")
