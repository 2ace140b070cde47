"""The gRPC server's life: bind, health, reflection, start, graceful stop.

The server runs a ``grpc.aio`` server on its own event-loop thread, so it can be hosted by a
command-line process and by a test suite alike. ``start()`` returns the address really bound.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from emulator.config import Config
from emulator.control import SERVICE as CONTROL_SERVICE
from emulator.control.service import control_handler
from emulator.engine import Engine
from emulator.errors import EmulatorError, PortInUse
from emulator.service import SERVICE, Servicer, generic_handler

log = logging.getLogger("emulator.server")


def _ipv6_loopback_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def _bind_targets(host: str) -> list[str]:
    """The listen addresses for a host name; ``localhost`` means both loopbacks."""
    if host == "localhost":
        return ["127.0.0.1", "[::1]"] if _ipv6_loopback_available() else ["127.0.0.1"]
    if ":" in host and not host.startswith("["):
        return [f"[{host}]"]
    return [host]


EVENT_LOOPS = ("auto", "uvloop", "asyncio")


def new_event_loop(kind: str) -> asyncio.AbstractEventLoop:
    """The server's event loop: uvloop's (``auto`` when it is installed) or asyncio's own."""
    if kind not in EVENT_LOOPS:
        raise EmulatorError(f"unknown event loop {kind!r}: choose one of {', '.join(EVENT_LOOPS)}")
    if kind != "asyncio":
        try:
            import uvloop
        except ImportError as e:
            if kind == "uvloop":
                raise EmulatorError(
                    f"event loop 'uvloop' is not available ({e}); install uvloop or use 'asyncio'"
                ) from e
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


