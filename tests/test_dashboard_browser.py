"""The web dashboard in a real browser: Debian's Chromium driven by Playwright (sync API), against a
real emulator whose instances real SDK workers run.

scripts/test installs Chromium (scripts/_browser.sh) and points DURABLETASK_EMULATOR_CHROMIUM at it.
With DURABLETASK_EMULATOR_SCREENSHOTS=1 the tests also write the README's screenshots to docs/images/.
Nothing here sleeps for readiness: Playwright's expect() retries until its timeout, wait_until polls.
"""

from __future__ import annotations

import json
import os
import re
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from durabletask import entities
from durabletask.client import OrchestrationStatus, TaskHubGrpcClient
from durabletask.worker import TaskHubGrpcWorker
from playwright.sync_api import Page, expect, sync_playwright

from emulator import InMemoryOrchestrationBackend
from emulator.testing import register
from tests.helpers import wait_until

CHROMIUM = os.environ.get("DURABLETASK_EMULATOR_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = os.environ.get("DURABLETASK_EMULATOR_SCREENSHOTS") == "1"
IMAGES = Path(__file__).resolve().parent.parent / "docs" / "images"
VIEWPORT = {"width": 1280, "height": 800}
REBIND = "MAP rebind.test 127.0.0.1"

expect.set_options(timeout=10_000)


# ------------------------------------------------------------------------------------ orchestrations


def reserve_stock(ctx, order):
    return f"{order['quantity']} x {order['sku']}"


def charge_card(ctx, order):
    return {"charged": order["amount"], "currency": "EUR"}


def ship(ctx, order):
    return f"parcel for {order['sku']}"


def process_order(ctx, order):
    """Activities in a row."""
    reserved = yield ctx.call_activity(reserve_stock, input=order)
    receipt = yield ctx.call_activity(charge_card, input=order)
    return {"reserved": reserved, **receipt}


def fulfil_order(ctx, order):
    """A sub-orchestration, then an activity."""
    payment = yield ctx.call_sub_orchestrator(process_order, input=order, instance_id=f"{ctx.instance_id}-payment")
    parcel = yield ctx.call_activity(ship, input=order)
    return {"payment": payment, "parcel": parcel}


class CatalogError(Exception):
    pass


def download_catalog(ctx, rows):
    return len(rows)


def _price(row: dict) -> float:
    return row["price"]


def import_catalog(ctx, rows):
    """Fails with a nested exception: the KeyError becomes the failure's inner failure."""
    count = yield ctx.call_activity(download_catalog, input=rows)
    try:
        _price(rows[count - 1])
    except KeyError as e:
        raise CatalogError(f"row {count} has no price") from e
    return count


def await_approval(ctx, request):
    """Waits for the external event "approve"."""
    approver = yield ctx.wait_for_external_event("approve")
    return {"request": request, "approvedBy": approver}


def escalate(ctx, request):
    """A parent whose sub-orchestration waits for "approve"."""
    return (yield ctx.call_sub_orchestrator(await_approval, input=request, instance_id=f"{ctx.instance_id}-approval"))


def nightly_report(ctx, _):
    """Long-running: a timer an hour away."""
    yield ctx.create_timer(timedelta(hours=1))
    return "report sent"


def inventory(ctx: entities.EntityContext, amount):
    ctx.set_state(ctx.get_state(int, 0) + amount)


ORCHESTRATORS = [process_order, fulfil_order, import_catalog, await_approval, escalate, nightly_report]
ACTIVITIES = [reserve_stock, charge_card, ship, download_catalog]
ORDER = {"sku": "TEA-0042", "quantity": 3, "amount": 17.4}
CATALOG = [{"sku": "TEA-0041", "price": 5.8}, {"sku": "TEA-0042", "price": 5.8}, {"sku": "TEA-0043"}]


# ------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def emulator():
    b = InMemoryOrchestrationBackend(port=0, dashboard_port=0)
    b.start()
    yield b
    b.stop()


@pytest.fixture(scope="module")
def url(emulator) -> str:
    return emulator.dashboard_url


@pytest.fixture(scope="module")
def client(emulator):
    c = TaskHubGrpcClient(host_address=emulator.address)
    yield c
    c.close()


@pytest.fixture(scope="module", autouse=True)
def worker(emulator):
    w = register(TaskHubGrpcWorker(host_address=emulator.address), ORCHESTRATORS, ACTIVITIES, [inventory])
    w.start()
    yield w
    w.stop()


@pytest.fixture(scope="module")
def api(url):
    with httpx.Client(base_url=url, timeout=10) as c:
        yield c


@pytest.fixture(scope="module")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install Debian's package (apt-get install chromium; "
            "scripts/test does it) or point DURABLETASK_EMULATOR_CHROMIUM at a Chromium binary",
            pytrace=False,
        )
    with sync_playwright() as p:
        # rebind.test resolves to 127.0.0.1 in this browser only: a DNS rebinding attacker's name
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", f"--host-resolver-rules={REBIND}"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def context(browser):
    """One browser context (the page keeps nothing in cookies or storage); a new page is cheaper than a context."""
    ctx = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context) -> Page:
    """A fresh page at 1280x800; uncaught errors in it fail the test."""
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    pg.close()
    assert not errors, f"uncaught errors in the page: {errors}"


