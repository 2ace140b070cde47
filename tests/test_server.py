"""The standard gRPC services beside TaskHubSidecarService, and the server's log lines."""

from __future__ import annotations

import json
import signal

import grpc
from click.testing import CliRunner
from durabletask.client import TaskHubGrpcClient
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from emulator.cli import main
from tests.test_cli import _start


def test_health_service_reports_serving(backend):
    with grpc.insecure_channel(backend.address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for service in ("", "TaskHubSidecarService"):
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_the_services(backend):
    with grpc.insecure_channel(backend.address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        replies = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        names = {s.name for reply in replies for s in reply.list_services_response.service}
    assert {"TaskHubSidecarService", "grpc.health.v1.Health"} <= names


def test_json_log_lines_without_console():
    proc, address = _start("--port", "0", "--log-format", "json")
    client = TaskHubGrpcClient(host_address=address)
    client.schedule_new_orchestration("logged", instance_id="json-logged")
    client.terminate_orchestration("json-logged")
    client.close()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    lines = [json.loads(line) for line in proc.stderr.read().splitlines() if line.strip()]
    messages = [entry["message"] for entry in lines]
    assert all({"time", "level", "logger", "message"} <= set(entry) for entry in lines)
    assert "instance json-logged started: logged" in messages
    assert "instance json-logged TERMINATED" in messages


def _log_of_one_start(instance_id: str, stop_signal: int, *options: str) -> str:
    """Run `start --port 0 OPTIONS`, schedule one instance, stop it with the signal: its stderr."""
    proc, address = _start("--port", "0", *options)
    client = TaskHubGrpcClient(host_address=address)
    client.schedule_new_orchestration("logged", instance_id=instance_id)
    client.close()
    proc.send_signal(stop_signal)
    assert proc.wait(timeout=10) == 0
    return proc.stderr.read()


def test_text_log_lines_name_instances_and_workers():
    text = _log_of_one_start("text-logged", signal.SIGINT)
    assert "instance text-logged started: logged" in text
    assert "(event loop: uvloop)" in text  # the default, "auto", where uvloop is installed
    assert "Traceback" not in text


def test_event_loop_option_chooses_the_loop_and_rejects_others():
    text = _log_of_one_start("asyncio-logged", signal.SIGTERM, "--event-loop", "asyncio")
    assert "(event loop: asyncio)" in text and "instance asyncio-logged started" in text
    bad = CliRunner().invoke(main, ["start", "--event-loop", "trio"])
    assert bad.exit_code == 2 and "'trio' is not one of 'auto', 'uvloop', 'asyncio'" in bad.output


def test_idle_work_item_stream_gets_health_pings():
    from durabletask.internal import orchestrator_service_pb2 as pb
    from durabletask.internal import orchestrator_service_pb2_grpc as stubs

    from emulator import Config, InMemoryOrchestrationBackend

    with InMemoryOrchestrationBackend(port=0, config=Config(health_ping_interval=0.1)) as backend:
        with grpc.insecure_channel(backend.address) as channel:
            stream = stubs.TaskHubSidecarServiceStub(channel).GetWorkItems(pb.GetWorkItemsRequest(), timeout=10)
            first, second = next(stream), next(stream)
            assert first.HasField("healthPing") and second.HasField("healthPing")
            stream.cancel()
