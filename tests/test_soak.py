"""The soak harness runs (so it cannot rot): short runs under worker kills, and emulator kills with --db."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
from durabletask.internal import orchestrator_service_pb2 as pb
from google.protobuf.timestamp_pb2 import Timestamp

SOAK = Path(__file__).parent.parent / "scripts" / "soak"


@pytest.mark.timeout(180)
@pytest.mark.parametrize(
    "store, minutes, at_least",
    [("--db", 0.5, 100), ("memory", 0.2, 50)],
    ids=["sqlite-emulator-killed", "memory"],
)
def test_short_soak_loses_nothing(tmp_path, store, minutes, at_least):
    command = [sys.executable, str(SOAK), "--minutes", str(minutes), "--kill-every", "3", "--seed", "1", "--json"]
    command += ["--log-dir", str(tmp_path)] + (["--db"] if store == "--db" else [])
    result = subprocess.run(command, capture_output=True, text=True, timeout=170)
    summary = json.loads(result.stdout) if result.stdout.startswith("{") else {}
    assert result.returncode == 0, (summary.get("failures"), result.stderr[-3000:])
    instances = summary["instances"]
    assert instances["checked"] == instances["started"] >= at_least
    assert instances["lost"] == instances["stuck"] == instances["wrong"] == instances["leftover"] == 0
    assert set(instances["by_kind"]) == {"chain", "fan_out", "timer", "event", "sub", "entity", "critical"}
    entities = summary["entities"]
    assert entities["client_signals_acked"] > 0 and entities["orchestration_ops"] > 0
    expected, unknown = entities["expected_total"], entities["client_signals_unknown"]
    assert expected <= entities["total"] <= expected + unknown
    assert summary["kills"]["worker"] >= 1
    assert summary["kills"]["emulator"] >= (1 if store == "--db" else 0)
    assert summary["emulator_exit_code"] == 0
    assert summary["rss_kib"]["samples"] >= 2 and summary["fds"]["max"] > 0
    assert summary["failures"] == []


def _load_soak():
    """The extensionless script as a module (its venv re-exec only runs as __main__)."""
    loader = importlib.machinery.SourceFileLoader("soak_script", str(SOAK))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("soak_script", loader))
    sys.modules["soak_script"] = module  # dataclasses look their module up by name
    loader.exec_module(module)
    return module


def _at(seconds: float) -> Timestamp:
    ts = Timestamp()
    ts.FromNanoseconds(int((1_800_000_000 + seconds) * 1e9))
    return ts


def test_history_check_flags_what_ran_twice_never_or_early():
    soak = _load_soak()
    plan = soak.make_plan("timer", "t-1", random.Random(1))
    events = [
        pb.HistoryEvent(eventId=-1, timestamp=_at(0), executionStarted=pb.ExecutionStartedEvent(name="sleeper")),
        pb.HistoryEvent(eventId=0, timestamp=_at(0), timerCreated=pb.TimerCreatedEvent(fireAt=_at(1))),
        pb.HistoryEvent(eventId=-1, timestamp=_at(1.1), timerFired=pb.TimerFiredEvent(fireAt=_at(1), timerId=0)),
        pb.HistoryEvent(eventId=1, timestamp=_at(1.1), taskScheduled=pb.TaskScheduledEvent(name="square")),
        pb.HistoryEvent(eventId=-1, timestamp=_at(1.2), taskCompleted=pb.TaskCompletedEvent(taskScheduledId=1)),
        pb.HistoryEvent(eventId=-1, timestamp=_at(1.3), executionCompleted=pb.ExecutionCompletedEvent()),
    ]
    assert soak.history_problems(events, plan) == []

    started, created, fired, scheduled, completed, done = events
    early = pb.HistoryEvent(eventId=-1, timestamp=_at(0.5), timerFired=pb.TimerFiredEvent(fireAt=_at(1), timerId=0))
    assert soak.history_problems([started, created, early, scheduled, completed, done], plan) == [
        "timer 0 fired 2027-01-15T08:00:01Z early"
    ]
    assert soak.history_problems([*events, completed], plan) == ["task 1 answered 2 times"]
    assert soak.history_problems([started, created, fired, scheduled, done], plan) == ["task 1 never answered"]
    assert soak.history_problems([*events, done], plan) == ["2 executionCompleted events"]