# -------------------------------------------------------------------------------------------- helpers


def tid(page: Page, test_id: str):
    return page.get_by_test_id(test_id)


def row(page: Page, instance_id: str):
    return page.locator(f'[data-testid="instance-row"][data-instance-id="{instance_id}"]')


def open_instance(page: Page, url: str, instance_id: str) -> None:
    page.goto(f"{url}#/instances/{quote(instance_id, safe='')}")
    expect(tid(page, "instance-status")).to_be_visible()


def screenshot(page: Page, name: str) -> None:
    """docs/images/dashboard-NAME.png, only with DURABLETASK_EMULATOR_SCREENSHOTS=1 (CI keeps the tree clean)."""
    if SCREENSHOTS:
        IMAGES.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(IMAGES / f"dashboard-{name}.png"))


def status(client: TaskHubGrpcClient, instance_id: str):
    state = client.get_orchestration_state(instance_id)
    return state.runtime_status if state else None


def completed(client: TaskHubGrpcClient, instance_id: str, orchestrator, data=None):
    client.schedule_new_orchestration(orchestrator, input=data, instance_id=instance_id)
    state = client.wait_for_orchestration_completion(instance_id, timeout=10)
    assert state is not None
    return state


def running(client: TaskHubGrpcClient, instance_id: str, orchestrator, data=None) -> str:
    client.schedule_new_orchestration(orchestrator, input=data, instance_id=instance_id)
    client.wait_for_orchestration_start(instance_id, timeout=10)
    return instance_id


# -------------------------------------------------------------------------------------- instance list


def test_instances_list_shows_each_status_and_updates_live(page, url, client, api):
    page.goto(f"{url}#/instances")
    # the first load is done ("Loading..." has become rows or "no instances yet")
    expect(tid(page, "instance-row").or_(tid(page, "instances-empty")).first).to_be_visible()
    expect(row(page, "order-1001")).to_have_count(0)
    expect(tid(page, "live-status")).to_have_attribute("data-mode", "live")  # on the event stream
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    # started after the page loaded: they must appear without a reload
    completed(client, "order-1001", process_order, ORDER)
    completed(client, "order-1002", fulfil_order, ORDER)
    completed(client, "catalog-import-07", import_catalog, CATALOG)
    running(client, "approval-3f9c", await_approval, {"amount": 1200})
    running(client, "report-nightly", nightly_report)
    running(client, "approval-77d1", await_approval, {"amount": 80})
    client.terminate_orchestration("approval-77d1", output="withdrawn")
    client.wait_for_orchestration_completion("approval-77d1", timeout=10)
    running(client, "approval-51aa", await_approval, {"amount": 640})
    client.suspend_orchestration("approval-51aa")
    wait_until(lambda: status(client, "approval-51aa") == OrchestrationStatus.SUSPENDED, what="suspended")

    expected = {
        "order-1001": "COMPLETED",
        "order-1002": "COMPLETED",
        "order-1002-payment": "COMPLETED",
        "catalog-import-07": "FAILED",
        "approval-3f9c": "RUNNING",
        "report-nightly": "RUNNING",
        "approval-77d1": "TERMINATED",
        "approval-51aa": "SUSPENDED",
    }
    for instance_id, st in expected.items():
        expect(row(page, instance_id)).to_contain_text(st)
    expect(row(page, "order-1001")).to_contain_text("process_order")
    expect(row(page, "catalog-import-07")).to_contain_text("CatalogError")
    assert page.evaluate("window.__sameDocument === true"), "the page reloaded instead of updating in place"

    counts = api.get("api/v1/instances").json()["counts"]
    expect(tid(page, "status-chip-ALL")).to_have_attribute("data-count", str(sum(counts.values())))
    for st, n in counts.items():
        if n:
            expect(tid(page, f"status-chip-{st}")).to_have_attribute("data-count", str(n))
    screenshot(page, "instances")

    tid(page, "status-chip-FAILED").click()
    expect(tid(page, "status-chip-FAILED")).to_have_class(re.compile(r"\bactive\b"))
    expect(tid(page, "instance-row")).to_have_count(counts["FAILED"])
    expect(row(page, "catalog-import-07")).to_be_visible()

    tid(page, "status-chip-ALL").click()
    row(page, "order-1001").get_by_test_id("instance-link").click()
    expect(page).to_have_url(re.compile(re.escape(f"{url}#/instances/order-1001") + r"(\?|$)"))
    expect(tid(page, "instance-status")).to_have_text("COMPLETED")


