"""The SDK's history-export extension (durabletask.extensions.history_export) over real gRPC.

``ExportHistoryClient.delete_job`` signals the job entity ``delete`` (fire and forget), then
terminates the job's orchestration, waits for it to end and purges it. The SDK's own e2e test
(tests/durabletask/extensions/history_export/test_orchestrator.py,
``test_orchestrator_exits_when_entity_is_deleted_mid_run``) asserts that the job is gone as soon
as ``delete_job`` returns. On the real service that holds because TerminateInstance is graceful:
it queues an ExecutionTerminated message that a worker must process (durabletask-go
``TerminateInstance`` -> ``AddNewOrchestrationEvent``), so the wait spans a worker round trip
queued after the entity's ``delete``. A backend that ends the instance inside the Terminate call
lets ``delete_job`` return while the ``delete`` batch still waits for a busy worker, and the job
is still ACTIVE. Timing decides it, so one test body runs many jobs, each deleted while its
export fan-out keeps the worker busy (and the entity idle: no call of the orchestration queued).
"""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from durabletask import task
from durabletask.client import OrchestrationStatus
from durabletask.extensions.history_export import (
    ExportDestination,
    ExportFormat,
    ExportFormatKind,
    ExportHistoryClient,
    ExportJobCreationOptions,
    ExportMode,
)
from durabletask.extensions.history_export import orchestrator as export_orchestrator
from durabletask.extensions.history_export.activities import HistoryExportContext, build_activities
from durabletask.extensions.history_export.entity import ExportJobEntity
from durabletask.worker import ConcurrencyOptions

from tests.helpers import wait_until

JOBS = 40
SEEDED = 20  # finished instances each job exports, all in its first page
POOL = 4  # the worker's threads, as on a small machine, so the exports keep it busy everywhere


class MemoryWriter:
    """A HistoryWriter keeping blobs in memory (the extension's pluggable destination)."""

    def __init__(self) -> None:
        self.blobs: dict[str, str] = {}
        self._written = threading.Condition()

    def write(self, *, instance_id, container, blob_name, payload, content_type, content_encoding, metadata=None):
        with self._written:
            self.blobs[f"{container}/{blob_name}"] = instance_id
            self._written.notify_all()

    def wait_for_blob(self, prefix: str, timeout: float = 10.0) -> bool:
        """Wait until a blob under ``prefix/`` (one job's destination) has been written."""
        with self._written:
            return self._written.wait_for(lambda: any(n.startswith(f"exports/{prefix}/") for n in self.blobs), timeout)


def echo(ctx: task.OrchestrationContext, value):
    return value


@pytest.fixture
def writer() -> MemoryWriter:
    return MemoryWriter()


@pytest.fixture
def export_client(client, make_worker, writer, monkeypatch) -> ExportHistoryClient:
    """The real extension's entity, orchestrator and activities on one SDK worker."""
    # The SDK's own tests shorten these test seams the same way.
    monkeypatch.setattr(export_orchestrator, "_CONTINUOUS_IDLE_DELAY_OVERRIDE", timedelta(milliseconds=200))
    monkeypatch.setattr(export_orchestrator, "_BATCH_RETRY_BACKOFF_OVERRIDE", timedelta(milliseconds=100))
    context = HistoryExportContext(client=client, writer=writer)
    make_worker(
        orchestrators=[export_orchestrator.export_job_orchestrator, echo],
        activities=build_activities(lambda: context),
        entities=[ExportJobEntity],
        concurrency_options=ConcurrencyOptions(maximum_thread_pool_workers=POOL),
    )
    return ExportHistoryClient(client, writer)


def _continuous_job(job_id: str) -> ExportJobCreationOptions:
    return ExportJobCreationOptions(
        mode=ExportMode.CONTINUOUS,
        completed_time_from=datetime.now(timezone.utc) - timedelta(hours=1),
        destination=ExportDestination(container="exports", prefix=job_id),
        format=ExportFormat(kind=ExportFormatKind.JSON),
        max_instances_per_batch=SEEDED,
    )


@pytest.mark.timeout(120)
def test_delete_job_leaves_no_job_behind(client, export_client, writer):
    for i in range(SEEDED):
        iid = client.schedule_new_orchestration(echo, input=i)
        assert client.wait_for_orchestration_completion(iid, timeout=15).runtime_status == OrchestrationStatus.COMPLETED

    still_there = []
    for n in range(JOBS):
        job_id = uuid.uuid4().hex
        desc = export_client.create_job(_continuous_job(job_id), job_id=job_id)
        assert writer.wait_for_blob(job_id), f"job {n} exported nothing"
        export_client.delete_job(job_id)
        after = export_client.get_job(job_id)
        if after is not None:
            still_there.append((n, after.status.value))
        # A late delete still lands: let it, so that each job is judged on its own.
        wait_until(lambda j=job_id: export_client.get_job(j) is None, what=f"job {n} deleted at last")
        assert client.get_orchestration_state(desc.orchestrator_instance_id) is None  # purged by delete_job

    assert not still_there, (
        f"{len(still_there)} of {JOBS} jobs were still there when delete_job returned (job, status): {still_there}"
    )
