"""The Python testing API: an in-memory Durable Task backend for test suites.

>>> backend = create_test_backend(port=0)
>>> client = TaskHubGrpcClient(host_address=backend.address)
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from emulator.config import Config
from emulator.engine import Engine
from emulator.server import Server


class InMemoryOrchestrationBackend:
    """An in-memory Durable Task backend serving the gRPC protocol on ``localhost:<port>``.

    ``port=0`` binds a free port; :meth:`start` returns the address really bound. Usable as a
    context manager. Safe to call from any thread.
    """

    def __init__(
        self,
        port: int = 50051,
        max_history_size: int = 10000,
        *,
        host: str = "localhost",
        db_path: str | None = None,
        task_hubs: Iterable[str] | None = None,
        time_skipping: bool | None = None,
        lease_timeout: float | None = None,
        faults: str | None = None,
        dashboard_port: int | None = None,
        dapr_port: int | None = None,
        config: Config | None = None,
    ):
        if faults:
            from emulator.engine.faults import FaultSpec

            FaultSpec.parse(faults)  # a ValueError here names what is wrong
        base = config or Config()
        self.config = replace(
            base,
            host=host,
            port=port,
            max_history_size=max_history_size,
            db_path=db_path or base.db_path,
            task_hubs=tuple(task_hubs) if task_hubs is not None else base.task_hubs,
            time_skipping=base.time_skipping if time_skipping is None else time_skipping,
            lease_timeout=base.lease_timeout if lease_timeout is None else lease_timeout,
            faults=faults or base.faults,
            dashboard_port=base.dashboard_port if dashboard_port is None else dashboard_port,
            dapr_port=base.dapr_port if dapr_port is None else dapr_port,
        )
        self._engine: Engine | None = None
        self._server: Server | None = None

    @property
    def engine(self) -> Engine:
        """The engine (opened on first use; with ``db_path`` it holds the database file until ``stop``)."""
        if self._engine is None:
            self._engine = Engine(self.config)
        return self._engine

    @property
    def port(self) -> int:
        """The bound port while running (the requested one before ``start``)."""
        if self._server is not None and self._server.port is not None:
            return self._server.port
        return self.config.port

    @property
    def max_history_size(self) -> int:
        return self.config.max_history_size

    @property
    def address(self) -> str:
        """``localhost:<port>``, what clients and workers are given as ``host_address``."""
        if self._server is not None:
            return self._server.address
        return f"{self.config.host}:{self.config.port}"

    @property
    def is_running(self) -> bool:
        return self._server is not None

    @property
    def event_loop(self) -> str | None:
        """``uvloop`` or ``asyncio`` (``config.event_loop`` chooses), while running."""
        return self._server.event_loop if self._server is not None else None

    @property
    def dapr_address(self) -> str | None:
        """``localhost:<port>`` of the Dapr dialect while serving with ``dapr_port``; else None."""
        if self._server is None or self._server.dapr_port is None:
            return None
        return f"{self._server.address.rsplit(':', 1)[0]}:{self._server.dapr_port}"

    @property
    def dashboard_url(self) -> str | None:
        """The dashboard's URL while serving with ``dashboard_port`` (0 picks a free port); else None."""
        return self._server.dashboard_url if self._server is not None else None

    def start(self) -> str:
        """Start serving; returns ``host:port``. Raises :class:`emulator.errors.PortInUse`."""
        if self._server is not None:
            return self._server.address
        server = Server(self.config, self.engine)
        address = server.start()
        self._server = server
        return address

    def stop(self, grace: float | None = None) -> None:
        """Stop serving (state is kept until :meth:`reset`). Idempotent."""
        server, self._server = self._server, None
        if server is not None:
            server.stop(grace)
        if self.config.db_path and self._engine is not None:
            # Release the database file; start() reopens it and recovers its state.
            self._engine.close()
            self._engine = None

    def reset(self, task_hub: str | None = None) -> None:
        """Forget every instance, entity, pending work item and timer (in the database file too).

        ``task_hub`` resets that hub only; without it every hub is forgotten (hubs created on
        first use disappear, unless a worker is still connected to one).
        """
        self.engine.reset(task_hub)
        if self._server is None and self.config.db_path:
            self._engine.close()
            self._engine = None

    def task_hub(self, name: str | None = None, time_skipping: bool | None = None) -> TaskHubHandle:
        """A task hub of this backend (``name`` None: a fresh one with a unique name) and its clients.

        ``time_skipping`` turns skipping on or off for that hub (None: leave it as it is).
        """
        handle = TaskHubHandle(self, name or f"test-{uuid.uuid4().hex[:16]}")
        if time_skipping is not None:
            self.engine.hub(handle.name).set_time_skipping(time_skipping)
        return handle

    # ------------------------------------------------------------------ time

    def now(self, task_hub: str | None = None) -> datetime:
        """The hub's current time (UTC): wall time plus whatever was advanced or skipped."""
        return datetime.fromtimestamp(self.engine.hub(task_hub).now(), tz=timezone.utc)

    def advance_time(self, delta: timedelta, task_hub: str | None = None) -> datetime:
        """Move the hub's clock forward by ``delta``, firing every timer that comes due; returns the new time."""
        return datetime.fromtimestamp(self.engine.hub(task_hub).advance_time(delta.total_seconds()), tz=timezone.utc)

    def set_time_skipping(self, enabled: bool, task_hub: str | None = None) -> None:
        """Turn time skipping on or off for one hub (see README "Testing timers")."""
        self.engine.hub(task_hub).set_time_skipping(enabled)

    def __enter__(self) -> InMemoryOrchestrationBackend:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.is_running else "stopped"
        return f"<InMemoryOrchestrationBackend {self.address} {state}>"


