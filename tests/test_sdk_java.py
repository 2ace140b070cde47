"""The Java Durable Task SDK (com.microsoft:durabletask-client) runs its features against the emulator."""

from __future__ import annotations

import pytest

from emulator import InMemoryOrchestrationBackend
from tests.sdk_java_runner import SDK, run_java_suite


@pytest.mark.sdk
@pytest.mark.timeout(600)
def test_java_sdk_scenarios():
    with InMemoryOrchestrationBackend(port=0) as backend:
        results, output = run_java_suite(backend.port)
    assert results, f"no scenario ran ({SDK}):\n{output[-3000:]}"
    failed = {name: outcome for name, outcome in results.items() if outcome != "pass"}
    assert not failed, f"{len(failed)} of {len(results)} Java scenarios failed: {failed}\n{output[-3000:]}"
    assert len(results) >= 20
