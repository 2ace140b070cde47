"""The pytest plugin's `durabletask_hub`: a fresh task hub per test on one shared emulator,
isolated from the other tests, also under pytest-xdist; and the control .proto's generated
module is current."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from durabletask.client import OrchestrationStatus

ROOT = Path(__file__).resolve().parents[1]


def _double(ctx, x):
    return x * 2


def _doubles(ctx, x):
    return (yield ctx.call_activity(_double, input=x))


def test_hub_fixture_gives_a_client_and_worker_of_its_own_hub(durabletask_hub, durabletask_shared_emulator):
    durabletask_hub.worker(orchestrators=[_doubles], activities=[_double])
    client = durabletask_hub.client()
    client.schedule_new_orchestration(_doubles, input=21, instance_id="fixture")
    state = client.wait_for_orchestration_completion("fixture", timeout=20)
    assert state.runtime_status == OrchestrationStatus.COMPLETED and state.serialized_output == "42"
    assert durabletask_hub.metadata == [("taskhub", durabletask_hub.name)]
    assert durabletask_hub.name in [h.name for h in durabletask_shared_emulator.engine.hubs()]


def test_closing_a_hub_handle_forgets_the_hub(durabletask_shared_emulator):
    with durabletask_shared_emulator.task_hub() as hub:
        hub.client().schedule_new_orchestration("anything", instance_id="left-behind")
        name = hub.name
        assert name in [h.name for h in durabletask_shared_emulator.engine.hubs()]
    assert name not in [h.name for h in durabletask_shared_emulator.engine.hubs()]


# Many tests on one emulator, each on its own hub, split over two xdist processes: every test
# sees only its own instance in a query, whatever ran before or beside it.
_SUITE = """
import pytest
from durabletask.client import OrchestrationQuery, OrchestrationStatus


def _double(ctx, x):
    return x * 2


def _doubles(ctx, x):
    return (yield ctx.call_activity(_double, input=x))


@pytest.mark.parametrize("n", range(12))
def test_isolated(durabletask_hub, n):
    durabletask_hub.worker(orchestrators=[_doubles], activities=[_double])
    client = durabletask_hub.client()
    client.schedule_new_orchestration(_doubles, input=n, instance_id="same-id-everywhere")
    state = client.wait_for_orchestration_completion("same-id-everywhere", timeout=30)
    assert state.serialized_output == str(n * 2)
    assert [s.instance_id for s in client.get_all_orchestration_states(OrchestrationQuery())] == ["same-id-everywhere"]
"""


def test_hub_fixture_isolates_tests_under_pytest_xdist(tmp_path):
    (tmp_path / "test_suite.py").write_text(textwrap.dedent(_SUITE))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", "--timeout", "60", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "12 passed" in result.stdout


def test_generated_control_module_matches_the_proto(tmp_path):
    result = subprocess.run(
        [str(ROOT / "scripts" / "gen-protos"), str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    for name in ("control_pb2.py", "control_pb2.pyi"):
        committed = (ROOT / "emulator" / "control" / name).read_text()
        assert (tmp_path / name).read_text() == committed, f"{name} is stale: run scripts/gen-protos"