def register(worker, orchestrators=(), activities=(), entities=()):
    """Add orchestrators, activities and entities to an SDK worker (any ``TaskHubGrpcWorker``); returns it."""
    for o in orchestrators:
        worker.add_orchestrator(o)
    for a in activities:
        worker.add_activity(a)
    for e in entities:
        worker.add_entity(e)
    return worker


class TaskHubHandle:
    """One task hub on a backend, with SDK clients and workers that send its ``taskhub`` header.

    ``client()`` and ``worker(...)`` build the real ``durabletask`` client and worker with
    ``metadata``; :meth:`close` stops the workers and clients it made and resets the hub.
    Other SDKs: pass ``metadata`` (``[("taskhub", name)]``) through their own hook.
    """

    def __init__(self, backend: InMemoryOrchestrationBackend, name: str):
        from emulator.engine.core import check_hub_name

        self.backend = backend
        self.name = check_hub_name(name)
        self._clients: list = []
        self._workers: list = []

    @property
    def address(self) -> str:
        return self.backend.address

    @property
    def metadata(self) -> list[tuple[str, str]]:
        return [("taskhub", self.name)]

    def client(self, **kwargs):
        """A started-to-use ``TaskHubGrpcClient`` on this hub."""
        from durabletask.client import TaskHubGrpcClient

        c = TaskHubGrpcClient(host_address=self.address, metadata=self.metadata, **kwargs)
        self._clients.append(c)
        return c

    def worker(self, orchestrators=(), activities=(), entities=(), start: bool = True, **kwargs):
        """A ``TaskHubGrpcWorker`` on this hub with these registered (started unless ``start=False``)."""
        from durabletask.worker import TaskHubGrpcWorker

        w = register(
            TaskHubGrpcWorker(host_address=self.address, metadata=self.metadata, **kwargs),
            orchestrators,
            activities,
            entities,
        )
        self._workers.append(w)
        if start:
            w.start()
        return w

    def reset(self) -> None:
        self.backend.reset(task_hub=self.name)

    def now(self) -> datetime:
        return self.backend.now(self.name)

    def advance_time(self, delta: timedelta) -> datetime:
        return self.backend.advance_time(delta, self.name)

    def close(self) -> None:
        """Stop its workers, close its clients, and forget the hub's state."""
        workers, self._workers = self._workers, []
        clients, self._clients = self._clients, []
        for w in workers:
            w.stop()
        for c in clients:
            c.close()
        if self.backend.is_running:
            self.backend.reset(task_hub=self.name)
            self.backend.engine.discard(self.name)

    def __enter__(self) -> TaskHubHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<TaskHubHandle {self.name} on {self.address}>"


def create_test_backend(port: int = 50051, max_history_size: int = 10000, **kwargs) -> InMemoryOrchestrationBackend:
    """Create and start an :class:`InMemoryOrchestrationBackend`."""
    backend = InMemoryOrchestrationBackend(port=port, max_history_size=max_history_size, **kwargs)
    backend.start()
    return backend
