"""Every setting of the emulator in one dataclass, shared by the CLI, env vars and Python API."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Config:
    #: Interface to bind. ``localhost`` binds both 127.0.0.1 and ::1 (when available), so that
    #: clients reach the server at ``localhost:<port>`` whichever address localhost resolves to.
    host: str = "127.0.0.1"
    #: TCP port; 0 binds a free port (the bound one is reported by ``Server.start``).
    port: int = 4001
    #: More TCP ports serving the same emulator (the Docker image adds 8080, the DTS emulator's).
    extra_ports: tuple[int, ...] = field(default_factory=tuple)
    #: The task hubs served; None creates a hub on first use. A call naming another hub is NOT_FOUND.
    task_hubs: tuple[str, ...] | None = None
    #: Most history events one orchestration execution may have; past it the instance FAILS.
    max_history_size: int = 10000
    #: Largest gRPC message accepted or sent, in bytes.
    max_message_bytes: int = 4 * 1024 * 1024
    #: Seconds between keep-alive ``healthPing`` work items on an idle GetWorkItems stream.
    health_ping_interval: float = 20.0
    #: Real seconds a worker may hold a work item before it is delivered again (0: forever).
    lease_timeout: float = 300.0
    #: Injected faults (``duplicate=0.2,disconnect=5s-20s,delay=0-500ms,seed=42``); None: none.
    faults: str | None = None
    #: Seconds before an abandoned work item is offered again.
    abandon_retry_delay: float = 0.25
    #: Seconds ``stop()`` waits for in-flight RPCs before cancelling them.
    shutdown_grace: float = 2.0
    #: History events per HistoryChunk in StreamInstanceHistory.
    history_chunk_events: int = 100
    #: Upper bound on a HistoryChunk's size in bytes.
    history_chunk_bytes: int = 1024 * 1024
    #: Start every task hub with time skipping on (see README "Testing timers").
    time_skipping: bool = False
    #: Port serving the Dapr Workflow dialect of the protocol (0: a free one); None: not served.
    dapr_port: int | None = None
    #: Port of the web dashboard and its HTTP API (0: a free one); None: no dashboard.
    dashboard_port: int | None = None
    #: False: a dashboard port in use is a warning (the emulator serves gRPC alone), not an error.
    dashboard_required: bool = True
    #: A port that only answers ``GET /healthz`` with 204 (the DTS emulator's probe port); None: none.
    health_port: int | None = None
    #: The gRPC server's event loop: ``uvloop`` (Linux and macOS), ``asyncio`` (the standard one), or
    #: ``auto`` (uvloop when installed). uvloop takes 10-15 % off the server's CPU per work item
    #: (docs/benchmarks.md); grpc.aio and the dashboard run the same on either.
    event_loop: str = "auto"
    #: SQLite file that keeps all state across restarts; None keeps everything in memory.
    db_path: str | None = None
