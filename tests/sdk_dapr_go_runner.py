"""Runs the Dapr Workflow Go SDK's scenarios (tests/sdk/dapr-go) against an emulator's Dapr port.

``run_dapr_go_suite("localhost:50001")`` takes the address of the emulator's Dapr dialect port
(``--dapr-port``) and returns ``{"TestActivity": "pass", "TestWhenAny": "unsupported", ...}`` like
:func:`tests.sdk_go_runner.run_go_suite`, which runs it (``go test -json`` in that module), with the
unmodified ``github.com/dapr/durabletask-go`` that tests/sdk/dapr-go/go.mod pins: its ``workflow``
package's client and worker, the Dapr Workflow API.
"""

from __future__ import annotations

from pathlib import Path

from tests import sdk_go_runner

DAPR_GO_SUITE = Path(__file__).parent / "sdk" / "dapr-go"
SDK_MODULE = "github.com/dapr/durabletask-go"
SDK = f"{SDK_MODULE} {sdk_go_runner.sdk_version(SDK_MODULE, DAPR_GO_SUITE)}"

# Each scenario (a top-level Go test) under its feature key in tests/sdk_matrix.py.
FEATURES = {
    "TestActivity": "activity",
    "TestTaskExecutionID": "activity",
    "TestActivityChain": "chain",
    "TestFanOutFanIn": "fan-out",
    "TestWhenAny": "fan-out",
    "TestChildWorkflow": "sub-orchestration",
    "TestChildWorkflowFailure": "sub-orchestration-failure",
    "TestExternalEventBeforeWait": "external-event",
    "TestExternalEventAfterWait": "external-event",
    "TestExternalEventNoTimeout": "external-event",
    "TestExternalEventsInOrder": "external-event",
    "TestRaiseEventUnknownInstance": "external-event",
    "TestExternalEventTimeout": "event-timeout",
    "TestDurableTimer": "timer",
    "TestContinueAsNew": "continue-as-new",
    "TestContinueAsNewKeepsEvents": "continue-as-new",
    "TestActivityFailure": "activity-failure",
    "TestWorkflowFailure": "activity-failure",
    "TestActivityRetries": "retry",
    "TestTaskExecutionIDOnRetry": "retry",
    "TestChildWorkflowRetries": "retry",
    "TestTerminate": "terminate",
    "TestTerminateRecursive": "terminate",
    "TestCustomStatus": "custom-status",
    "TestSuspendResume": "suspend-resume",
    "TestTerminateSuspended": "suspend-resume",
    "TestPurge": "purge",
    "TestPurgeRecursive": "purge",
    "TestPurgeForce": "purge",
    "TestWaitForStart": "wait",
    "TestWaitForUnknownInstance": "wait",
    "TestFetchUnknownInstance": "query",
    "TestListInstanceIDs": "query",
    "TestInstanceHistory": "history",
    "TestScheduledStart": "scheduled-start",
    "TestDuplicateInstanceID": "duplicate-id",
    "TestReuseCompletedInstanceID": "duplicate-id",
    "TestEnforceUniqueInstanceID": "duplicate-id",
    "TestPatchesReplay": "versioning",
    "TestPatchOldInstance": "versioning",
    "TestVersionPinned": "versioning",
    "TestRerunFromEvent": "rerun",
    "TestCrossAppActivity": "cross-app",
    "TestCrossAppChildWorkflow": "cross-app",
    "TestCrossAppSchedule": "cross-app",
    "TestEntities": "entities",
    "TestRestartInstance": "restart",
    "TestRewindInstance": "rewind",
    "TestSendEventBetweenWorkflows": "send-event",
    "TestWorkItemFilters": "work-item-filters",
    "TestTaskHub": "taskhub",
}


def declared_scenarios() -> list[str]:
    """Every top-level test in tests/sdk/dapr-go (the scenarios a run must report)."""
    return sdk_go_runner.declared_scenarios(DAPR_GO_SUITE)


def run_dapr_go_suite(address: str, *, outputs: dict[str, str] | None = None, timeout: float = 300) -> dict[str, str]:
    """Run every Dapr Go scenario against the emulator's Dapr port at ``address`` (``host:port``)."""
    return sdk_go_runner.run_go_suite(address, outputs=outputs, timeout=timeout, suite=DAPR_GO_SUITE)
