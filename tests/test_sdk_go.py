"""The Go Durable Task SDK (github.com/microsoft/durabletask-go) runs its features against the emulator."""

from __future__ import annotations

import shutil

import pytest

from emulator import InMemoryOrchestrationBackend
from tests.sdk_go_runner import SDK, run_go_suite


@pytest.mark.sdk
@pytest.mark.timeout(600)
def test_go_sdk_scenarios():
    assert shutil.which("go"), "Go (go) is not installed: the Go SDK suite needs it"
    outputs: dict[str, str] = {}
    with InMemoryOrchestrationBackend(port=0) as backend:
        results = run_go_suite(backend.address, outputs=outputs)
    assert results, f"no Go scenario ran ({SDK}):\n{outputs.get('', '')[-3000:]}"
    failed = sorted(name for name, outcome in results.items() if outcome == "fail")
    details = "\n\n".join(f"--- {name}\n{outputs.get(name, '')[-2000:]}" for name in failed)
    assert not failed, f"{len(failed)} of {len(results)} Go scenarios failed ({SDK}): {failed}\n\n{details}"
    assert sum(outcome == "pass" for outcome in results.values()) >= 25
