"""The SDK × feature matrix: scenario names map to feature keys and outcomes tabulate correctly."""

from __future__ import annotations

import re

import pytest

from tests.sdk_go_runner import FEATURES as GO_FEATURES
from tests.sdk_matrix import (
    FEATURE_KEYS,
    Suite,
    all_suites,
    build_matrix,
    missing_scenarios,
    prefix_feature,
    to_markdown,
)


def test_prefix_feature_reads_js_and_java_names():
    assert prefix_feature(":")("fan-out: 10 activities in parallel") == "fan-out"
    assert prefix_feature("__")("subOrchestrationFailure__detailsReachParent") == "sub-orchestration-failure"
    assert prefix_feature("__")("continueAsNew__keepsEvents") == "continue-as-new"
    assert prefix_feature(":")("no-such-feature: x") is None


@pytest.mark.parametrize("suite", all_suites(), ids=lambda s: s.key)
def test_every_declared_scenario_has_a_feature(suite):
    names = suite.declared()
    minimum = 20 if suite.dialect == "dapr" else 40  # the Dapr suites are younger and smaller
    assert len(names) >= minimum, f"only {len(names)} {suite.language} scenarios found in the sources"
    assert len(set(names)) == len(names), "two scenarios share a name"
    assert [n for n in names if suite.feature_of(n) is None] == []


def test_java_declared_scenarios_include_disabled_ones_with_parentheses_in_the_reason():
    from tests.sdk_java_runner import declared_scenarios

    assert "terminate__recursiveNotInSdk" in declared_scenarios()


def test_missing_scenarios_match_templated_names():
    suite = Suite("x", "X", "x 1", run=None, feature_of=None, declared=lambda: ["wait: ${w} on an unknown", "a: b"])
    assert missing_scenarios(suite, {"wait: start on an unknown": "pass", "a: b": "pass"}) == []
    assert missing_scenarios(suite, {"wait: start on an unknown": "pass"}) == ["a: b"]


def test_go_features_are_known_keys():
    assert set(GO_FEATURES.values()) <= FEATURE_KEYS


def test_build_matrix_counts_and_reasons():
    results = {"a1": "pass", "a2": "pass", "b": "fail", "c": "unsupported", "d": "pass", "zz": "pass"}
    outputs = {"c": "    x_test.go:9: not supported by SDK: no tags in the SDK's protos\n"}
    features = {"a1": "activity", "a2": "activity", "b": "retry", "c": "tags", "d": "tags"}
    cells, unmapped = build_matrix(results, outputs, features.get)
    assert unmapped == ["zz"]
    assert cells["activity"].text() == "✅ 2"
    assert cells["retry"].text() == "❌ 1 of 1 failed"
    assert cells["tags"].text() == "✅ 1 (+1 not in SDK)"
    assert cells["tags"].reasons == ["no tags in the SDK's protos"]
    assert cells["rewind"].text() == "not tested"
    markdown = to_markdown(["Go x"], [cells])
    assert "| activities | ✅ 2 |" in markdown.splitlines()
    assert markdown.splitlines()[0] == "| feature | Go x |"


def test_python_column_names_tests_that_exist():
    from tests.sdk_python_runner import _BY_FILE, ROOT

    for file, tests in _BY_FILE.items():
        defined = set(re.findall(r"^def (test_\w+)\(", (ROOT / "tests" / file).read_text(), re.M))
        assert set(tests) <= defined, f"{file} has no {sorted(set(tests) - defined)}"