def test_filter_by_status_name_and_prefix(page, url, client):
    completed(client, "flt-a", process_order, ORDER)
    running(client, "flt-b", await_approval)
    completed(client, "flt-c", import_catalog, CATALOG)
    page.goto(f"{url}#/instances")
    rows = tid(page, "instance-row")

    tid(page, "filter-prefix").fill("flt-")
    tid(page, "filter-apply").click()
    expect(rows).to_have_count(3)
    expect(page).to_have_url(re.compile(r"[?&]prefix=flt-(&|$)"))  # the filter is in the address...
    page.reload()
    expect(tid(page, "filter-prefix")).to_have_value("flt-")  # ...so a reload (or a shared link) keeps it
    expect(rows).to_have_count(3)

    tid(page, "filter-status").select_option("RUNNING")
    tid(page, "filter-apply").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-instance-id", "flt-b")

    tid(page, "filter-status").select_option("FAILED")
    tid(page, "filter-apply").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-instance-id", "flt-c")

    tid(page, "filter-clear").click()
    expect(tid(page, "filter-prefix")).to_have_value("")
    expect(row(page, "flt-a")).to_be_visible()
    assert rows.count() >= 3

    tid(page, "filter-name").fill("import_catalog")
    tid(page, "filter-apply").click()
    expect(row(page, "flt-c")).to_be_visible()
    expect(row(page, "flt-a")).to_have_count(0)

    tid(page, "filter-created-from").fill("2099-01-01T00:00:00")
    tid(page, "filter-apply").click()
    expect(tid(page, "instances-empty")).to_have_text("No instances match these filters.")
    expect(page).to_have_url(re.compile(r"[?&]createdFrom=2099-01-01T00%3A00%3A00"))
    client.raise_orchestration_event("flt-b", "approve", data="cleanup")


def test_unknown_instance_shows_not_found(page, url):
    page.goto(f"{url}#/instances/no-such-instance")
    expect(tid(page, "instance-not-found")).to_contain_text("no-such-instance")
    expect(tid(page, "error-banner")).to_be_hidden()


# ------------------------------------------------------------------------------------ instance detail


