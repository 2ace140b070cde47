"""Runs the Dapr Workflow JavaScript SDK's scenarios (tests/sdk/dapr-js) against an emulator's Dapr port.

``run_dapr_js_suite("localhost:50001")`` takes the address of the emulator's Dapr dialect port
(``--dapr-port``) and returns ``{"activity: ...": "pass", ...}`` like
:func:`tests.sdk_js_runner.run_js_suite`, which runs it: the same ``node --test`` with
tests/sdk/js/reporter.js, the same ``npm ci`` when node_modules is stale, with the unmodified
``@dapr/durabletask-js`` package that tests/sdk/dapr-js/package.json pins.

``scenarios.test.js`` runs first (concurrently, on one worker), then ``solo.test.js`` (purge by a
filter, which would purge other scenarios' instances).
"""

from __future__ import annotations

from pathlib import Path

from tests import sdk_js_runner

DAPR_JS_SUITE = Path(__file__).parent / "sdk" / "dapr-js"
SDK_PACKAGE = "@dapr/durabletask-js"
TEST_FILES = ("scenarios.test.js", "solo.test.js")
SDK = f"{SDK_PACKAGE} {sdk_js_runner.sdk_version(DAPR_JS_SUITE, SDK_PACKAGE)}"


def declared_scenarios() -> list[str]:
    """The name of every ``scenario(...)`` in the test files; ``${...}`` stands for any text."""
    return sdk_js_runner.declared_scenarios(DAPR_JS_SUITE, TEST_FILES)


def run_dapr_js_suite(address: str, *, outputs: dict[str, str] | None = None, timeout: float = 300) -> dict[str, str]:
    """Run every Dapr JavaScript scenario against the emulator's Dapr port at ``address`` (``host:port``)."""
    return sdk_js_runner.run_js_suite(
        address, outputs=outputs, timeout=timeout, suite=DAPR_JS_SUITE, test_files=TEST_FILES
    )
