"""The Python testing API: InMemoryOrchestrationBackend, create_test_backend and the pytest plugin."""

from __future__ import annotations

import socket
import sys
import threading

import grpc
import pytest
from durabletask.client import OrchestrationStatus, TaskHubGrpcClient
from durabletask.internal import orchestrator_service_pb2_grpc as stubs
from durabletask.worker import TaskHubGrpcWorker
from google.protobuf import empty_pb2

from emulator import Config, EmulatorError, InMemoryOrchestrationBackend, PortInUse, create_test_backend
from tests.helpers import wait_until

pytest_plugins = ["pytester"]


def echo(ctx, x):
    return x


def quick(ctx, x):
    return (yield ctx.call_activity(echo, input=x))


def _run_one(address: str, value) -> str:
    client = TaskHubGrpcClient(host_address=address)
    worker = TaskHubGrpcWorker(host_address=address)
    worker.add_orchestrator(quick)
    worker.add_activity(echo)
    worker.start()
    try:
        iid = client.schedule_new_orchestration(quick, input=value)
        return client.wait_for_orchestration_completion(iid, timeout=10).serialized_output
    finally:
        worker.stop()
        client.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _hello(target: str) -> None:
    with grpc.insecure_channel(target) as channel:
        stubs.TaskHubSidecarServiceStub(channel).Hello(empty_pb2.Empty(), timeout=5)


def test_defaults_are_the_seeds():
    backend = InMemoryOrchestrationBackend()
    assert backend.port == 50051
    assert backend.max_history_size == 10000
    assert not backend.is_running


def test_start_returns_the_address_and_port_zero_binds_a_free_port():
    backend = InMemoryOrchestrationBackend(port=0)
    address = backend.start()
    try:
        host, port = address.rsplit(":", 1)
        assert host == "localhost" and int(port) > 0
        assert backend.port == int(port) and backend.address == address
        assert _run_one(address, "hi") == '"hi"'
    finally:
        backend.stop()


def test_reachable_through_every_loopback_name():
    with InMemoryOrchestrationBackend(port=0) as backend:
        targets = [f"localhost:{backend.port}", f"127.0.0.1:{backend.port}"]
        if socket.has_ipv6:
            try:
                with socket.socket(socket.AF_INET6) as s:
                    s.bind(("::1", 0))
                targets.append(f"[::1]:{backend.port}")
            except OSError:
                pass
        for target in targets:
            _hello(target)


def test_stop_reset_and_rebind_the_same_port_at_once():
    port = _free_port()
    for round_number in range(3):
        backend = create_test_backend(port=port)
        assert backend.port == port
        assert _run_one(backend.address, round_number) == str(round_number)
        backend.stop()
        backend.reset()


def test_reset_forgets_instances():
    with InMemoryOrchestrationBackend(port=0) as backend:
        client = TaskHubGrpcClient(host_address=backend.address)
        iid = client.schedule_new_orchestration("anything")
        assert client.get_orchestration_state(iid) is not None
        backend.reset()
        assert client.get_orchestration_state(iid) is None
        client.close()


def test_reset_from_the_tests_thread_ends_a_clients_wait():
    """A waiter answered off the server's event loop (reset() runs on the caller's thread) reaches
    the blocked client at once; on the loop's own thread the answer takes a shorter path."""
    with InMemoryOrchestrationBackend(port=0) as backend:
        client = TaskHubGrpcClient(host_address=backend.address)
        iid = client.schedule_new_orchestration("never_runs")  # no worker: it stays pending
        answer = []
        waiting = threading.Thread(
            target=lambda: answer.append(client.wait_for_orchestration_completion(iid, timeout=30))
        )
        waiting.start()
        wait_until(lambda: backend.engine.hub(None).waiter_count() == 1, what="the client waiting")
        backend.reset()
        waiting.join(timeout=10)
        assert not waiting.is_alive() and answer == [None]  # exists=false: the SDK's "not found"
        assert backend.engine.hub(None).waiter_count() == 0
        client.close()


def test_port_taken_by_another_process_is_an_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(PortInUse) as err:
            create_test_backend(port=port)
        assert isinstance(err.value, OSError)
        assert str(port) in str(err.value)


