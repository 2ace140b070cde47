"""Every example of the user's description (shared/seed.md) as written; only the import says `emulator`."""

import random
import pytest
from emulator import create_test_backend
from durabletask.client import TaskHubGrpcClient
from durabletask.worker import TaskHubGrpcWorker

@pytest.fixture
def backend():
    # Use a random port to avoid conflicts
    port = random.randint(50000, 60000)
    backend = create_test_backend(port=port)
    yield backend, port
    backend.stop()
    backend.reset()

def test_orchestration(backend):
    backend_instance, port = backend
    client = TaskHubGrpcClient(host_address=f"localhost:{port}")
    worker = TaskHubGrpcWorker(host_address=f"localhost:{port}")
    # ...  (the seed elides the body; here it runs one orchestration on the random port)
    def hello(ctx, name):
        return f"Hello, {name}!"

    def orchestrator(ctx, _):
        return (yield ctx.call_activity(hello, input="port"))

    worker.add_orchestrator(orchestrator)
    worker.add_activity(hello)
    worker.start()
    try:
        iid = client.schedule_new_orchestration(orchestrator)
        state = client.wait_for_orchestration_completion(iid, timeout=10)
        assert state.serialized_output == '"Hello, port!"'
    finally:
        worker.stop()
