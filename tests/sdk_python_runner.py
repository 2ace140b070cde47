"""The Python SDK's column of the SDK × feature matrix: chosen tests of the main suite, by feature.

The main suite (tests/test_*.py) drives the real Python SDK against emulators of its own, every
test on both stores, so this runner needs no emulator address: it runs the tests named in
``FEATURES`` with pytest and reads the JUnit XML. ``scripts/test`` runs them anyway; this is for
``scripts/sdk-matrix``.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import xml.etree.ElementTree as ET
from importlib.metadata import version
from pathlib import Path

from tests.sdk_process import note_bad_exit, run_suite_command

ROOT = Path(__file__).parent.parent
SDK = f"durabletask {version('durabletask')}"

_BY_FILE = {
    "test_orchestrations.py": {
        "test_one_activity": "activity",
        "test_activity_chain": "chain",
        "test_fan_out_fan_in_of_1000_activities": "fan-out",
        "test_sub_orchestrations_nested_two_deep_and_with_explicit_ids": "sub-orchestration",
        "test_failing_child_details_reach_the_parent_unchanged": "sub-orchestration-failure",
        "test_event_raised_before_the_wait_is_buffered": "external-event",
        "test_event_raised_after_the_wait": "external-event",
        "test_when_any_event_wins": "event-timeout",
        "test_when_any_timer_wins": "event-timeout",
        "test_timer_fires_at_its_time_never_before": "timer",
        "test_continue_as_new": "continue-as-new",
        "test_continue_as_new_with_and_without_carrying_unprocessed_events": "continue-as-new",
        "test_uncaught_activity_failure_fails_the_orchestration_with_details": "activity-failure",
        "test_activity_failure_reaches_the_orchestrator_even_with_an_empty_message": "activity-failure",
        "test_activity_retry_policy": "retry",
        "test_sub_orchestration_retry_policy": "retry",
        "test_custom_status_while_running_and_after_completion": "custom-status",
        "test_start_at_future_time_is_honoured": "scheduled-start",
        "test_start_time_in_the_past_starts_now": "scheduled-start",
        "test_tags_and_versions": "tags",
        "test_send_event_from_one_orchestration_to_another": "send-event",
    },
    "test_lifecycle.py": {
        "test_terminate_with_output": "terminate",
        "test_recursive_terminate_reaches_running_sub_orchestrations": "terminate",
        "test_suspend_and_resume_apply_events_after_resume": "suspend-resume",
        "test_purge_one_instance": "purge",
        "test_purge_by_created_time_and_status": "purge",
        "test_recursive_purge_of_sub_orchestrations": "purge",
        "test_reuse_without_policy": "duplicate-id",
        "test_reuse_policy_can_replace_a_running_instance": "duplicate-id",
        "test_restart_with_same_and_new_instance_id": "restart",
        "test_rewind_failed_instance_reruns_failed_activity": "rewind",
        "test_rewind_reaches_failed_sub_orchestration": "rewind",
    },
    "test_queries.py": {
        "test_query_by_status_time_and_prefix": "query",
        "test_query_pages_with_continuation_tokens": "query",
        "test_list_instance_ids_filters_and_pages": "query",
        "test_history_in_order_and_in_chunks": "history",
        "test_waits_for_unknown_instance_answer_not_found_promptly": "wait",
        "test_wait_without_deadline_returns_when_it_happens": "wait",
    },
    "test_entities.py": {
        "test_function_entity_get_set_delete": "entities",
        "test_signals_from_an_orchestration": "entities",
        "test_calls_from_an_orchestration_return_the_results": "entities",
        "test_critical_section_locks_two_entities_calls_both_and_releases": "entities",
    },
    "test_work_items.py": {
        "test_work_item_filters_route_work_to_matching_workers": "work-item-filters",
        "test_explicit_filters_decide_which_worker_runs_what": "work-item-filters",
    },
    "test_task_hubs.py": {
        "test_same_instance_id_in_two_hubs_is_two_instances": "taskhub",
        "test_a_worker_only_receives_its_own_hubs_work": "taskhub",
    },
    "test_time.py": {
        "test_thirty_day_timer_completes_in_seconds_with_the_clock_thirty_days_on": "time-skipping",
        "test_an_event_raised_before_the_wait_beats_an_hour_timer": "time-skipping",
        "test_no_jump_while_an_activity_runs": "time-skipping",
        "test_retry_with_an_hours_backoff_completes": "time-skipping",
        "test_a_start_a_week_ahead_runs": "time-skipping",
        "test_advance_fires_a_timer_with_nobody_waiting": "time-skipping",
        "test_two_hubs_skip_independently": "time-skipping",
        "test_skipping_off_keeps_real_time": "time-skipping",
    },
}
#: Each chosen test (function name) under its feature key.
FEATURES = {name: key for tests in _BY_FILE.values() for name, key in tests.items()}


def feature_of(scenario: str) -> str | None:
    """``test_one_activity[memory]`` -> ``activity``."""
    return FEATURES.get(re.split(r"[\[$]", scenario, maxsplit=1)[0])


def declared_scenarios() -> list[str]:
    """Each chosen test, any parameters (``${params}`` matches them)."""
    return [f"{name}${{params}}" for name in FEATURES]


def parse_junit(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    results: dict[str, str] = {}
    outputs: dict[str, str] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        name = case.attrib["name"]
        problem = next((c for c in case if c.tag in ("failure", "error", "skipped")), None)
        results[name] = "pass" if problem is None else "fail"
        if problem is not None:
            outputs[name] = f"{problem.tag}: {problem.attrib.get('message', '')}\n{problem.text or ''}"
    return results, outputs


def run_python_suite(address: str | None = None, *, outputs: dict[str, str] | None = None, timeout: float = 600):
    """Run the chosen tests (``address`` is unused: they start their own emulators)."""
    nodes = [f"tests/{file}::{name}" for file, tests in _BY_FILE.items() for name in tests]
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "junit.xml"
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}", *nodes]
        run = run_suite_command(cmd, ROOT, dict(os.environ), timeout)
        results, per_test = parse_junit(report) if report.exists() else ({}, {})
    per_test[""] = run.stdout + run.stderr
    note_bad_exit(results, per_test, "pytest", run)
    if outputs is not None:
        outputs.update(per_test)
    return results
