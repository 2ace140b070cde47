"""The JavaScript, Java and Go Durable Task SDKs run their features against the emulator.

Each suite is a real client and worker of that SDK (tests/sdk/<language>) against an emulator on a
free port; ``scripts/sdk-matrix`` runs the same suites and prints the SDK × feature matrix.
"""

from __future__ import annotations

import pytest

from tests.sdk_matrix import Suite, all_suites, build_matrix, missing_scenarios, run_suite

# Today's passes: a scenario that starts skipping itself as "not supported by SDK" must be noticed.
MIN_PASSED = {"js": 79, "java": 57, "go": 43, "dapr-python": 21, "dapr-js": 47, "dapr-go": 44}


@pytest.mark.sdk
@pytest.mark.timeout(600)
@pytest.mark.parametrize("store", ["memory", "sqlite"])
# The Python column is the main suite itself, which this run already runs.
@pytest.mark.parametrize("suite", [s for s in all_suites() if s.needs_emulator], ids=lambda s: s.key)
def test_sdk_scenarios(suite: Suite, store: str, tmp_path):
    results, outputs = run_suite(suite, db_path=str(tmp_path / "emulator.db") if store == "sqlite" else None)
    assert results, f"no {suite.language} scenario ran ({suite.sdk}):\n{outputs.get('', '')[-3000:]}"
    failed = sorted(name for name, outcome in results.items() if outcome == "fail")
    details = "\n\n".join(f"--- {name}\n{outputs.get(name, '')[-2000:]}" for name in failed)
    assert not failed, (
        f"{len(failed)} of {len(results)} {suite.language} scenarios failed ({suite.sdk}): {failed}\n\n{details}"
    )
    assert missing_scenarios(suite, results) == [], "declared scenarios that never reported"
    assert sum(outcome == "pass" for outcome in results.values()) >= MIN_PASSED[suite.key]
    _, unmapped = build_matrix(results, outputs, suite.feature_of)
    assert unmapped == [], f"{suite.language} scenarios with no feature key: {unmapped}"
