"""The dashboard's HTTP API (docs/dashboard-api.md): every endpoint and its errors, with instances
started by the real SDK over gRPC, against an emulator serving the dashboard on a free port."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from durabletask.client import OrchestrationStatus, TaskHubGrpcClient
from durabletask.worker import TaskHubGrpcWorker

from emulator import InMemoryOrchestrationBackend
from tests.helpers import wait_until


def double(ctx, x):
    return x * 2


def doubles(ctx, x):
    return (yield ctx.call_activity(double, input=x))


def explode(ctx, _):
    try:
        raise KeyError("inner cause")
    except KeyError as e:
        raise RuntimeError("outer failure") from e


def fails(ctx, _):
    yield ctx.call_activity(explode)


def waits(ctx, _):
    return (yield ctx.wait_for_external_event("approve"))


def parent(ctx, x):
    return (yield ctx.call_sub_orchestrator(doubles, input=x, instance_id=f"{ctx.instance_id}-child"))


def counter(ctx, value):
    ctx.set_state(ctx.get_state(int, 0) + value)


def sleeps(ctx, _):
    yield ctx.create_timer(ctx.current_utc_datetime + timedelta(hours=1))


@pytest.fixture(params=["memory", "sqlite"])
def dash(request, tmp_path):
    db = str(tmp_path / "dash.db") if request.param == "sqlite" else None
    backend = InMemoryOrchestrationBackend(port=0, db_path=db, dashboard_port=0)
    backend.start()
    worker = TaskHubGrpcWorker(host_address=backend.address)
    for o in (doubles, fails, waits, parent, sleeps):
        worker.add_orchestrator(o)
    for a in (double, explode):
        worker.add_activity(a)
    worker.add_entity(counter)
    worker.start()
    client = TaskHubGrpcClient(host_address=backend.address)
    http = httpx.Client(base_url=backend.dashboard_url, timeout=10)
    yield backend, client, http
    http.close()
    worker.stop()
    client.close()
    backend.stop()


def _finished(client, orchestrator, iid, data=None):
    client.schedule_new_orchestration(orchestrator, input=data, instance_id=iid)
    return client.wait_for_orchestration_completion(iid, timeout=20)


def _error(reply: httpx.Response, status: int, code: str) -> str:
    assert reply.status_code == status, reply.text
    body = reply.json()["error"]
    assert body["code"] == code
    return body["message"]


def test_health_page_openapi_and_the_banner_url(dash):
    backend, _, http = dash
    assert http.get("/healthz").status_code == 204
    page = http.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    spec = http.get("/openapi.json").json()
    assert {"/api/v1/instances", "/api/v1/instances/{instance_id}/terminate", "/api/v1/events"} <= set(spec["paths"])
    assert backend.dashboard_url.startswith("http://localhost:")


def test_the_console_header_shows_the_dashboard_url(dash):
    from rich.console import Console

    from emulator.console import render
    from emulator.console.live import next_view

    backend, _, _ = dash
    console = Console(record=True, width=200, force_terminal=True)
    console.print(render(next_view(backend._server, None)))
    assert f"dashboard {backend.dashboard_url}" in console.export_text()


def test_instances_list_filters_pages_and_counts(dash):
    _, client, http = dash
    for i in range(5):
        _finished(client, doubles, f"ok-{i}", i)
    _finished(client, fails, "bad-1")
    client.schedule_new_orchestration(waits, instance_id="wait-1")
    client.wait_for_orchestration_start("wait-1", timeout=10)

    everything = http.get("/api/v1/instances").json()
    assert [r["instanceId"] for r in everything["instances"]] == ["bad-1"] + [f"ok-{i}" for i in range(5)] + ["wait-1"]
    assert everything["counts"] == {"COMPLETED": 5, "FAILED": 1, "RUNNING": 1} and everything["nextToken"] is None
    failed = http.get("/api/v1/instances", params={"status": "FAILED"}).json()["instances"]
    assert [r["instanceId"] for r in failed] == ["bad-1"]
    assert (
        failed[0]["failure"]["errorType"].endswith("TaskFailedError")
        and "outer failure" in (failed[0]["failure"]["errorMessage"])
    )
    two = http.get("/api/v1/instances", params=[("status", "RUNNING"), ("status", "FAILED")]).json()
    assert [r["instanceId"] for r in two["instances"]] == ["bad-1", "wait-1"]
    by_name = http.get("/api/v1/instances", params={"name": "waits"}).json()["instances"]
    assert [r["instanceId"] for r in by_name] == ["wait-1"]
    by_prefix = http.get("/api/v1/instances", params={"prefix": "ok-"}).json()["instances"]
    assert len(by_prefix) == 5 and all(r["status"] == "COMPLETED" for r in by_prefix)
    future = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
    assert http.get("/api/v1/instances", params={"createdFrom": future}).json()["instances"] == []
    assert len(http.get("/api/v1/instances", params={"createdTo": future}).json()["instances"]) == 7

    seen, token = [], None
    while True:
        page = http.get("/api/v1/instances", params={"pageSize": 3, **({"token": token} if token else {})}).json()
        seen += [r["instanceId"] for r in page["instances"]]
        token = page["nextToken"]
        if token is None:
            break
    assert seen == [r["instanceId"] for r in everything["instances"]]


def test_bad_filters_are_400_with_the_reason(dash):
    _, _, http = dash
    assert "'SLEEPING' is not one of" in _error(
        http.get("/api/v1/instances", params={"status": "SLEEPING"}), 400, "INVALID_ARGUMENT"
    )
    assert "is not an ISO 8601 time" in _error(
        http.get("/api/v1/instances", params={"createdFrom": "yesterday"}), 400, "INVALID_ARGUMENT"
    )
    assert "pageSize" in _error(http.get("/api/v1/instances", params={"pageSize": 0}), 400, "INVALID_ARGUMENT")
    assert "is not a continuation token" in _error(
        http.get("/api/v1/instances", params={"token": "nope"}), 400, "INVALID_ARGUMENT"
    )
    assert "name" in _error(http.post("/api/v1/instances/x/raise-event", json={}), 400, "INVALID_ARGUMENT")


def test_one_instance_its_failure_children_and_history(dash):
    _, client, http = dash
    _finished(client, parent, "fam", 21)
    _finished(client, fails, "broken")
    detail = http.get("/api/v1/instances/fam").json()
    assert detail["status"] == "COMPLETED" and detail["input"] == "21" and detail["output"] == "42"
    assert detail["children"] == ["fam-child"] and detail["failure"] is None
    child = http.get("/api/v1/instances/fam-child").json()
    assert child["parentInstanceId"] == "fam"
    broken = http.get("/api/v1/instances/broken").json()
    failure = broken["failure"]
    assert failure["errorType"].endswith("TaskFailedError") and "outer failure" in failure["errorMessage"]
    history = http.get("/api/v1/instances/fam/history").json()["events"]
    kinds = [e["type"] for e in history]
    assert kinds[:2] == ["orchestratorStarted", "executionStarted"] and "subOrchestrationInstanceCreated" in kinds
    assert kinds[-1] == "executionCompleted"
    created = next(e for e in history if e["type"] == "subOrchestrationInstanceCreated")
    assert created["details"]["instanceId"] == "fam-child" and created["timestamp"]
    # the activity's own failure in the child history carries the stack trace as text
    task_failed = next(
        e for e in http.get("/api/v1/instances/broken/history").json()["events"] if e["type"] == "taskFailed"
    )
    stack = task_failed["details"]["failureDetails"]["stackTrace"]
    assert "raise RuntimeError" in stack and "\n" in stack


def test_instance_ids_with_slashes_and_other_url_characters(dash):
    _, client, http = dash
    for iid in ("tenant/42", "a b?c#d%e&f"):
        _finished(client, doubles, iid, 2)
        detail = http.get(f"/api/v1/instances/{_quote(iid)}").json()
        assert detail["instanceId"] == iid and detail["output"] == "4"
        events = http.get(f"/api/v1/instances/{_quote(iid)}/history").json()["events"]
        assert events[-1]["type"] == "executionCompleted"
    assert _error(http.get("/api/v1/nothing-here"), 404, "NOT_FOUND")


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def test_unknown_instance_is_404_everywhere(dash):
    _, _, http = dash
    for reply in (
        http.get("/api/v1/instances/ghost"),
        http.get("/api/v1/instances/ghost/history"),
        http.post("/api/v1/instances/ghost/terminate", json={}),
        http.post("/api/v1/instances/ghost/suspend", json={}),
        http.delete("/api/v1/instances/ghost"),
    ):
        assert "ghost" in _error(reply, 404, "NOT_FOUND")


def test_actions_terminate_suspend_resume_raise_restart_rewind_purge(dash):
    _, client, http = dash
    client.schedule_new_orchestration(sleeps, instance_id="long")
    client.wait_for_orchestration_start("long", timeout=10)
    assert http.post("/api/v1/instances/long/suspend", json={"reason": "look"}).json() == {}
    wait_until(lambda: client.get_orchestration_state("long").runtime_status == OrchestrationStatus.SUSPENDED)
    assert http.post("/api/v1/instances/long/resume", json={}).status_code == 200
    wait_until(lambda: client.get_orchestration_state("long").runtime_status == OrchestrationStatus.RUNNING)
    assert (
        http.post("/api/v1/instances/long/terminate", json={"output": {"why": "test"}, "recursive": True}).json() == {}
    )
    state = client.wait_for_orchestration_completion("long", timeout=10)
    assert state.runtime_status == OrchestrationStatus.TERMINATED and json.loads(state.serialized_output) == {
        "why": "test"
    }

    client.schedule_new_orchestration(waits, instance_id="gate")
    client.wait_for_orchestration_start("gate", timeout=10)
    assert http.post("/api/v1/instances/gate/raise-event", json={"name": "approve", "data": {"ok": 1}}).json() == {}
    assert json.loads(client.wait_for_orchestration_completion("gate", timeout=10).serialized_output) == {"ok": 1}

    again = http.post("/api/v1/instances/gate/restart", json={"newInstanceId": True}).json()["instanceId"]
    assert again != "gate" and client.get_orchestration_state(again) is not None

    _finished(client, fails, "again")
    assert http.post("/api/v1/instances/again/rewind", json={"reason": "retry"}).json() == {}
    wait_until(
        lambda: (
            any(e["type"] == "executionRewound" for e in http.get("/api/v1/instances/again/history").json()["events"])
            or http.get("/api/v1/instances/again").json()["status"] != "FAILED"
        ),
        what="the rewind",
    )
    message = _error(http.post("/api/v1/instances/gate/rewind", json={}), 409, "FAILED_PRECONDITION")
    assert "only FAILED instances can be rewound" in message
    message = _error(http.post("/api/v1/instances/gate/suspend", json={}), 409, "FAILED_PRECONDITION")
    assert "COMPLETED" in message

    assert http.delete("/api/v1/instances/gate").json() == {"deleted": 1}
    assert client.get_orchestration_state("gate") is None


def test_entities_workers_hubs_and_time(dash):
    backend, client, http = dash
    from durabletask.entities import EntityInstanceId

    client.signal_entity(EntityInstanceId("counter", "c1"), "add", input=1)

    def counted():
        found = http.get("/api/v1/entities").json()["entities"]
        return found and found[0]["state"] == "1"

    wait_until(counted, what="the entity's state")
    entity = http.get("/api/v1/entities").json()["entities"][0]
    assert entity["instanceId"] == "@counter@c1" and entity["name"] == "counter" and entity["key"] == "c1"
    assert entity["backlog"] == 0 and entity["lockedBy"] is None
    workers = http.get("/api/v1/workers").json()
    assert len(workers) == 1 and workers[0]["taskHub"] == "default" and workers[0]["userAgent"]
    assert workers[0]["filters"] is None and "%" not in workers[0]["peer"]
    picky = TaskHubGrpcWorker(host_address=backend.address)
    picky.add_orchestrator(waits)
    picky.use_work_item_filters()
    picky.start()
    try:
        wait_until(lambda: len(http.get("/api/v1/workers").json()) == 2, what="the second worker")
        filtered = [w["filters"] for w in http.get("/api/v1/workers").json() if w["filters"]]
        assert filtered == [{"activity": [], "entity": [], "orchestrator": ["waits"]}]
    finally:
        picky.stop()
    hubs = http.get("/api/v1/hubs").json()
    assert [h["name"] for h in hubs] == ["default"] and hubs[0]["workers"] == 1

    before = http.get("/api/v1/time").json()
    assert before["taskHub"] == "default" and before["timeSkipping"] is False
    moved = http.post("/api/v1/time/advance", json={"seconds": 7200}).json()
    assert moved["offsetSeconds"] >= 7200
    assert http.post("/api/v1/time/skipping", json={"enabled": True}).json()["timeSkipping"] is True
    assert backend.engine.hub().clock.skipping
    assert "only moves forward" in _error(
        http.post("/api/v1/time/advance", json={"seconds": -1}), 400, "INVALID_ARGUMENT"
    )
    # another hub, by ?hub=
    assert http.get("/api/v1/time", params={"hub": "other"}).json()["offsetSeconds"] == 0


def test_event_stream_tells_of_changes(dash):
    _, client, http = dash
    got: list[str] = []
    done = threading.Event()

    def listen():
        with http.stream("GET", "/api/v1/events") as reply:
            assert reply.headers["content-type"].startswith("text/event-stream")
            for line in reply.iter_lines():
                if line.startswith("data:"):
                    got.append(line)
                    if len(got) >= 2:
                        done.set()
                        return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    wait_until(lambda: got, what="the first change event (the current state)")
    _finished(client, doubles, "seen", 1)
    assert done.wait(10), got
    assert json.loads(got[1].removeprefix("data:"))["version"] == 2


def test_cross_origin_and_foreign_host_requests_are_refused(dash):
    backend, client, http = dash
    client.schedule_new_orchestration(waits, instance_id="victim")
    client.wait_for_orchestration_start("victim", timeout=10)
    evil = http.post("/api/v1/instances/victim/terminate", json={}, headers={"Origin": "http://evil.example"})
    assert "cross-origin request refused" in _error(evil, 403, "FORBIDDEN")
    rebound = http.get("/api/v1/instances", headers={"Host": f"evil.example:{backend.dashboard_url.split(':')[-1]}"})
    assert "is not this dashboard's address" in _error(rebound, 403, "FORBIDDEN")
    assert client.get_orchestration_state("victim").runtime_status == OrchestrationStatus.RUNNING
    own = http.post(
        "/api/v1/instances/victim/terminate", json={}, headers={"Origin": backend.dashboard_url.rstrip("/")}
    )
    assert own.status_code == 200
    assert client.wait_for_orchestration_completion("victim", timeout=10).runtime_status == (
        OrchestrationStatus.TERMINATED
    )


def test_a_hub_outside_a_fixed_set_is_404():
    backend = InMemoryOrchestrationBackend(port=0, task_hubs=["alpha"], dashboard_port=0)
    backend.start()
    try:
        reply = httpx.get(backend.dashboard_url + "api/v1/instances", params={"hub": "beta"})
        assert _error(reply, 404, "NOT_FOUND") == "Task hub not found: beta"
        assert httpx.get(backend.dashboard_url + "api/v1/instances", params={"hub": "alpha"}).status_code == 200
    finally:
        backend.stop()


def test_start_serves_the_dashboard_and_the_health_port(tmp_path):
    from tests.test_cli import _start

    proc, _ = _start("--port", "0", "--dashboard", "--dashboard-port", "0", "--health-port", "0")
    try:
        url = proc.banner.split("dashboard ", 1)[1].split(" ", 1)[0].rstrip(",")
        assert httpx.get(url + "healthz").status_code == 204
        assert httpx.get(url + "api/v1/hubs").json()[0]["name"] == "default"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_an_explicit_dashboard_port_in_use_is_an_error_the_default_one_a_warning(tmp_path):
    import socket

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        with pytest.raises(Exception, match=f"cannot listen on 127.0.0.1:{port}"):
            InMemoryOrchestrationBackend(port=0, dashboard_port=port).start()
        cli = subprocess.run(
            [sys.executable, "-m", "emulator", "start", "--port", "0", "--dashboard", "--dashboard-port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert cli.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in cli.stderr
    finally:
        taken.close()