def test_instance_page_shows_input_output_history_timeline_and_children(page, url, client):
    completed(client, "order-2001", fulfil_order, ORDER)
    open_instance(page, url, "order-2001")
    expect(tid(page, "instance-status")).to_have_text("COMPLETED")
    expect(tid(page, "instance-input")).to_contain_text("TEA-0042")
    expect(tid(page, "instance-output")).to_contain_text("parcel for TEA-0042")

    history = tid(page, "history-table")
    for text in ("executionStarted", "subOrchestrationInstanceCreated", "taskScheduled", "ship", "executionCompleted"):
        expect(history).to_contain_text(text)

    timeline = tid(page, "timeline")
    expect(timeline).to_be_visible()
    assert timeline.evaluate("e => e.tagName.toLowerCase()") == "svg"
    kinds = timeline.get_by_test_id("timeline-row")
    expect(kinds).to_have_count(3)  # the orchestration, its sub-orchestration, its activity
    assert [k.get_attribute("data-kind") for k in kinds.all()] == ["orchestration", "suborchestration", "activity"]
    bars = timeline.locator("rect.tl-bar")
    expect(bars).to_have_count(3)
    assert all(float(b.get_attribute("width")) > 0 for b in bars.all())
    screenshot(page, "instance")

    expect(tid(page, "instance-child")).to_have_text("order-2001-payment")
    tid(page, "instance-child").click()
    expect(page).to_have_url(re.compile(re.escape(f"{url}#/instances/order-2001-payment") + r"(\?|$)"))
    expect(tid(page, "instance-parent")).to_have_text("order-2001")
    expect(tid(page, "instance-status")).to_have_text("COMPLETED")
    expect(tid(page, "history-table")).to_contain_text("charge_card")


@pytest.mark.parametrize("instance_id", ["odd id #5?x=%41&y", "tenant/42"], ids=["punctuation", "slash"])
def test_instance_ids_with_url_characters(page, url, client, instance_id):
    """Instance IDs are free text: the list links to them and the instance page and its actions work."""
    completed(client, instance_id, process_order, ORDER)
    page.goto(f"{url}#/instances")
    row(page, instance_id).get_by_test_id("instance-link").click()
    expect(tid(page, "instance-id")).to_have_text(instance_id)
    expect(tid(page, "instance-status")).to_have_text("COMPLETED")
    expect(tid(page, "history-table")).to_contain_text("charge_card")
    tid(page, "action-purge").click()
    tid(page, "confirm-ok").click()
    expect(page).to_have_url(re.compile(re.escape(f"{url}#/instances?")))
    assert client.get_orchestration_state(instance_id) is None


def test_failed_instance_shows_failure_and_stack_trace(page, url, client):
    state = completed(client, "catalog-import-08", import_catalog, CATALOG)
    assert state.runtime_status == OrchestrationStatus.FAILED
    open_instance(page, url, "catalog-import-08")
    expect(tid(page, "instance-status")).to_have_text("FAILED")
    failure = tid(page, "failure")
    expect(tid(page, "failure-type")).to_contain_text("CatalogError")
    expect(tid(page, "failure-message")).to_have_text("row 3 has no price")
    stack = tid(page, "failure-stack")
    expect(stack).to_contain_text("test_dashboard_browser.py")
    expect(stack).to_contain_text("import_catalog")
    assert "\n" in stack.inner_text(), "the stack trace is shown as lines"
    inner = tid(page, "inner-failure")
    expect(inner).to_contain_text("KeyError")
    expect(inner).to_contain_text("price")
    expect(tid(page, "inner-failure-stack")).to_contain_text("_price")
    expect(tid(page, "history-table")).to_contain_text("CatalogError")
    failure.scroll_into_view_if_needed()
    screenshot(page, "failure")


# ---------------------------------------------------------------------------------------------- actions


def test_terminate_a_running_instance(page, url, client):
    running(client, "report-terminate", nightly_report)
    open_instance(page, url, "report-terminate")
    expect(tid(page, "instance-status")).to_have_text("RUNNING")
    tid(page, "action-terminate").click()
    tid(page, "terminate-output").fill('{"by": "dashboard"}')
    tid(page, "confirm-ok").click()
    expect(tid(page, "instance-status")).to_have_text("TERMINATED")
    state = client.get_orchestration_state("report-terminate")
    assert state.runtime_status == OrchestrationStatus.TERMINATED
    assert json.loads(state.serialized_output) == {"by": "dashboard"}


def test_terminate_cancelled_leaves_the_instance_running(page, url, client):
    running(client, "report-keep", nightly_report)
    open_instance(page, url, "report-keep")
    tid(page, "action-terminate").click()
    tid(page, "confirm-cancel").click()
    expect(tid(page, "confirm-ok")).to_be_hidden()
    expect(tid(page, "instance-status")).to_have_text("RUNNING")
    assert status(client, "report-keep") == OrchestrationStatus.RUNNING
    client.terminate_orchestration("report-keep")


