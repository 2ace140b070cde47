"""The Java Durable Task SDK (com.microsoft:durabletask-client) runs its features against the emulator."""

from __future__ import annotations

import pytest

from emulator import InMemoryOrchestrationBackend
from tests.sdk_java_runner import SDK, run_java_suite


@pytest.mark.sdk
@pytest.mark.timeout(600)
def test_java_sdk_scenarios():
    outputs: dict[str, str] = {}
    with InMemoryOrchestrationBackend(port=0) as backend:
        results = run_java_suite(backend.address, outputs=outputs)
    assert results, f"no Java scenario ran ({SDK}):\n{outputs.get('', '')[-3000:]}"
    failed = sorted(name for name, outcome in results.items() if outcome == "fail")
    details = "\n\n".join(f"--- {name}\n{outputs.get(name, '')[-2000:]}" for name in failed)
    assert not failed, f"{len(failed)} of {len(results)} Java scenarios failed ({SDK}): {failed}\n\n{details}"
    assert sum(outcome == "pass" for outcome in results.values()) >= 47
