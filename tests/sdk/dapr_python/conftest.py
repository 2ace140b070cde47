"""A Dapr Workflow app's test session: dapr-ext-workflow against the emulator's Dapr port.

This directory is its own pytest session (tests/sdk_dapr_python_runner.py runs it; the main suite
does not collect it): the Dapr SDK cannot share a process with the emulator's protocol messages.
The emulator's pytest plugin is loaded here as in any session of a project that installs it; it
must not break ``import dapr.ext.workflow``.

The address comes from ``DTEMU_DAPR_ADDRESS`` (the runner's emulator, on the store it chose);
without it, the plugin's ``durabletask_dapr_emulator`` fixture starts an emulator process.
"""

from __future__ import annotations

import logging
import os
import uuid

import pytest
import workflows
from dapr.ext.workflow import DaprWorkflowClient, WorkflowRuntime

logging.getLogger("dapr").setLevel(logging.WARNING)


@pytest.fixture(scope="session")
def dapr_address(request) -> str:
    address = os.environ.get("DTEMU_DAPR_ADDRESS")
    if address:
        return address
    return request.getfixturevalue("durabletask_dapr_emulator").dapr_address


def _host_port(address: str) -> tuple[str, str]:
    host, port = address.rsplit(":", 1)
    return host, port


@pytest.fixture(scope="session")
def runtime(dapr_address):
    """One worker for the session with every workflow and activity of workflows.py registered."""
    rt = WorkflowRuntime(*_host_port(dapr_address))
    for fn in workflows.WORKFLOWS:
        rt.register_workflow(fn)
    for fn in workflows.ACTIVITIES:
        rt.register_activity(fn)
    rt.start()
    assert rt.wait_for_worker_ready(timeout=30), "the Dapr worker did not connect to the emulator"
    yield rt
    rt.shutdown()


@pytest.fixture
def client(runtime, dapr_address):
    c = DaprWorkflowClient(*_host_port(dapr_address))
    yield c
    c.close()


@pytest.fixture
def iid(request) -> str:
    """An instance ID of the test's own."""
    return f"{request.node.name[:40]}-{uuid.uuid4().hex[:8]}"