def test_terminate_not_recursive_leaves_the_sub_orchestration_running(page, url, client):
    running(client, "escalate-1", escalate)
    child = "escalate-1-approval"
    wait_until(lambda: status(client, child) == OrchestrationStatus.RUNNING, what="child running")
    open_instance(page, url, "escalate-1")
    tid(page, "action-terminate").click()
    tid(page, "terminate-recursive").uncheck()
    tid(page, "confirm-ok").click()
    expect(tid(page, "instance-status")).to_have_text("TERMINATED")
    assert status(client, child) == OrchestrationStatus.RUNNING
    client.raise_orchestration_event(child, "approve", data="cleanup")


def test_raise_event_completes_the_waiting_instance(page, url, client):
    running(client, "approval-raise", await_approval, {"amount": 300})
    open_instance(page, url, "approval-raise")
    expect(tid(page, "instance-status")).to_have_text("RUNNING")
    tid(page, "action-raise-event").click()
    tid(page, "confirm-ok").click()  # no event name: the dialog stays open and says why
    expect(tid(page, "modal-error")).to_have_text("An event name is needed.")
    expect(tid(page, "modal")).to_be_visible()
    tid(page, "raise-event-name").fill("approve")
    tid(page, "raise-event-data").fill('"alice"')
    tid(page, "confirm-ok").click()
    expect(tid(page, "instance-status")).to_have_text("COMPLETED")
    expect(tid(page, "instance-output")).to_contain_text("alice")
    expect(tid(page, "history-table")).to_contain_text("eventRaised")
    state = client.get_orchestration_state("approval-raise")
    assert json.loads(state.serialized_output) == {"request": {"amount": 300}, "approvedBy": "alice"}


def test_suspend_and_resume(page, url, client):
    running(client, "approval-suspend", await_approval)
    open_instance(page, url, "approval-suspend")
    tid(page, "action-suspend").click()
    tid(page, "confirm-ok").click()
    expect(tid(page, "instance-status")).to_have_text("SUSPENDED")
    assert status(client, "approval-suspend") == OrchestrationStatus.SUSPENDED
    tid(page, "action-resume").click()
    tid(page, "confirm-ok").click()
    expect(tid(page, "instance-status")).to_have_text("RUNNING")
    assert status(client, "approval-suspend") == OrchestrationStatus.RUNNING
    # a change made elsewhere shows up on the open page by itself
    client.raise_orchestration_event("approval-suspend", "approve", data="bob")
    expect(tid(page, "instance-status")).to_have_text("COMPLETED")
    expect(tid(page, "instance-output")).to_contain_text("bob")


def test_restart_then_purge(page, url, client, api):
    completed(client, "order-3000", process_order, ORDER)  # stays in the list after the purge
    completed(client, "order-3001", process_order, ORDER)
    first = api.get("api/v1/instances/order-3001").json()["executionId"]
    open_instance(page, url, "order-3001")
    tid(page, "action-restart").click()
    tid(page, "confirm-ok").click()
    wait_until(lambda: api.get("api/v1/instances/order-3001").json()["executionId"] != first, what="restarted")
    client.wait_for_orchestration_completion("order-3001", timeout=10)
    expect(tid(page, "instance-status")).to_have_text("COMPLETED")

    tid(page, "action-purge").click()
    tid(page, "confirm-ok").click()
    wait_until(lambda: client.get_orchestration_state("order-3001") is None, what="purged")
    expect(page).to_have_url(re.compile(re.escape(f"{url}#/instances?")))  # back to the list
    expect(tid(page, "instance-row").first).to_be_visible()
    expect(row(page, "order-3001")).to_have_count(0)


