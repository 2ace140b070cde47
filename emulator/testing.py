"""The Python testing API: an in-memory Durable Task backend for test suites.

>>> backend = create_test_backend(port=0)
>>> client = TaskHubGrpcClient(host_address=backend.address)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

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
        config: Config | None = None,
    ):
        base = config or Config()
        self.config = replace(
            base,
            host=host,
            port=port,
            max_history_size=max_history_size,
            db_path=db_path or base.db_path,
            task_hubs=tuple(task_hubs) if task_hubs is not None else base.task_hubs,
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

    def __enter__(self) -> InMemoryOrchestrationBackend:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.is_running else "stopped"
        return f"<InMemoryOrchestrationBackend {self.address} {state}>"


def create_test_backend(port: int = 50051, max_history_size: int = 10000, **kwargs) -> InMemoryOrchestrationBackend:
    """Create and start an :class:`InMemoryOrchestrationBackend`."""
    backend = InMemoryOrchestrationBackend(port=port, max_history_size=max_history_size, **kwargs)
    backend.start()
    return backend
