"""Runs the Dapr Python SDK's scenarios (tests/sdk/dapr_python) against an emulator's Dapr port.

The scenarios are a pytest session of their own, as a Dapr Workflow app's tests are: the Dapr SDK
cannot share a process with the emulator's protocol messages. It runs in this venv (where
``dapr-ext-workflow`` and the emulator, with its pytest plugin, are both installed) with
``--confcutdir`` at the suite, so only its own conftest applies. ``run_dapr_python_suite(address)``
returns ``{"test_activity__...": "pass", "test_rerun__...": "unsupported", ...}`` read from the
session's JUnit XML; a test that skipped itself with "not supported by SDK: ..." is "unsupported".
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import xml.etree.ElementTree as ET
from importlib import metadata
from pathlib import Path

from tests.sdk_process import note_bad_exit, run_suite_command

SUITE = Path(__file__).parent / "sdk" / "dapr_python"
UNSUPPORTED_MARK = "not supported by SDK"
#: Scenarios that check the session itself rather than a feature.
SESSION_CHECKS = {"test_dapr_imports_beside_the_emulator_plugin": "activity"}


def sdk_version() -> str:
    try:
        return metadata.version("dapr-ext-workflow")
    except metadata.PackageNotFoundError:
        return "not installed"


SDK = f"dapr-ext-workflow {sdk_version()}"


def feature_of(name: str) -> str | None:
    """``test_sub_orchestration_failure__reaches_the_parent[x]`` -> ``sub-orchestration-failure``."""
    if name in SESSION_CHECKS:
        return SESSION_CHECKS[name]
    match = re.fullmatch(r"test_([a-z_]+?)__\w+(\[.*\])?", name)
    if not match:
        return None
    from tests.sdk_matrix import FEATURE_KEYS

    key = match.group(1).replace("_", "-")
    return key if key in FEATURE_KEYS else None


def declared_scenarios() -> list[str]:
    """Every test function of the suite (a parametrized one reports as ``name[${...}]``)."""
    source = (SUITE / "test_workflows.py").read_text()
    names = []
    for params, name in re.findall(r"(@pytest\.mark\.parametrize\([^\n]*\)\n)?def (test_\w+)\(", source):
        names.append(f"{name}[${{param}}]" if params else name)
    return names


def parse_junit(xml_text: str, outputs: dict[str, str]) -> dict[str, str]:
    results: dict[str, str] = {}
    for case in ET.fromstring(xml_text).iter("testcase"):
        name = case.get("name", "")
        failed = case.find("failure") if case.find("failure") is not None else case.find("error")
        skipped = case.find("skipped")
        if failed is not None:
            results[name] = "fail"
            outputs[name] = f"{failed.get('message', '')}\n{failed.text or ''}"
        elif skipped is not None:
            message = skipped.get("message", "")
            results[name] = "unsupported" if UNSUPPORTED_MARK in message else "fail"
            outputs[name] = message
        else:
            results[name] = "pass"
    return results


def run_dapr_python_suite(address: str, *, outputs: dict[str, str], timeout: float = 300) -> dict[str, str]:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "junit.xml"
        cmd = [
            sys.executable, "-m", "pytest", str(SUITE), "--confcutdir", str(SUITE), "-p", "no:cacheprovider",
            "-q", f"--junitxml={report}", "-o", "junit_family=xunit1",
        ]  # fmt: skip
        env = {**os.environ, "DTEMU_DAPR_ADDRESS": address}
        run = run_suite_command(cmd, SUITE, env, timeout)
        results = parse_junit(report.read_text(), outputs) if report.exists() else {}
    note_bad_exit(results, outputs, "pytest session", run)
    outputs.setdefault("", run.stdout[-3000:] + run.stderr[-3000:])
    return results
