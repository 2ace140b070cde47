"""The SDK × feature matrix: run the other languages' SDK suites against the emulator and tabulate.

    scripts/sdk-matrix                  # every suite: Python, JavaScript, Java, Go, JavaScript (Dapr), Go (Dapr)
    scripts/sdk-matrix --only go,js     # some of them
    scripts/sdk-matrix --markdown       # also print the table as Markdown (the README's)

Each suite names its scenarios after a feature key (``FEATURES``); a scenario the SDK cannot
express reports "unsupported" with the reason. Exit status 1 when any scenario failed or a suite
ran nothing.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

FEATURES: list[tuple[str, str]] = [
    ("activity", "activities"),
    ("chain", "activity chains"),
    ("fan-out", "fan-out/fan-in"),
    ("sub-orchestration", "sub-orchestrations"),
    ("sub-orchestration-failure", "failing child: details reach the parent"),
    ("external-event", "external events (before/after the wait)"),
    ("event-timeout", "event wait with a timeout"),
    ("timer", "durable timers (2 s waits 2 s)"),
    ("continue-as-new", "continue-as-new (with carried events)"),
    ("activity-failure", "activity failures (also empty message)"),
    ("retry", "retries"),
    ("terminate", "terminate"),
    ("suspend-resume", "suspend/resume"),
    ("custom-status", "custom status"),
    ("purge", "purge (one, by filter)"),
    ("query", "query and list"),
    ("history", "history"),
    ("entities", "entities (signal, call, locks)"),
    ("wait", "wait for start/completion (also unknown ID)"),
    ("duplicate-id", "duplicate instance IDs, reuse policy"),
    ("scheduled-start", "scheduled start in the future"),
    ("tags", "tags"),
    ("restart", "restart"),
    ("rewind", "rewind"),
    ("send-event", "send event between orchestrations"),
    ("work-item-filters", "work-item filters"),
    ("taskhub", "task hubs (taskhub header isolates instances and work)"),
    ("time-skipping", "control of time (skipping while a client waits, advance)"),
    ("versioning", "workflow versions and patches (Dapr: is_patched replays)"),
    ("rerun", "rerun from an event (Dapr: RerunWorkflowFromEvent)"),
    ("cross-app", "calls routed to another app ID fail the task (Dapr)"),
]
FEATURE_KEYS = {key for key, _ in FEATURES}
UNSUPPORTED_REASON = re.compile(r"not supported by SDK:?\s*(.*)")


@dataclass
class Cell:
    """What one SDK's scenarios for one feature did."""

    passed: int = 0
    failed: int = 0
    unsupported: int = 0
    reasons: list[str] = field(default_factory=list)

    def text(self) -> str:
        if not (self.passed or self.failed or self.unsupported):
            return "not tested"
        if self.failed:
            return f"❌ {self.failed} of {self.passed + self.failed} failed"
        if not self.passed:
            return "not in SDK"
        extra = f" (+{self.unsupported} not in SDK)" if self.unsupported else ""
        return f"✅ {self.passed}{extra}"


@dataclass
class Suite:
    """One SDK's suite: how to run it and how its scenario names map to feature keys."""

    key: str
    language: str
    sdk: str
    run: Callable[..., dict[str, str]]  # run(address, *, outputs) -> {scenario: outcome}
    feature_of: Callable[[str], str | None]
    declared: Callable[[], list[str]]  # the scenario names in the sources; "${...}" matches any text
    needs_emulator: bool = True  # False: the suite starts its own (the Python tests do)
    dialect: str = "microsoft"  # "dapr": the suite is given the emulator's --dapr-port address

    @property
    def title(self) -> str:
        return f"{self.language} {self.sdk}"


def prefix_feature(separator: str) -> Callable[[str], str | None]:
    """Feature key from names like ``"fan-out: ..."`` (JS) or ``"fanOut__..."`` (Java, camelCase)."""

    def feature_of(name: str) -> str | None:
        head = name.split(separator, 1)[0].strip()
        kebab = re.sub(r"(?<=[a-z0-9])([A-Z])", r"-\1", head).lower()
        return kebab if kebab in FEATURE_KEYS else None

    return feature_of


def build_matrix(
    results: dict[str, str], outputs: dict[str, str], feature_of: Callable[[str], str | None]
) -> tuple[dict[str, Cell], list[str]]:
    """``({feature: Cell}, [scenarios that map to no feature])`` for one suite's results."""
    cells: dict[str, Cell] = {key: Cell() for key, _ in FEATURES}
    unmapped: list[str] = []
    for scenario, outcome in sorted(results.items()):
        key = feature_of(scenario)
        if key is None:
            unmapped.append(scenario)
            continue
        cell = cells[key]
        if outcome == "pass":
            cell.passed += 1
        elif outcome == "unsupported":
            cell.unsupported += 1
            match = UNSUPPORTED_REASON.search(outputs.get(scenario, ""))
            if match:
                cell.reasons.append(match.group(1).strip())
        else:
            cell.failed += 1
    return cells, unmapped


def to_markdown(titles: list[str], columns: list[dict[str, Cell]]) -> str:
    lines = ["| feature | " + " | ".join(titles) + " |", "| --- |" + " --- |" * len(titles)]
    for key, label in FEATURES:
        lines.append(f"| {label} | " + " | ".join(column[key].text() for column in columns) + " |")
    return "\n".join(lines)


