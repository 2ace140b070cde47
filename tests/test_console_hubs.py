"""The live console with task hubs: the hub of each instance once there is more than one hub, and
the connected workers with their SDK and worker ID."""

from __future__ import annotations

import re

from durabletask.client import TaskHubGrpcClient
from durabletask.worker import TaskHubGrpcWorker

from emulator.console.live import next_view
from tests.helpers import wait_until
from tests.test_console import _text


def test_one_hub_shows_no_hub_column(backend, client):
    client.schedule_new_orchestration("nobody-runs-this", instance_id="lonely")
    text = _text(next_view(backend._server, None))
    assert "lonely" in text
    assert "Task hub" not in text and "task hubs" not in text


def test_several_hubs_show_each_instances_hub_and_the_workers(backend):
    clients = [
        TaskHubGrpcClient(host_address=backend.address, metadata=[("taskhub", h)]) for h in ("orders", "billing")
    ]
    identity = [("taskhub", "orders"), ("workerid", "box-7,999,abc"), ("x-user-agent", "durabletask-js/0.4.0")]
    worker = TaskHubGrpcWorker(host_address=backend.address, metadata=identity)
    worker.start()
    try:
        clients[0].schedule_new_orchestration("nobody-runs-this", instance_id="order-1")
        clients[1].schedule_new_orchestration("nobody-runs-this", instance_id="invoice-1")
        wait_until(lambda: backend.engine.hub("orders").worker_count == 1, what="the orders worker")
        text = _text(next_view(backend._server, None), width=160)
        assert "task hubs 3" in text  # default, orders, billing
        lines = text.splitlines()
        header = next(line for line in lines if "Instance ID" in line)
        assert header.index("Task hub") < header.index("Instance ID")
        assert re.search(r"orders\s*│\s*order-1\b", text) and re.search(r"billing\s*│\s*invoice-1\b", text), text
        workers = text[text.index("Workers (1)") :]
        assert "durabletask-js/0.4.0" in workers and "box-7,999,abc" in workers and "orders" in workers
    finally:
        worker.stop()
        for c in clients:
            c.close()


def test_header_shows_a_hubs_virtual_time_and_skipping(backend):
    from datetime import datetime, timedelta, timezone

    text = _text(next_view(backend._server, None))
    assert " time " not in text  # a hub on wall time needs no word about it
    backend.set_time_skipping(True)
    backend.advance_time(timedelta(days=3))
    text = _text(next_view(backend._server, None), width=200)
    ahead = (datetime.now(timezone.utc) + timedelta(days=3)).strftime("%Y-%m-%d")
    assert re.search(rf"time {ahead} \d\d:\d\d:\d\d skipping", text), text.splitlines()[0]
