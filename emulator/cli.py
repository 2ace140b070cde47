"""The ``durabletask-emulator`` command line (click only: options -> Config -> run)."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading

import click

from emulator.config import Config
from emulator.errors import PortInUse

CONTEXT = {"auto_envvar_prefix": "DURABLETASK_EMULATOR", "show_default": True}
LOG_LEVELS = click.Choice(["debug", "info", "warning", "error"], case_sensitive=False)


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def _configure_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


@click.group(context_settings=CONTEXT)
@click.version_option(package_name="durabletask-emulator")
def main() -> None:
    """A local Durable Task backend: point any Durable Task SDK at it."""


@main.command(context_settings=CONTEXT)
@click.option("--host", default="127.0.0.1", help="Interface to listen on ('localhost' = both loopbacks).")
@click.option("--port", default=4001, type=click.IntRange(0, 65535), help="TCP port; 0 picks a free one.")
@click.option("--max-history-size", default=10000, type=click.IntRange(1), help="Most history events per instance.")
@click.option("--console/--no-console", default=None, help="Live console (default: on when stdout is a terminal).")
@click.option("--log-level", default="info", type=LOG_LEVELS, help="Log level.")
@click.option("--log-format", default="text", type=click.Choice(["text", "json"]), help="Log line format.")
def start(host: str, port: int, max_history_size: int, console: bool | None, log_level: str, log_format: str) -> None:
    """Run the emulator until SIGINT/SIGTERM."""
    from emulator.server import Server

    _configure_logging(log_level, log_format)
    config = Config(host=host, port=port, max_history_size=max_history_size)
    server = Server(config)
    try:
        address = server.start()
    except PortInUse as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    click.echo(f"durabletask-emulator listening on {address} (max history {max_history_size}); Ctrl-C to stop")
    sys.stdout.flush()
    use_console = console if console is not None else sys.stdout.isatty()
    _serve_until_signal(server, use_console)


def _serve_until_signal(server, use_console: bool) -> None:
    stop = threading.Event()
    hits = {"n": 0}

    def on_signal(signum, frame):
        hits["n"] += 1
        if hits["n"] > 1:
            os._exit(130)  # a second Ctrl-C forces
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    if use_console:
        from emulator.console import run_console

        run_console(server, stop)
    else:
        while not stop.wait(3600):
            pass
    logging.getLogger("emulator").info("stopping")
    server.stop()


@main.command(context_settings=CONTEXT)
@click.option("--address", default="localhost:4001", envvar="DURABLETASK_EMULATOR_ADDRESS", help="host:port.")
@click.option("--timeout", default=3.0, type=float, help="Seconds to wait for an answer.")
def health(address: str, timeout: float) -> None:
    """Exit 0 when the emulator at ADDRESS answers and is serving (for HEALTHCHECK / probes)."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=timeout)
        except grpc.RpcError as e:
            click.echo(f"unhealthy: {address}: {e.code().name}: {e.details()}", err=True)
            sys.exit(1)
    if reply.status != health_pb2.HealthCheckResponse.SERVING:
        click.echo(f"unhealthy: {address}: {health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)}", err=True)
        sys.exit(1)
    click.echo(f"healthy: {address}")


if __name__ == "__main__":  # pragma: no cover
    main()
