"""Runs the Go SDK's scenarios (tests/sdk/go, ``go test -json``) against an emulator; per-scenario results.

``run_go_suite("localhost:4001")`` returns ``{"TestActivity": "pass", "TestTags": "unsupported", ...}``:
one entry per top-level Go test, ``"pass"``, ``"fail"`` or ``"unsupported"`` (the test skipped itself
with "not supported by SDK: ..."). The module cache and build cache are Go's own, so only the first
run downloads and compiles the SDK.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from tests.sdk_process import json_lines, note_bad_exit, run_suite_command

GO_SUITE = Path(__file__).parent / "sdk" / "go"
SDK_MODULE = "github.com/microsoft/durabletask-go"
UNSUPPORTED_MARK = "not supported by SDK"


def sdk_version(module: str = SDK_MODULE, suite: Path = GO_SUITE) -> str:
    """The version of ``module`` that ``suite``'s go.mod pins, e.g. ``v0.6.0``."""
    match = re.search(rf"^\s*(?:require\s+)?{re.escape(module)}\s+(\S+)", (suite / "go.mod").read_text(), re.M)
    return match.group(1) if match else "unknown"


SDK = f"{SDK_MODULE} {sdk_version()}"

# Each Go scenario (a top-level test) under its feature key in tests/sdk_matrix.py.
FEATURES = {
    "TestActivity": "activity",
    "TestActivityChain": "chain",
    "TestFanOutFanIn": "fan-out",
    "TestSubOrchestration": "sub-orchestration",
    "TestSubOrchestrationFailure": "sub-orchestration-failure",
    "TestExternalEventBeforeWait": "external-event",
    "TestExternalEventAfterWait": "external-event",
    "TestExternalEventsInOrder": "external-event",
    "TestRaiseEventUnknownInstance": "external-event",
    "TestExternalEventTimeout": "event-timeout",
    "TestDurableTimer": "timer",
    "TestContinueAsNew": "continue-as-new",
    "TestContinueAsNewKeepsUnprocessedEvents": "continue-as-new",
    "TestActivityFailure": "activity-failure",
    "TestOrchestratorFailure": "activity-failure",
    "TestClientFailureDetails": "activity-failure",
    "TestActivityRetries": "retry",
    "TestSubOrchestrationRetries": "retry",
    "TestTerminate": "terminate",
    "TestTerminateRecursive": "terminate",
    "TestSuspendResume": "suspend-resume",
    "TestTerminateSuspended": "suspend-resume",
    "TestCustomStatus": "custom-status",
    "TestPurge": "purge",
    "TestPurgeRecursive": "purge",
    "TestPurgeByFilter": "purge",
    "TestQueryInstances": "query",
    "TestFetchUnknownInstance": "query",
    "TestWaitForStart": "wait",
    "TestWaitForStartUnknownInstance": "wait",
    "TestWaitForCompletionUnknownInstance": "wait",
    "TestDuplicateInstanceID": "duplicate-id",
    "TestReuseIDTerminate": "duplicate-id",
    "TestReuseIDTerminateWhileActivityRuns": "duplicate-id",
    "TestReuseIDIgnore": "duplicate-id",
    "TestScheduledStart": "scheduled-start",
    "TestTags": "tags",
    "TestRestartInstance": "restart",
    "TestRewindInstance": "rewind",
    "TestEntities": "entities",
    "TestSendEventBetweenOrchestrations": "send-event",
    "TestHistory": "history",
    "TestWorkItemFilters": "work-item-filters",
    "TestTaskHub": "taskhub",
    "TestTimeThirtyDayTimer": "time-skipping",
    "TestTimeEventBeatsHourTimer": "time-skipping",
    "TestTimeActivityRunsInRealTime": "time-skipping",
    "TestTimeRetryHourlyBackoff": "time-skipping",
    "TestTimeScheduledStartNextWeek": "time-skipping",
    "TestTimeAdvanceFiresTimer": "time-skipping",
    "TestTimeHubsSkipIndependently": "time-skipping",
    "TestTimeRealTimeWithoutSkipping": "time-skipping",
    "TestTimeOnlyMovesForward": "time-skipping",
}


def declared_scenarios(suite: Path = GO_SUITE) -> list[str]:
    """Every top-level test the suite's sources define (the scenarios a run must report)."""
    names: list[str] = []
    for source in sorted(suite.glob("*_test.go")):
        names += re.findall(r"^func (Test\w+)\(t \*testing\.T\)", source.read_text(), re.M)
    return names


def parse_go_test_json(stdout: str) -> tuple[dict[str, str], dict[str, str]]:
    """``(results, outputs)`` from ``go test -json`` output.

    ``outputs`` maps each top-level test to its output (subtests included) and ``""`` to whatever
    belongs to no test (build errors, the package summary, lines that are not JSON).
    """
    results: dict[str, str] = {}
    outputs: dict[str, list[str]] = {"": []}
    started: list[str] = []
    for event in json_lines(stdout, outputs[""]):
        test = event.get("Test")
        top = test.split("/", 1)[0] if test else ""
        action = event.get("Action")
        if action == "output" or action == "build-output":
            outputs.setdefault(top, []).append(event.get("Output", ""))
        elif not test:
            continue
        elif action == "run" and top == test:
            started.append(test)
        elif action in ("pass", "fail", "skip") and top == test:
            if action == "skip":
                said = "".join(outputs.get(test, []))
                results[test] = "unsupported" if UNSUPPORTED_MARK in said else "fail"
            else:
                results[test] = action
    for test in started:
        # Started but never ended: the binary panicked or hit go test's -timeout.
        results.setdefault(test, "fail")
    return results, {name: "".join(parts) for name, parts in outputs.items()}


def run_go_suite(
    address: str, *, outputs: dict[str, str] | None = None, timeout: float = 300, suite: Path = GO_SUITE
) -> dict[str, str]:
    """Run every Go scenario of ``suite`` (a Go module directory) against the emulator at ``address``.

    Returns ``{scenario: "pass" | "fail" | "unsupported"}`` (empty if nothing ran, e.g. a build
    error). If ``outputs`` is given it is filled with each scenario's output, and ``""`` with the
    rest (build errors, go's own messages).
    """
    go = shutil.which("go")
    if go is None:
        raise RuntimeError(f"Go (go) is not installed: the Go SDK suite in {suite.name} needs it")
    # readonly: the committed go.mod/go.sum say exactly what to fetch, and are never rewritten.
    goflags = " ".join(f for f in (os.environ.get("GOFLAGS", ""), "-mod=readonly") if f)
    env = {**os.environ, "DTEMU_ADDRESS": address, "GOFLAGS": goflags}
    cmd = [go, "test", "./...", "-count=1", "-json", "-parallel", "32", "-timeout", "180s"]
    run = run_suite_command(cmd, suite, env, timeout)
    results, per_test = parse_go_test_json(run.stdout)
    per_test[""] = per_test.get("", "") + run.stderr
    note_bad_exit(results, per_test, "go test", run)
    if outputs is not None:
        outputs.update(per_test)
    return results