def all_suites() -> list[Suite]:
    from tests import sdk_dapr_go_runner as dapr_go
    from tests import sdk_dapr_js_runner as dapr_js
    from tests import sdk_dapr_python_runner as dapr_py
    from tests import sdk_go_runner, sdk_java_runner, sdk_js_runner, sdk_python_runner

    py, js, java, go = sdk_python_runner, sdk_js_runner, sdk_java_runner, sdk_go_runner
    return [
        Suite("python", "Python", py.SDK, py.run_python_suite, py.feature_of, py.declared_scenarios, False),
        Suite("js", "JavaScript", js.SDK, js.run_js_suite, prefix_feature(":"), js.declared_scenarios),
        Suite("java", "Java", java.SDK, java.run_java_suite, prefix_feature("__"), java.declared_scenarios),
        Suite("go", "Go", go.SDK, go.run_go_suite, go.FEATURES.get, go.declared_scenarios),
        Suite(
            "dapr-python",
            "Python (Dapr)",
            dapr_py.SDK,
            dapr_py.run_dapr_python_suite,
            dapr_py.feature_of,
            dapr_py.declared_scenarios,
            dialect="dapr",
        ),
        Suite(
            "dapr-js",
            "JavaScript (Dapr)",
            dapr_js.SDK,
            dapr_js.run_dapr_js_suite,
            prefix_feature(":"),
            dapr_js.declared_scenarios,
            dialect="dapr",
        ),
        Suite(
            "dapr-go",
            "Go (Dapr)",
            dapr_go.SDK,
            dapr_go.run_dapr_go_suite,
            dapr_go.FEATURES.get,
            dapr_go.declared_scenarios,
            dialect="dapr",
        ),
    ]


def missing_scenarios(suite: Suite, results: dict[str, str]) -> list[str]:
    """Declared scenarios that a run did not report at all (a file that failed to load, say)."""
    missing = []
    for name in suite.declared():
        pattern = re.compile(".+".join(re.escape(part) for part in re.split(r"\$\{[^}]*\}", name)))
        if not any(pattern.fullmatch(reported) for reported in results):
            missing.append(name)
    return missing


def run_suite(suite: Suite, db_path: str | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """Run one suite against a fresh emulator on a free port (with the SQLite store if ``db_path``)."""
    from emulator import InMemoryOrchestrationBackend

    outputs: dict[str, str] = {}
    try:
        if not suite.needs_emulator:
            return suite.run(None, outputs=outputs), outputs
        dapr = suite.dialect == "dapr"
        with InMemoryOrchestrationBackend(port=0, db_path=db_path, dapr_port=0 if dapr else None) as backend:
            return suite.run(backend.dapr_address if dapr else backend.address, outputs=outputs), outputs
    except RuntimeError as error:  # a missing toolchain: report it as a suite that ran nothing
        outputs[""] = str(error)
        return {}, outputs


def _report(console, suite: Suite, results: dict[str, str], outputs: dict[str, str], cells, unmapped) -> bool:
    """Print one suite's counts, failures and "not in SDK" reasons; False when it did not pass."""
    counts = {o: sum(v == o for v in results.values()) for o in ("pass", "fail", "unsupported")}
    console.print(f"[bold]{suite.title}[/]: {len(results)} scenarios, {counts}")
    problems = [
        f"  [red]FAILED[/] {n}\n{outputs.get(n, '')[-1500:]}" for n, o in sorted(results.items()) if o == "fail"
    ]
    if not results:
        problems.append(f"  [red]no scenario ran[/]\n{outputs.get('', '')[-2000:]}")
    if unmapped:
        problems.append(f"  [red]scenarios with no feature key (or a failed command):[/] {', '.join(unmapped)}")
    missing = missing_scenarios(suite, results)
    if missing:
        problems.append(f"  [red]declared but never reported:[/] {', '.join(missing)}")
    for key, cell in cells.items():
        for reason in cell.reasons:
            console.print(f"  not in SDK ({key}): {reason}", highlight=False)
    for problem in problems:
        console.print(problem)
    return not problems


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console
    from rich.table import Table

    parser = argparse.ArgumentParser(description="Run the SDK suites against the emulator and print the matrix.")
    parser.add_argument(
        "--only", default="", help="comma-separated suites: python, js, java, go, dapr-js, dapr-go (default: all)"
    )
    parser.add_argument("--markdown", action="store_true", help="also print the matrix as Markdown")
    args = parser.parse_args(argv)
    chosen = {s.strip() for s in args.only.split(",") if s.strip()}
    suites = [s for s in all_suites() if not chosen or s.key in chosen]
    console = Console()
    columns: list[dict[str, Cell]] = []
    ok = True
    for suite in suites:
        with console.status(f"running the {suite.title} suite"):
            results, outputs = run_suite(suite)
        cells, unmapped = build_matrix(results, outputs, suite.feature_of)
        columns.append(cells)
        ok = _report(console, suite, results, outputs, cells, unmapped) and ok
    table = Table(title="SDK × feature against durabletask-emulator")
    table.add_column("feature")
    for suite in suites:
        table.add_column(suite.title)
    for key, label in FEATURES:
        table.add_row(label, *(column[key].text() for column in columns))
    console.print(table)
    if args.markdown:
        print(to_markdown([s.title for s in suites], columns))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