def test_context_manager_starts_and_stops():
    with InMemoryOrchestrationBackend(port=0) as backend:
        assert backend.is_running
        port = backend.port
        _hello(backend.address)
    assert not backend.is_running
    with socket.socket() as s:  # the port is free again
        s.bind(("127.0.0.1", port))


def test_stop_is_idempotent_and_state_survives_stop_until_reset():
    backend = InMemoryOrchestrationBackend(port=0)
    backend.start()
    client = TaskHubGrpcClient(host_address=backend.address)
    iid = client.schedule_new_orchestration("kept")
    client.close()
    backend.stop()
    backend.stop()
    backend.start()
    client = TaskHubGrpcClient(host_address=backend.address)
    assert client.get_orchestration_state(iid) is not None
    client.close()
    backend.stop()


def test_max_history_size_is_passed_through():
    backend = create_test_backend(port=0, max_history_size=123)
    try:
        assert backend.max_history_size == 123
        assert backend.engine.config.max_history_size == 123
    finally:
        backend.stop()


def test_thread_safe_from_many_threads(backend, client, make_worker):
    make_worker(orchestrators=[quick], activities=[echo])
    ids: list[str] = []
    lock = threading.Lock()

    def start_some(n: int):
        c = TaskHubGrpcClient(host_address=backend.address)
        for i in range(n):
            iid = c.schedule_new_orchestration(quick, input=i)
            with lock:
                ids.append(iid)
        c.close()

    threads = [threading.Thread(target=start_some, args=(7,)) for _ in range(8)]
    threads.append(threading.Thread(target=lambda: [backend.engine.snapshot() for _ in range(20)]))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(ids) == 56
    for iid in ids:
        assert client.wait_for_orchestration_completion(iid, timeout=20).runtime_status == (
            OrchestrationStatus.COMPLETED
        )


def test_pytest_plugin_fixtures(pytester):
    pytester.makepyfile(
        """
        from durabletask.client import TaskHubGrpcClient
        from durabletask.worker import TaskHubGrpcWorker

        def double(ctx, x):
            return x * 2

        def orchestrator(ctx, x):
            return (yield ctx.call_activity(double, input=x))

        def test_uses_plugin(durabletask_emulator, durabletask_address):
            assert durabletask_address == durabletask_emulator.address
            client = TaskHubGrpcClient(host_address=durabletask_address)
            worker = TaskHubGrpcWorker(host_address=durabletask_address)
            worker.add_orchestrator(orchestrator)
            worker.add_activity(double)
            worker.start()
            try:
                iid = client.schedule_new_orchestration(orchestrator, input=21)
                state = client.wait_for_orchestration_completion(iid, timeout=10)
                assert state.serialized_output == "42"
            finally:
                worker.stop()
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


@pytest.mark.parametrize("kind", ["uvloop", "asyncio"])
def test_runs_orchestrations_on_either_event_loop(kind):
    with InMemoryOrchestrationBackend(port=0, config=Config(event_loop=kind)) as backend:
        assert backend.event_loop == kind
        assert _run_one(backend.address, kind) == f'"{kind}"'
    assert backend.event_loop is None


def test_auto_event_loop_is_uvloop_when_installed_and_asyncio_without(monkeypatch):
    with InMemoryOrchestrationBackend(port=0) as backend:
        assert backend.event_loop == "uvloop"  # a dependency on Linux and macOS
    monkeypatch.setitem(sys.modules, "uvloop", None)  # what an environment without it looks like
    with InMemoryOrchestrationBackend(port=0) as backend:
        assert backend.event_loop == "asyncio"
        _hello(backend.address)


def test_unavailable_or_unknown_event_loop_fails_start_with_the_reason(monkeypatch):
    with pytest.raises(EmulatorError, match="unknown event loop 'trio': choose one of auto, uvloop, asyncio"):
        InMemoryOrchestrationBackend(port=0, config=Config(event_loop="trio")).start()
    monkeypatch.setitem(sys.modules, "uvloop", None)
    backend = InMemoryOrchestrationBackend(port=0, config=Config(event_loop="uvloop"))
    with pytest.raises(EmulatorError, match="event loop 'uvloop' is not available .*install uvloop or use 'asyncio'"):
        backend.start()
    assert not backend.is_running