def test_restart_with_a_new_instance_id(page, url, client):
    completed(client, "order-3002", process_order, ORDER)
    open_instance(page, url, "order-3002")
    tid(page, "action-restart").click()
    tid(page, "restart-new-id").check()
    tid(page, "confirm-ok").click()
    expect(tid(page, "instance-id")).not_to_have_text("order-3002")  # the page moved to the new instance
    new_id = tid(page, "instance-id").inner_text()
    expect(page).to_have_url(re.compile(re.escape(f"{url}#/instances/{quote(new_id, safe='')}") + r"(\?|$)"))
    expect(tid(page, "instance-status")).to_have_text("COMPLETED")
    expect(tid(page, "instance-input")).to_contain_text("TEA-0042")
    assert client.get_orchestration_state(new_id).runtime_status == OrchestrationStatus.COMPLETED
    assert client.get_orchestration_state("order-3002").runtime_status == OrchestrationStatus.COMPLETED


def test_refused_action_shows_the_api_error(page, url, client):
    completed(client, "order-4001", process_order, ORDER)
    open_instance(page, url, "order-4001")
    expect(tid(page, "instance-status")).to_have_text("COMPLETED")
    expect(tid(page, "error-banner")).to_be_hidden()
    tid(page, "action-rewind").click()
    with page.expect_response(lambda r: "/order-4001/rewind" in r.url) as answer:
        tid(page, "confirm-ok").click()
    response = answer.value
    assert response.status == 409
    error = response.json()["error"]
    assert error["code"] == "FAILED_PRECONDITION"
    banner = tid(page, "error-banner")
    expect(banner).to_be_visible()
    expect(tid(page, "error-banner-message")).to_have_text(f"FAILED_PRECONDITION: {error['message']}")
    expect(tid(page, "modal")).to_be_hidden()
    expect(tid(page, "instance-status")).to_have_text("COMPLETED")
    tid(page, "error-banner-close").click()
    expect(banner).to_be_hidden()


# ------------------------------------------------------------------------------- other pages, hubs


def test_entities_and_workers_pages(page, url, client):
    client.signal_entity(entities.EntityInstanceId("inventory", "tea-0042"), "add", 3)
    page.goto(f"{url}#/instances")
    tid(page, "nav-entities").click()
    expect(page).to_have_url(re.compile(re.escape(f"{url}#/entities?")))
    entity = page.locator('[data-testid="entity-row"][data-entity-id="@inventory@tea-0042"]')
    expect(entity).to_contain_text("inventory")
    expect(entity.get_by_test_id("entity-state")).to_have_text("3")
    tid(page, "nav-workers").click()
    expect(page).to_have_url(re.compile(re.escape(f"{url}#/workers?")))
    expect(tid(page, "worker-row")).to_have_count(1)
    expect(tid(page, "worker-row")).to_contain_text("grpc-python")  # the SDK's user agent


def test_hub_select_switches_task_hub(page, url, emulator):
    hub = emulator.task_hub("reports")
    try:
        hub.client().schedule_new_orchestration("monthly_report", instance_id="reports-only")
        page.goto(f"{url}#/instances")
        expect(tid(page, "hub-select").locator("option", has_text="reports")).to_have_count(1)
        expect(row(page, "reports-only")).to_have_count(0)
        tid(page, "hub-select").select_option("reports")
        expect(row(page, "reports-only")).to_be_visible()
        expect(row(page, "reports-only")).to_contain_text("PENDING")
        expect(tid(page, "instance-row")).to_have_count(1)
    finally:
        hub.close()


def test_paging_through_the_instances(page, url, emulator):
    hub = emulator.task_hub("paging")
    try:
        c = hub.client()
        for i in range(55):
            c.schedule_new_orchestration("nobody_runs_me", instance_id=f"page-{i:03}")
        page.goto(f"{url}#/instances?hub=paging")
        rows = tid(page, "instance-row")
        expect(rows).to_have_count(50)
        expect(rows.first).to_have_attribute("data-instance-id", "page-000")
        expect(tid(page, "prev-page")).to_be_disabled()
        tid(page, "next-page").click()
        expect(rows).to_have_count(5)
        expect(rows.first).to_have_attribute("data-instance-id", "page-050")
        expect(tid(page, "next-page")).to_be_disabled()
        expect(tid(page, "page-info")).to_contain_text("page 2")
        tid(page, "prev-page").click()
        expect(rows).to_have_count(50)
        expect(rows.last).to_have_attribute("data-instance-id", "page-049")
    finally:
        hub.close()


