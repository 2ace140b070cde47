"""Running the dashboard (and the health probe port) with uvicorn on the gRPC server's event loop.

Sockets are bound here, before uvicorn starts, so that a port in use is reported like the gRPC
port's (PortInUse) and port 0's real number is known at once.
"""

from __future__ import annotations

import asyncio
import logging
import socket

import uvicorn
from fastapi import FastAPI
from fastapi.responses import Response

from emulator.errors import PortInUse

log = logging.getLogger("emulator.dashboard")


def bind(targets: list[str], port: int) -> list[socket.socket]:
    """Listening TCP sockets on every target address, all on one port (the first one's, for port 0)."""
    sockets: list[socket.socket] = []
    try:
        for target in targets:
            host = target.strip("[]")
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind((host, port))
            except OSError as e:
                sock.close()
                raise PortInUse(f"cannot listen on {target}:{port}: {e.strerror}") from None
            sock.listen(128)
            sock.setblocking(False)
            port = sock.getsockname()[1]
            sockets.append(sock)
    except BaseException:
        for s in sockets:
            s.close()
        raise
    return sockets


def health_app() -> FastAPI:
    """What the DTS emulator answers on its probe port: ``GET /healthz`` -> 204."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/healthz")
    async def healthz():
        return Response(status_code=204)

    return app


class HttpServer:
    """One uvicorn server on pre-bound sockets, as a task on the running event loop."""

    def __init__(self, app, sockets: list[socket.socket]):
        self.sockets = sockets
        self.port = sockets[0].getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False, timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._server.install_signal_handlers = lambda: None  # the emulator handles signals itself
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._server.serve(sockets=self.sockets))
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises what went wrong
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=3)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                self._task.cancel()
        for s in self.sockets:
            s.close()
