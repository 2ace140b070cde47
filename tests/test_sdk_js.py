"""The JavaScript Durable Task SDK (@microsoft/durabletask-js) runs its features against the emulator."""

from __future__ import annotations

import shutil

import pytest

from emulator import InMemoryOrchestrationBackend
from tests.sdk_js_runner import SDK, run_js_suite


@pytest.mark.sdk
@pytest.mark.timeout(600)
def test_js_sdk_scenarios():
    assert shutil.which("node") and shutil.which("npm"), "Node.js (node, npm) is not installed: the JS suite needs it"
    outputs: dict[str, str] = {}
    with InMemoryOrchestrationBackend(port=0) as backend:
        results = run_js_suite(backend.address, outputs=outputs)
    assert results, f"no JavaScript scenario ran ({SDK}):\n{outputs.get('', '')[-3000:]}"
    failed = sorted(name for name, outcome in results.items() if outcome == "fail")
    details = "\n\n".join(f"--- {name}\n{outputs.get(name, '')[-2000:]}" for name in failed)
    assert not failed, f"{len(failed)} of {len(results)} JavaScript scenarios failed ({SDK}): {failed}\n\n{details}"
    assert sum(outcome == "pass" for outcome in results.values()) >= 60