class Server:
    """Hosts an :class:`Engine` behind a gRPC server on a background event loop."""

    def __init__(self, config: Config, engine: Engine | None = None):
        self.config = config
        self.engine = engine or Engine(config)
        self.servicer = Servicer(self.engine, config)
        self.port: int | None = None
        #: Every port bound: ``port`` first, then ``config.extra_ports`` in order.
        self.ports: list[int] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: grpc.aio.Server | None = None
        self._health = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        #: The dashboard's and the health probe's HTTP servers, when configured.
        self._http: list = []
        self.dashboard_port: int | None = None
        #: The port serving the Dapr dialect, when configured.
        self.dapr_port: int | None = None
        self._dapr: grpc.aio.Server | None = None
        self.health_port: int | None = None

    @property
    def event_loop(self) -> str | None:
        """``uvloop`` or ``asyncio``: the loop the running server is on (None before start)."""
        if self._loop is None:
            return None
        return "uvloop" if type(self._loop).__module__.startswith("uvloop") else "asyncio"

    @property
    def address(self) -> str:
        host = self.config.host
        if host in ("0.0.0.0", "::", "[::]", ""):
            host = "localhost"
        elif ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"{host}:{self.port}"

    @property
    def dashboard_url(self) -> str | None:
        """``http://127.0.0.1:8082/`` once the dashboard listens; None without one."""
        if self.dashboard_port is None:
            return None
        return f"http://{self.address.rsplit(':', 1)[0]}:{self.dashboard_port}/"

    def start(self) -> str:
        """Bind and start serving; returns ``host:port`` with the port really bound."""
        if self._thread is not None:
            raise RuntimeError("the server is already running")
        self._ready.clear()
        self._startup_error = None
        self._thread = threading.Thread(target=self._run, name="emulator-grpc", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            self._thread.join()
            self._thread = None
            raise self._startup_error
        log.info("Durable Task emulator listening on %s (event loop: %s)", self.address, self.event_loop)
        for extra in self.ports[1:]:
            log.info("also listening on port %d", extra)
        if self.dashboard_url:
            log.info("dashboard at %s", self.dashboard_url)
        if self.dapr_port is not None:
            log.info("Dapr Workflow dialect on port %d", self.dapr_port)
        return self.address

    def _run(self) -> None:
        try:
            self._loop = new_event_loop(self.config.event_loop)
        except EmulatorError as e:
            self._startup_error = e
            self._ready.set()
            return
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._start_server())
        except BaseException as e:  # reported to start()'s caller
            self._startup_error = e
            self._ready.set()
            self._loop.close()
            return
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    async def _start_server(self) -> None:
        size = self.config.max_message_bytes
        server = grpc.aio.server(
            options=[
                ("grpc.so_reuseport", 0),
                ("grpc.max_receive_message_length", size),
                ("grpc.max_send_message_length", size),
            ]
        )
        server.add_generic_rpc_handlers((generic_handler(self.servicer), control_handler(self.engine)))
        self._health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        reflection.enable_server_reflection(
            (
                SERVICE.full_name,
                CONTROL_SERVICE.full_name,
                health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                reflection.SERVICE_NAME,
            ),
            server,
        )
        self.ports = [self._bind(server, p) for p in (self.config.port, *self.config.extra_ports)]
        self.port = self.ports[0]
        dapr = self._bind_dapr(size)
        http = self._bind_http()  # before the gRPC server starts: a port in use fails the start cleanly
        await server.start()
        self._server = server
        if dapr is not None:
            await dapr.start()
            self._dapr = dapr
        for web in http:
            await web.start()
            self._http.append(web)
        for name in ("", SERVICE.full_name):
            await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)

    def _bind_dapr(self, size: int) -> grpc.aio.Server | None:
        if self.config.dapr_port is None:
            return None
        from emulator.dapr.service import dapr_handler

        dapr = grpc.aio.server(
            options=[
                ("grpc.so_reuseport", 0),
                ("grpc.max_receive_message_length", size),
                ("grpc.max_send_message_length", size),
            ]
        )
        dapr.add_generic_rpc_handlers((dapr_handler(self.servicer),))
        self.dapr_port = self._bind(dapr, self.config.dapr_port)
        return dapr

    def _bind_http(self) -> list:
        if self.config.dashboard_port is None and self.config.health_port is None:
            return []
        from emulator.dashboard.app import create_app
        from emulator.dashboard.serve import HttpServer, bind, health_app

        targets = _bind_targets(self.config.host)
        servers = []
        try:
            if self.config.dashboard_port is not None:
                try:
                    sockets = bind(targets, self.config.dashboard_port)
                except PortInUse as e:
                    if self.config.dashboard_required:
                        raise
                    log.warning("no dashboard: %s (give --dashboard-port to choose another)", e)
                    sockets = None
                if sockets:
                    self.dashboard_port = sockets[0].getsockname()[1]
                    app = create_app(self.engine, self.config.host)
                    servers.append(HttpServer(app, sockets))
            if self.config.health_port is not None:
                sockets = bind(targets, self.config.health_port)
                self.health_port = sockets[0].getsockname()[1]
                servers.append(HttpServer(health_app(), sockets))
        except BaseException:
            for web in servers:
                for sock in web.sockets:
                    sock.close()
            raise
        return servers

    def _bind(self, server: grpc.aio.Server, port: int) -> int:
        for target in _bind_targets(self.config.host):
            address = f"{target}:{port}"
            try:
                bound = server.add_insecure_port(address)
            except RuntimeError:
                bound = 0
            if not bound:
                raise PortInUse(
                    f"cannot listen on {address}: the port is already in use "
                    "(or the address is not available on this machine)"
                )
            port = bound
        return port

    def stop(self, grace: float | None = None) -> None:
        """Stop serving: end worker streams, let in-flight calls finish for ``grace`` seconds."""
        if self._thread is None or self._loop is None:
            return
        grace = self.config.shutdown_grace if grace is None else grace
        future = asyncio.run_coroutine_threadsafe(self._stop(grace), self._loop)
        try:
            future.result(timeout=grace + 10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._thread = None
            self._server = None
            log.info("Durable Task emulator stopped")

    async def _stop(self, grace: float) -> None:
        if self._health is not None:
            await self._health.enter_graceful_shutdown()
        self.servicer.close_streams()
        for web in self._http:
            await web.stop()
        self._http = []
        if self._dapr is not None:
            await self._dapr.stop(grace)
            self._dapr = None
        if self._server is not None:
            await self._server.stop(grace)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the server thread ends (after ``stop``); False on timeout."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()
