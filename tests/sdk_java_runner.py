"""Runs the Java SDK's scenarios (tests/sdk/java, Maven + JUnit 5) against an emulator; per-scenario results.

``run_java_suite("localhost:4001")`` returns ``{"activity__returnsResult": "pass", ...}``: one entry per
JUnit test, ``"pass"``, ``"fail"`` or ``"unsupported"`` (a test disabled with "not supported by SDK:
..."). Maven fetches the SDK into its own repository (~/.m2) on the first run, and protoc and
protoc-gen-grpc-java with it: TimeTest's EmulatorControl client is generated at build time from
the emulator's own emulator/control/control.proto (protobuf-maven-plugin in the suite's pom.xml).
Scenarios are mapped to feature keys by name (``timeSkipping__...`` is ``time-skipping``).
"""

from __future__ import annotations

import os
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.sdk_process import exclusive, note_bad_exit, run_suite_command

JAVA_SUITE = Path(__file__).parent / "sdk" / "java"
SDK = "com.microsoft:durabletask-client 1.5.0"
UNSUPPORTED_MARK = "not supported by SDK"


def declared_scenarios() -> list[str]:
    """Every @Test method of the suite's classes (the scenarios a run must report), disabled ones included."""
    annotation = r'@\w+(?:\((?:"(?:[^"\\]|\\.)*"|[^)"])*\))?\s+'
    names: list[str] = []
    for source in sorted((JAVA_SUITE / "src" / "test" / "java" / "emulator").glob("*.java")):
        names += re.findall(rf"@Test\s+(?:{annotation})*void (\w+)\(", source.read_text())
    return names


def parse_surefire_reports(reports: Path) -> tuple[dict[str, str], dict[str, str]]:
    """``(results, outputs)`` from the TEST-*.xml files of one Surefire run."""
    results: dict[str, str] = {}
    outputs: dict[str, str] = {}
    for report in sorted(reports.glob("TEST-*.xml")):
        for case in ET.parse(report).getroot().iter("testcase"):
            name = case.attrib["name"].removesuffix("()")
            problem = case.find("failure")
            if problem is None:
                problem = case.find("error")
            skipped = case.find("skipped")
            if problem is not None:
                results[name] = "fail"
                outputs[name] = f"{problem.attrib.get('message', '')}\n{problem.text or ''}"
            elif skipped is not None:
                said = skipped.attrib.get("message", "")
                results[name] = "unsupported" if UNSUPPORTED_MARK in said else "fail"
                outputs[name] = said
            else:
                results[name] = "pass"
    return results, outputs


def run_java_suite(address: str, *, outputs: dict[str, str] | None = None, timeout: float = 540) -> dict[str, str]:
    """Run every Java scenario against the emulator at ``address`` (``host:port``).

    Returns ``{scenario: "pass" | "fail" | "unsupported"}`` (empty if nothing ran, e.g. a build
    error); ``outputs``, if given, gets each failed or skipped scenario's message and ``""`` Maven's output.
    """
    mvn = shutil.which("mvn")
    if mvn is None:
        raise RuntimeError("Maven (mvn) is not installed: the Java SDK suite needs it")
    # The SDK 1.5.0 builders take a port and always dial localhost.
    port = address.rpartition(":")[2]
    reports = JAVA_SUITE / "target" / "surefire-reports"
    env = {**os.environ, "DTEMU_PORT": port}
    with exclusive(JAVA_SUITE):
        shutil.rmtree(reports, ignore_errors=True)
        run = run_suite_command([mvn, "-B", "-q", "test"], JAVA_SUITE, env, timeout)
        results, per_test = parse_surefire_reports(reports)
    per_test[""] = run.stdout + run.stderr
    note_bad_exit(results, per_test, "mvn test", run)
    if outputs is not None:
        outputs.update(per_test)
    return results
