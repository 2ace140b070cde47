"""The SDK × feature matrix: scenario names map to feature keys and outcomes tabulate correctly."""

from __future__ import annotations

import re

from tests.sdk_go_runner import FEATURES as GO_FEATURES
from tests.sdk_go_runner import GO_SUITE
from tests.sdk_java_runner import JAVA_SUITE
from tests.sdk_js_runner import JS_SUITE
from tests.sdk_matrix import FEATURE_KEYS, build_matrix, prefix_feature, to_markdown


def test_prefix_feature_reads_js_and_java_names():
    assert prefix_feature(":")("fan-out: 10 activities in parallel") == "fan-out"
    assert prefix_feature("__")("subOrchestrationFailure__detailsReachParent") == "sub-orchestration-failure"
    assert prefix_feature("__")("continueAsNew__keepsEvents") == "continue-as-new"
    assert prefix_feature(":")("no-such-feature: x") is None


def test_every_go_scenario_has_a_feature():
    names = set()
    for source in GO_SUITE.glob("*_test.go"):
        names |= set(re.findall(r"^func (Test\w+)\(t \*testing\.T\)", source.read_text(), re.M))
    assert names, "no Go scenarios found"
    assert names <= set(GO_FEATURES), f"Go scenarios without a feature key: {sorted(names - set(GO_FEATURES))}"
    assert set(GO_FEATURES.values()) <= FEATURE_KEYS


def test_every_java_scenario_has_a_feature():
    source = (JAVA_SUITE / "src" / "test" / "java" / "emulator" / "ScenariosTest.java").read_text()
    names = re.findall(r"@Test\s+(?:@\w+\([^)]*\)\s+)*void (\w+)\(", source)
    assert len(names) >= 50
    assert [n for n in names if prefix_feature("__")(n) is None] == []


def test_every_js_scenario_has_a_feature():
    names = []
    for source in JS_SUITE.glob("*.test.js"):
        names += re.findall(r"""scenario\(\s*["'`]([^"'`]*)""", source.read_text())
    assert len(names) >= 60
    assert [n for n in names if prefix_feature(":")(n) is None] == []


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
