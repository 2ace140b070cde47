"""Runs the JavaScript SDK's scenarios (tests/sdk/js, ``node --test``) against an emulator; per-scenario results.

``run_js_suite("localhost:4001")`` returns ``{"activity: one activity; ...": "pass", ...}``: one entry per
scenario (a test directly inside a file's top-level ``describe``), ``"pass"``, ``"fail"`` or
``"unsupported"`` (the scenario skipped itself with "not supported by SDK: ..."). The suite's node
packages are installed with ``npm ci`` when ``node_modules`` is missing or older than
``package-lock.json``, so a fresh clone works.

Three files run one after the other, each in its own ``node --test``: ``scenarios.test.js`` (the
scenarios, concurrently, on one worker), then ``solo.test.js`` (scenarios that need the emulator
to themselves: work-item filters, purge by filter, cleaning entity storage) and ``time.test.js``
(control of time: each scenario on task hubs of its own, with time skipping on or off, calling
the control service through the ``.proto`` at ``DTEMU_CONTROL_PROTO``). ``reporter.js`` writes one
JSON object per line, which :func:`parse_reporter_output` reads.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

from tests.sdk_process import CommandRun, exclusive, json_lines, note_bad_exit, run_suite_command

JS_SUITE = Path(__file__).parent / "sdk" / "js"
SDK_PACKAGE = "@microsoft/durabletask-js"
UNSUPPORTED_MARK = "not supported by SDK"
#: In this order: solo.test.js must run after scenarios.test.js's worker has gone (time.test.js's
#: workers are on hubs of their own; it runs last, as in ``npm test``'s name order).
TEST_FILES = ("scenarios.test.js", "solo.test.js", "time.test.js")


def declared_scenarios(suite: Path = JS_SUITE, test_files: tuple[str, ...] = TEST_FILES) -> list[str]:
    """The name of every ``scenario(...)`` in the test files; ``${...}`` stands for any text."""
    names: list[str] = []
    for test_file in test_files:
        found = re.findall(r"""scenario\(\s*(["'`])((?:(?!\1)[^\\]|\\.)*)\1""", (suite / test_file).read_text())
        names += [name for _, name in found]
    return names


def sdk_version(suite: Path = JS_SUITE, sdk_package: str = SDK_PACKAGE) -> str:
    """The SDK version package.json pins, e.g. ``0.4.0``."""
    try:
        package = json.loads((suite / "package.json").read_text())
        return package["dependencies"][sdk_package]
    except (OSError, ValueError, KeyError):
        return "unknown"


SDK = f"{SDK_PACKAGE} {sdk_version()}"


def _installed_at(suite: Path) -> float | None:
    """When node_modules was last installed (npm's hidden lockfile), or None if it is not."""
    for marker in (suite / "node_modules" / ".package-lock.json", suite / "node_modules"):
        if marker.exists():
            return marker.stat().st_mtime
    return None


def ensure_node_modules(npm: str, timeout: float = 300, suite: Path = JS_SUITE) -> None:
    """``npm ci`` in ``suite`` (tests/sdk/js) if node_modules is missing or older than package-lock.json."""
    with exclusive(suite):
        installed = _installed_at(suite)
        if installed is not None and installed >= (suite / "package-lock.json").stat().st_mtime:
            return
        cmd = [npm, "ci", "--no-audit", "--no-fund"]
        run = run_suite_command(cmd, suite, None, timeout)
    if run.returncode != 0:
        said = run.stdout[-3000:] + run.stderr[-3000:]
        raise RuntimeError(f"`{' '.join(cmd)}` in {suite} failed ({run.returncode=}):\n{said}")


def _scenario_output(record: dict) -> str:
    lines = [f"{d}\n" for d in record.get("diagnostics") or []]
    took = record.get("duration_ms")
    took = f" ({took:.0f} ms)" if isinstance(took, (int, float)) else ""
    outcome = record.get("outcome")
    if outcome == "fail":
        lines.append(f"--- FAIL: {record.get('name')}{took}\n{record.get('error') or ''}\n")
    elif outcome == "skip":
        lines.append(f"--- SKIP: {record.get('name')}: {record.get('skip') or ''}\n")
    else:
        lines.append(f"--- PASS: {record.get('name')}{took}\n")
    return "".join(lines)


def parse_reporter_output(stdout: str) -> tuple[dict[str, str], dict[str, str]]:
    """``(results, outputs)`` from reporter.js's JSON lines.

    ``outputs`` maps each scenario to its output (its diagnostics, then its error) and ``""`` to
    whatever belongs to no scenario (SDK logs on stderr, load errors, node's summary, lines that
    are not JSON). A scenario that started but never ended (node was killed) is a ``"fail"``.
    """
    results: dict[str, str] = {}
    outputs: dict[str, list[str]] = {"": []}
    started: list[str] = []
    for record in json_lines(stdout, outputs[""]):
        kind, name = record.get("kind"), record.get("name")
        if kind == "started" and name:
            started.append(name)
        elif kind == "scenario" and name:
            outcome = record.get("outcome")
            if outcome == "skip":
                results[name] = "unsupported" if UNSUPPORTED_MARK in (record.get("skip") or "") else "fail"
            else:
                results[name] = "pass" if outcome == "pass" else "fail"
            outputs.setdefault(name, []).append(_scenario_output(record))
        elif kind == "output":
            outputs[""].append(str(record.get("text", "")))
        else:
            outputs[""].append(json.dumps(record) + "\n")
    for name in started:
        if name not in results:
            results[name] = "fail"
            outputs.setdefault(name, []).append(f"--- FAIL: {name}: started but never finished (node was stopped)\n")
    return results, {name: "".join(parts) for name, parts in outputs.items()}


def _run_file(node: str, suite: Path, test_file: str, env: dict[str, str], timeout: float) -> CommandRun:
    """``node --test`` on one file of ``suite``, with tests/sdk/js's reporter.js (every suite's)."""
    reporter = [f"--test-reporter={JS_SUITE / 'reporter.js'}", "--test-reporter-destination=stdout"]
    return run_suite_command([node, "--test", "--test-concurrency=1", *reporter, test_file], suite, env, timeout)


def run_js_suite(
    address: str,
    *,
    outputs: dict[str, str] | None = None,
    timeout: float = 300,
    suite: Path = JS_SUITE,
    test_files: tuple[str, ...] = TEST_FILES,
) -> dict[str, str]:
    """Run every JavaScript scenario against the emulator at ``address`` (``host:port``).

    Returns ``{scenario: "pass" | "fail" | "unsupported"}`` (empty if nothing ran, e.g. a load
    error). If ``outputs`` is given it is filled with each scenario's output, and ``""`` with the
    rest (SDK warnings and errors, node's own messages). ``suite`` and ``test_files`` name another
    node suite run the same way (tests/sdk/dapr-js: tests/sdk_dapr_js_runner.py).
    """
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        missing = " and ".join(name for name, path in (("node", node), ("npm", npm)) if path is None)
        raise RuntimeError(f"Node.js ({missing}) is not installed: the JavaScript SDK suite needs node and npm")
    deadline = time.monotonic() + timeout
    ensure_node_modules(npm, timeout=timeout, suite=suite)
    if deadline - time.monotonic() < 60:
        raise RuntimeError(f"npm ci in {suite} left less than 60 s of the suite's {timeout:.0f} s")
    env = {**os.environ, "DTEMU_ADDRESS": address}
    env.pop("NODE_OPTIONS", None)
    results: dict[str, str] = {}
    collected: dict[str, str] = {"": ""}
    for test_file in test_files:
        run = _run_file(node, suite, test_file, env, deadline - time.monotonic())
        file_results, file_outputs = parse_reporter_output(run.stdout)
        note_bad_exit(file_results, file_outputs, f"node --test {test_file}", run)
        results.update(file_results)
        rest = file_outputs.pop("", "")
        collected.update(file_outputs)
        collected[""] += f"=== node --test {test_file}\n{rest}{run.stderr}"
    if outputs is not None:
        outputs.update(collected)
    return results