def test_clock_advance_and_time_skipping_fire_timers(page, url, emulator, api):
    hub = emulator.task_hub("clock")
    try:
        c = hub.client()
        hub.worker(orchestrators=[nightly_report])
        running(c, "report-advance", nightly_report)
        page.goto(f"{url}#/instances/report-advance?hub=clock")
        expect(tid(page, "instance-status")).to_have_text("RUNNING")
        expect(tid(page, "timeline").locator('[data-kind="timer"]')).to_have_count(1)
        expect(tid(page, "clock-offset")).to_be_hidden()
        tid(page, "clock-advance").click()
        tid(page, "advance-duration").fill("1h")
        tid(page, "confirm-ok").click()
        expect(tid(page, "instance-status")).to_have_text("COMPLETED")
        expect(tid(page, "instance-output")).to_contain_text("report sent")
        expect(tid(page, "clock-offset")).to_be_visible()
        expect(tid(page, "clock-offset")).to_contain_text("1h")
        assert api.get("api/v1/time", params={"hub": "clock"}).json()["offsetSeconds"] >= 3600

        expect(tid(page, "clock-skipping")).to_have_attribute("aria-pressed", "false")
        tid(page, "clock-skipping").click()
        expect(tid(page, "clock-skipping")).to_have_attribute("aria-pressed", "true")
        expect(tid(page, "clock-skipping-badge")).to_be_visible()
        assert api.get("api/v1/time", params={"hub": "clock"}).json()["timeSkipping"] is True
        c.schedule_new_orchestration(nightly_report, instance_id="report-skipped")
        assert c.wait_for_orchestration_completion("report-skipped", timeout=10).runtime_status == (
            OrchestrationStatus.COMPLETED
        )
    finally:
        hub.close()


# ------------------------------------------------------------------------------------------ security


class _OtherOrigin(BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"<!doctype html><title>elsewhere</title><p>another origin</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def other_origin():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OtherOrigin)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_cross_origin_post_is_refused(page, url, client, other_origin):
    running(client, "approval-csrf", await_approval)
    page.goto(other_origin)
    target = f"{url}api/v1/instances/approval-csrf/terminate"
    # a "simple" request (no preflight): the browser sends it; the API must refuse it
    with page.expect_response(target) as answer:
        page.evaluate(
            """t => fetch(t, {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"},
                             body: JSON.stringify({output: "csrf"})}).then(() => "sent", e => String(e))""",
            target,
        )
    assert answer.value.status == 403
    # a JSON request needs a preflight, which the API does not grant: fetch fails
    outcome = page.evaluate(
        """t => fetch(t, {method: "POST", headers: {"Content-Type": "application/json"},
                         body: JSON.stringify({output: "csrf"})}).then(r => "status " + r.status, e => "refused")""",
        target,
    )
    assert outcome == "refused"
    assert status(client, "approval-csrf") == OrchestrationStatus.RUNNING
    client.raise_orchestration_event("approval-csrf", "approve", data="cleanup")


def test_dns_rebinding_host_is_refused(page, emulator, client):
    """A page on another name that resolves to the dashboard's address gets nothing (Host is checked)."""
    running(client, "approval-rebind", await_approval)
    port = emulator.dashboard_url.rstrip("/").rsplit(":", 1)[1]
    evil = f"http://rebind.test:{port}/"
    response = page.goto(evil)
    assert response.status == 403
    assert response.json()["error"]["code"] == "FORBIDDEN"
    # same origin as far as the browser knows, so nothing stops the fetch but the Host check
    answer = page.evaluate(
        """t => fetch(t, {method: "POST", headers: {"Content-Type": "application/json"}, body: "{}"})
                .then(r => r.status)""",
        f"{evil}api/v1/instances/approval-rebind/terminate",
    )
    assert answer == 403
    listing = page.evaluate("t => fetch(t).then(r => r.status)", f"{evil}api/v1/instances")
    assert listing == 403
    assert status(client, "approval-rebind") == OrchestrationStatus.RUNNING
    client.raise_orchestration_event("approval-rebind", "approve", data="cleanup")
