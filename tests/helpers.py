"""Small helpers shared by the tests (no fixtures: those live in conftest.py)."""

from __future__ import annotations

import queue
import threading
import time

import grpc
from durabletask.internal import orchestrator_service_pb2 as pb
from durabletask.internal import orchestrator_service_pb2_grpc as stubs
from google.protobuf import wrappers_pb2


def raw_stub(backend) -> stubs.TaskHubSidecarServiceStub:
    """A generated stub on a fresh channel to the backend (for protocol-level calls)."""
    return stubs.TaskHubSidecarServiceStub(grpc.insecure_channel(backend.address))


def wait_until(condition, timeout: float = 10.0, what: str = "condition"):
    """Poll ``condition`` until it returns something truthy, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class RawWorker:
    """A worker speaking the protocol by hand: one GetWorkItems stream read on a thread."""

    def __init__(self, backend, request: pb.GetWorkItemsRequest | None = None):
        self.channel = grpc.insecure_channel(backend.address)
        self.stub = stubs.TaskHubSidecarServiceStub(self.channel)
        self.items: queue.Queue = queue.Queue()
        self.stream = self.stub.GetWorkItems(request or pb.GetWorkItemsRequest())
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for item in self.stream:
                if not item.HasField("healthPing"):
                    self.items.put(item)
        except grpc.RpcError:
            pass

    def next(self, timeout: float = 10.0) -> pb.WorkItem:
        return self.items.get(timeout=timeout)

    def close(self) -> None:
        self.stream.cancel()
        self._thread.join(timeout=5)
        self.channel.close()


def complete_orchestration(stub, item: pb.WorkItem, result: str | None = None, status=None) -> None:
    """Answer an orchestrator work item the way the SDK does when the orchestrator returns."""
    action = pb.OrchestratorAction(
        id=-1,
        completeOrchestration=pb.CompleteOrchestrationAction(
            orchestrationStatus=status if status is not None else pb.ORCHESTRATION_STATUS_COMPLETED,
            result=wrappers_pb2.StringValue(value=result) if result is not None else None,
        ),
    )
    stub.CompleteOrchestratorTask(
        pb.OrchestratorResponse(
            instanceId=item.orchestratorRequest.instanceId, actions=[action], completionToken=item.completionToken
        )
    )
