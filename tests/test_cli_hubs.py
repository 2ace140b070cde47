"""The executable with task hubs: --task-hubs / DTS_TASK_HUB_NAMES, several ports, `hubs`, `workers`,
`reset` and --task-hub on the inspector commands."""

from __future__ import annotations

import json
import re
import signal

import grpc
import pytest
from durabletask.client import OrchestrationStatus, TaskHubGrpcClient
from durabletask.internal import orchestrator_service_pb2 as pb
from durabletask.internal import orchestrator_service_pb2_grpc as stubs
from durabletask.worker import TaskHubGrpcWorker

from tests.test_cli import _cli, _start


def _hello(ctx, name):
    return f"Hello, {name}!"


def _greets(ctx, name):
    return (yield ctx.call_activity(_hello, input=name))


@pytest.fixture
def dts_like_emulator():
    """The executable as a DTS emulator user starts it: hubs from DTS_TASK_HUB_NAMES, two ports."""
    proc, address = _start("--port", "0", "--port", "0", env={"DTS_TASK_HUB_NAMES": "alpha,beta"})
    yield proc, address
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_dts_hub_names_extra_port_and_the_hub_commands(dts_like_emulator):
    proc, address = dts_like_emulator
    host = address.rsplit(":", 1)[0]
    hubs = json.loads(_cli("hubs", "--address", address, "--json").stdout)
    assert [h["name"] for h in hubs] == ["alpha", "beta"]

    stub = stubs.TaskHubSidecarServiceStub(grpc.insecure_channel(address))
    with pytest.raises(grpc.RpcError) as err:
        stub.StartInstance(pb.CreateInstanceRequest(name="x"), metadata=[("taskhub", "gamma")])
    assert err.value.code() == grpc.StatusCode.NOT_FOUND and err.value.details() == "Task hub not found: gamma"

    worker = TaskHubGrpcWorker(host_address=address, metadata=[("taskhub", "alpha"), ("workerid", "ci-host,1234,w1")])
    worker.add_orchestrator(_greets)
    worker.add_activity(_hello)
    worker.start()
    client = TaskHubGrpcClient(host_address=address, metadata=[("taskhub", "alpha")])
    try:
        client.schedule_new_orchestration(_greets, input="hubs", instance_id="in-alpha")
        state = client.wait_for_orchestration_completion("in-alpha", timeout=20)
        assert state.runtime_status == OrchestrationStatus.COMPLETED

        listed = json.loads(_cli("list", "--address", address, "--task-hub", "alpha", "--json").stdout)
        assert [r["instanceId"] for r in listed] == ["in-alpha"]
        assert json.loads(_cli("list", "--address", address, "--task-hub", "beta", "--json").stdout) == []
        shown = _cli("show", "--address", address, "--task-hub", "alpha", "in-alpha")
        assert shown.returncode == 0 and "Hello, hubs!" in shown.stdout
        missing = _cli("show", "--address", address, "--task-hub", "beta", "in-alpha")
        assert missing.returncode == 1 and "no orchestration instance" in missing.stderr
        wrong = _cli("list", "--address", address, "--task-hub", "gamma")
        assert wrong.returncode == 1 and "NOT_FOUND: Task hub not found: gamma" in wrong.stderr

        workers = json.loads(_cli("workers", "--address", address, "--json").stdout)
        assert [(w["taskHub"], w["workerId"]) for w in workers] == [("alpha", "ci-host,1234,w1")]
        assert workers[0]["userAgent"].startswith("grpc-python")
        table = _cli("hubs", "--address", address).stdout
        assert re.search(r"alpha\s.*\b1\b", table)  # one completed instance, shown in the table

        # the second port is the same emulator
        second = re.search(r"also on port (\d+)", proc.banner)
        assert second and "task hubs alpha, beta" in proc.banner, proc.banner
        other = TaskHubGrpcClient(host_address=f"{host}:{second.group(1)}", metadata=[("taskhub", "alpha")])
        assert other.get_orchestration_state("in-alpha").runtime_status == OrchestrationStatus.COMPLETED
        other.close()

        assert _cli("reset", "--address", address, "--task-hub", "alpha").stdout.strip() == "reset: task hub alpha"
        assert json.loads(_cli("list", "--address", address, "--task-hub", "alpha", "--json").stdout) == []
    finally:
        worker.stop()
        client.close()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0


def test_invalid_task_hub_list_is_a_one_line_error():
    result = _cli_start_env({"DURABLETASK_EMULATOR_TASK_HUBS": "good,not good"})
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "task hub name 'not good' is not valid" in errors[0], result.stderr
    assert "Traceback" not in result.stderr


def _cli_start_env(env: dict):
    import os
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "emulator", "start", "--no-console", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **env},
    )


def test_proto_prints_the_control_service_definition_another_language_compiles():
    from emulator.control import PROTO_PATH, SERVICE

    printed = _cli("proto")
    assert printed.returncode == 0 and printed.stdout == PROTO_PATH.read_text()
    assert f"service {SERVICE.name} {{" in printed.stdout and "rpc AdvanceTime(" in printed.stdout
    where = _cli("proto", "--path")
    assert where.returncode == 0 and where.stdout.strip() == str(PROTO_PATH)
