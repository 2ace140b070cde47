"""Runs the Java SDK's scenarios (tests/sdk/java, Maven + JUnit) against an emulator; per-scenario results."""

from __future__ import annotations

import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

JAVA_SUITE = Path(__file__).parent / "sdk" / "java"
SDK = "com.microsoft:durabletask-client:1.5.0"


def run_java_suite(port: int, timeout: float = 540) -> tuple[dict[str, str], str]:
    """``({scenario: "pass" | "fail: <message>"}, maven output)`` for the emulator on localhost:``port``."""
    mvn = shutil.which("mvn")
    if mvn is None:
        raise RuntimeError("Maven (mvn) is not installed: the Java SDK suite needs it")
    reports = JAVA_SUITE / "target" / "surefire-reports"
    shutil.rmtree(reports, ignore_errors=True)
    proc = subprocess.run(
        [mvn, "-B", "-q", "test"],
        cwd=JAVA_SUITE,
        env={**os.environ, "DTEMU_PORT": str(port)},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    results: dict[str, str] = {}
    for report in reports.glob("TEST-*.xml"):
        for case in ET.parse(report).getroot().iter("testcase"):
            problem = case.find("failure")
            if problem is None:
                problem = case.find("error")
            results[case.attrib["name"]] = "pass" if problem is None else f"fail: {problem.attrib.get('message', '')}"
    return results, proc.stdout + proc.stderr
