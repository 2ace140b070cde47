"""The ``durabletask-emulator`` command line (click only: options -> Config -> run)."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import sys
import threading
from datetime import timezone

import click

from emulator.config import Config
from emulator.errors import EmulatorError

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


def _configure_logging(level: str, fmt: str, log_file: str | None = None) -> None:
    """Every record to stderr, and to ``log_file`` too when given (the console keeps the file handler)."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    for handler in handlers:
        if fmt == "json":
            handler.setFormatter(_JsonFormatter())
        else:
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = handlers
    root.setLevel(level.upper())


@click.group(context_settings=CONTEXT)
@click.version_option(package_name="durabletask-emulator")
def main() -> None:
    """A local Durable Task backend: point any Durable Task SDK at it."""


def _check_faults(ctx, param, value):
    if value:
        from emulator.engine.faults import FaultSpec

        try:
            FaultSpec.parse(value)
        except ValueError as e:
            raise click.BadParameter(str(e)) from None
    return value or None


@main.command(context_settings=CONTEXT)
@click.option("--host", default="127.0.0.1", help="Interface to listen on ('localhost' = both loopbacks).")
@click.option(
    "--port",
    default=(4001,),
    multiple=True,
    type=click.IntRange(0, 65535),
    help="TCP port; 0 picks a free one. Repeat to serve on more ports (env: space-separated).",
)
@click.option(
    "--task-hubs",
    default=None,
    envvar=["DURABLETASK_EMULATOR_TASK_HUBS", "DTS_TASK_HUB_NAMES"],
    show_envvar=True,
    help="Comma-separated task hubs to serve; others get NOT_FOUND. Unset: a hub is created on first use.",
)
@click.option("--max-history-size", default=10000, type=click.IntRange(1), help="Most history events per instance.")
@click.option("--console/--no-console", default=None, help="Live console (default: on when stdout is a terminal).")
@click.option("--log-level", default="info", type=LOG_LEVELS, help="Log level.")
@click.option("--log-format", default="text", type=click.Choice(["text", "json"]), help="Log line format.")
@click.option("--db", default=None, type=click.Path(dir_okay=False), help="SQLite file that keeps all state.")
@click.option(
    "--time-skipping/--no-time-skipping",
    default=False,
    help="Every hub jumps to its next timer while a client waits and no work is pending.",
)
@click.option(
    "--log-file",
    default=None,
    type=click.Path(dir_okay=False, writable=True),
    help="Also append every log line to this file (same format), console on or off.",
)
@click.option(
    "--lease-timeout",
    default=300.0,
    type=click.FloatRange(min=0),
    help="Real seconds a worker may hold a work item before it is delivered again (0: no limit).",
)
@click.option(
    "--faults",
    default=None,
    callback=_check_faults,
    help="Inject faults, e.g. 'duplicate=0.2,disconnect=5s-20s,delay=0-500ms,seed=42' (see README).",
)
@click.option(
    "--dashboard-port",
    default=8082,
    type=click.IntRange(0, 65535),
    help="Port of the web dashboard and its HTTP API (same host as gRPC); 0 picks a free one.",
)
@click.option("--dashboard/--no-dashboard", default=True, help="Serve the web dashboard.")
@click.option(
    "--dapr-port",
    default=None,
    type=click.IntRange(0, 65535),
    help="Also serve the Dapr Workflow dialect of the protocol on this port (Dapr SDKs use 50001).",
)
@click.option(
    "--health-port",
    default=None,
    type=click.IntRange(0, 65535),
    help="Also answer GET /healthz with 204 on this port (the DTS emulator's probe port, 8081 in the image).",
)
@click.option(
    "--event-loop",
    default="auto",
    type=click.Choice(["auto", "uvloop", "asyncio"]),
    help="The gRPC server's event loop; auto: uvloop when installed (less CPU per call), else asyncio's.",
)
def start(
    host,
    port,
    task_hubs,
    max_history_size,
    console,
    log_level,
    log_format,
    db,
    time_skipping,
    log_file,
    lease_timeout,
    faults,
    dashboard_port,
    dashboard,
    dapr_port,
    health_port,
    event_loop,
) -> None:
    """Run the emulator until SIGINT/SIGTERM."""
    from emulator.server import Server

    try:
        _configure_logging(log_level, log_format, log_file)
    except OSError as e:
        click.echo(f"error: cannot open log file {log_file}: {e.strerror}", err=True)
        sys.exit(1)
    hubs = None
    if task_hubs is not None:
        hubs = tuple(h.strip() for h in task_hubs.split(",") if h.strip())
        if not hubs:
            raise click.BadParameter("name at least one task hub, or leave the option unset", param_hint="--task-hubs")
    config = Config(
        host=host,
        port=port[0],
        extra_ports=tuple(port[1:]),
        task_hubs=hubs,
        max_history_size=max_history_size,
        db_path=db,
        time_skipping=time_skipping,
        lease_timeout=lease_timeout,
        faults=faults,
        dashboard_port=dashboard_port if dashboard else None,
        dashboard_required=click.get_current_context().get_parameter_source("dashboard_port")
        is not click.core.ParameterSource.DEFAULT,
        health_port=health_port,
        dapr_port=dapr_port,
        event_loop=event_loop,
    )
    stop = _capture_signals()  # before the banner: a signal right after it must already stop us cleanly
    try:
        server = Server(config)
        address = server.start()
    except EmulatorError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    also = "".join(f", also on port {p}" for p in server.ports[1:])
    if server.dashboard_url:
        also += f", dashboard {server.dashboard_url}"
    if server.dapr_port is not None:
        also += f", Dapr dialect on port {server.dapr_port}"
    served = f"task hubs {', '.join(hubs)}" if hubs else "task hubs created on first use"
    if time_skipping:
        served += "; time skipping"
    if faults:
        served += f"; faults {server.engine.faults.spec.describe()}"
    click.echo(
        f"durabletask-emulator listening on {address}{also} ({served}; max history {max_history_size}); Ctrl-C to stop"
    )
    sys.stdout.flush()
    use_console = console if console is not None else sys.stdout.isatty()
    if use_console:
        from emulator.console import run_console

        run_console(server, stop)
    else:
        stop.wait()
    logging.getLogger("emulator").info("stopping")
    server.stop()
    server.engine.close()


def _capture_signals() -> threading.Event:
    """SIGINT/SIGTERM set the returned event (graceful stop); a second one exits at once."""
    stop = threading.Event()

    def on_signal(signum, frame):
        if stop.is_set():
            os._exit(130)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    return stop


@main.command(context_settings=CONTEXT)
@click.option(
    "--address",
    default=lambda: f"localhost:{(os.environ.get('DURABLETASK_EMULATOR_PORT') or '4001').split()[0]}",
    show_default="localhost:<first port of $DURABLETASK_EMULATOR_PORT>, or localhost:4001",
    envvar="DURABLETASK_EMULATOR_ADDRESS",
    help="host:port of the emulator (follows DURABLETASK_EMULATOR_PORT, as in a container).",
)
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


# ---------------------------------------------------------------------- inspector commands

_ADDRESS = click.option(
    "--address", default="localhost:4001", envvar="DURABLETASK_EMULATOR_ADDRESS", help="The emulator's host:port."
)
_DB = click.option(
    "--db",
    default=None,
    expose_value=False,
    type=click.Path(dir_okay=False, exists=True),
    callback=lambda ctx, param, value: ctx.meta.__setitem__("emulator.db", value),
    help="Act on a stopped emulator's SQLite file instead of a running emulator.",
)


_TASK_HUB = click.option(
    "--task-hub",
    default="default",
    expose_value=False,
    callback=lambda ctx, param, value: ctx.meta.__setitem__("emulator.task_hub", value),
    help="The task hub to act on (sent as the taskhub header).",
)


def ADDRESS(command):
    """``--address`` (a running emulator), ``--db`` (a stopped one's file) and ``--task-hub``."""
    return _ADDRESS(_DB(_TASK_HUB(command)))


AS_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


def _run_inspector(address: str, action):
    """Run ``action(stub)`` against the emulator; one-line errors, exit 1 (bad request) or 2 (unreachable).

    With ``--db FILE`` the file is opened by an emulator started in this process on a free
    loopback port, so the commands work the same way on a stopped emulator's state.
    """
    from emulator import inspector

    meta = click.get_current_context().meta
    db = meta.get("emulator.db")
    server = None
    try:
        if db:
            from emulator.server import Server

            server = Server(Config(host="127.0.0.1", port=0, db_path=db))
            address = server.start()
        with inspector.connect(address, meta.get("emulator.task_hub")) as stub:
            return action(stub)
    except inspector.InspectorError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)
    except EmulatorError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    finally:
        if server is not None:
            server.stop(0)
            server.engine.close()


def _emit(rows, as_json: bool, table) -> None:
    """Rows as JSON, or as the rich table ``table(rows)``."""
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        _print(table(rows))


def _print(renderable) -> None:
    from rich.console import Console

    console = Console()
    if not console.is_terminal:  # piped: a table must not be squeezed into rich's default 80 columns
        console = Console(width=200)
    console.print(renderable)


@main.command("list", context_settings=CONTEXT)
@ADDRESS
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(["pending", "running", "suspended", "completed", "failed", "terminated"], case_sensitive=False),
    help="Only these runtime statuses (repeatable).",
)
@click.option("--prefix", default="", help="Only instance IDs starting with this.")
@click.option("--created-from", type=click.DateTime(), default=None, help="Created at or after (UTC).")
@click.option("--created-to", type=click.DateTime(), default=None, help="Created at or before (UTC).")
@click.option("--limit", default=100, type=click.IntRange(1), help="At most this many instances.")
@AS_JSON
def list_command(address, statuses, prefix, created_from, created_to, limit, as_json):
    """List orchestration instances."""
    from emulator import inspector

    def utc(d):
        return d.replace(tzinfo=timezone.utc) if d is not None else None

    rows = _run_inspector(
        address,
        lambda stub: inspector.list_instances(stub, statuses, prefix, utc(created_from), utc(created_to), limit),
    )
    _emit(rows, as_json, inspector.instances_table)


@main.command(context_settings=CONTEXT)
@ADDRESS
@click.argument("instance_id")
@AS_JSON
def show(address, instance_id, as_json):
    """Show an instance: status, input/output, failure details and its whole history."""
    from emulator import inspector

    task_hub = click.get_current_context().meta.get("emulator.task_hub")
    data = _run_inspector(
        address,
        lambda stub: (
            inspector.get_state(stub, instance_id),
            inspector.get_history(stub, instance_id),
            inspector.get_time(stub, task_hub),
        ),
    )
    state, history, clock = data
    if as_json:
        from google.protobuf import json_format

        click.echo(
            json.dumps(
                {"instance": inspector.state_dict(state), "history": [json_format.MessageToDict(e) for e in history]},
                indent=2,
            )
        )
        return
    _print(inspector.state_table(inspector.state_dict(state)))
    _print(inspector.history_table(history))
    _echo_time(clock)


@main.command(context_settings=CONTEXT)
@ADDRESS
@click.argument("instance_id")
def export(address, instance_id):
    """Print the instance and its history as JSON (attach it to a bug report)."""
    from emulator import inspector

    click.echo(json.dumps(_run_inspector(address, lambda stub: inspector.export(stub, instance_id)), indent=2))


def _simple(name: str, doc: str):
    """suspend / resume / rewind: ID and an optional reason."""

    @main.command(name, context_settings=CONTEXT, help=doc)
    @ADDRESS
    @click.argument("instance_id")
    @click.option("--reason", default=None, help="Recorded in the history.")
    def command(address, instance_id, reason):
        from emulator import inspector

        _run_inspector(address, lambda stub: getattr(inspector, name)(stub, instance_id, reason))
        click.echo(f"{name}: {instance_id}")

    return command


_simple("suspend", "Suspend a running instance.")
_simple("resume", "Resume a suspended instance.")
_simple("rewind", "Re-run the failed parts of a FAILED instance.")


@main.command("raise-event", context_settings=CONTEXT)
@ADDRESS
@click.argument("instance_id")
@click.argument("name")
@click.argument("data", required=False)
def raise_event(address, instance_id, name, data):
    """Raise event NAME on an instance; DATA is JSON (a bare word is sent as a JSON string)."""
    from emulator import inspector

    _run_inspector(address, lambda stub: inspector.raise_event(stub, instance_id, name, data))
    click.echo(f"raised {name} on {instance_id}")


@main.command(context_settings=CONTEXT)
@ADDRESS
@click.argument("instance_id")
@click.option("--output", default=None, help="The instance's output (JSON; a bare word is a JSON string).")
@click.option("--recursive/--no-recursive", default=False, help="Terminate running sub-orchestrations too.")
def terminate(address, instance_id, output, recursive):
    """Terminate an instance."""
    from emulator import inspector

    _run_inspector(address, lambda stub: inspector.terminate(stub, instance_id, output, recursive))
    click.echo(f"terminated: {instance_id}")


@main.command(context_settings=CONTEXT)
@ADDRESS
@click.argument("instance_id", required=False)
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(["completed", "failed", "terminated"], case_sensitive=False),
    help="Purge all finished instances in these.",
)
@click.option("--recursive/--no-recursive", default=True, help="Purge sub-orchestrations too.")
def purge(address, instance_id, statuses, recursive):
    """Delete a finished instance (ID) or all finished instances with --status."""
    from emulator import inspector

    if bool(instance_id) == bool(statuses):
        raise click.UsageError("give either an INSTANCE_ID or one or more --status")
    count = _run_inspector(address, lambda stub: inspector.purge(stub, instance_id, statuses, recursive))
    click.echo(f"purged {count} instance(s)")


def _control_command(name: str, doc: str):
    """Commands that speak to the emulator as a whole (no --task-hub of their own unless they take one)."""
    return main.command(name, context_settings=CONTEXT, help=doc)


@_control_command("hubs", "List the task hubs with their instances by status, entities and workers.")
@_ADDRESS
@_DB
@AS_JSON
def hubs_command(address, as_json):
    from emulator import inspector

    rows = _run_inspector(address, inspector.list_hubs)
    _emit(rows, as_json, inspector.hubs_table)


@_control_command("workers", "List connected workers: their task hub, SDK (user agent), worker ID and address.")
@_ADDRESS
@_DB
@click.option("--task-hub", default=None, help="Only this hub's workers (default: every hub's).")
@AS_JSON
def workers_command(address, task_hub, as_json):
    from emulator import inspector

    rows = _run_inspector(address, lambda stub: inspector.list_workers(stub, task_hub))
    _emit(rows, as_json, inspector.workers_table)


@_control_command("reset", "Forget a task hub's instances, entities, queued work and timers (workers stay connected).")
@_ADDRESS
@_DB
@click.option("--task-hub", default="default", help="The hub to reset.")
@click.option("--all", "everything", is_flag=True, help="Reset every task hub.")
def reset_command(address, task_hub, everything):
    from emulator import inspector

    _run_inspector(address, lambda stub: inspector.reset(stub, task_hub, everything))
    click.echo("reset: every task hub" if everything else f"reset: task hub {task_hub}")


@_control_command(
    "proto",
    "Print the control service's .proto (EmulatorControl), for another language's gRPC code: "
    "durabletask-emulator proto > control.proto",
)
@click.option("--path", "show_path", is_flag=True, help="Print where the installed file is instead.")
def proto_command(show_path):
    from emulator.control import PROTO_PATH

    click.echo(str(PROTO_PATH) if show_path else PROTO_PATH.read_text(), nl=show_path)


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float:
    """``90s``, ``2h``, ``3d``, ``1h30m``, ``500ms`` -> seconds."""
    compact = text.replace(" ", "")
    parts = _DURATION.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise click.BadParameter(f"'{text}' is not a duration: use e.g. 90s, 2h, 3d, 1h30m, 500ms")
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)


def _echo_time(reply: dict) -> None:
    state = "skipping" if reply["timeSkipping"] else "not skipping"
    click.echo(
        f"task hub {reply['taskHub']}: {reply['now']} ({state}; {reply['offsetSeconds']:g}s ahead of the wall clock)"
    )


@main.group("time", context_settings=CONTEXT, invoke_without_command=True)
@_ADDRESS
@_DB
@click.option("--task-hub", default="default", help="The hub whose clock to read or move.")
@AS_JSON
@click.pass_context
def time_group(ctx, address, task_hub, as_json):
    """A task hub's clock: print it, `advance` it, turn `skipping` on or off."""
    ctx.obj = {"address": address, "task_hub": task_hub, "json": as_json}
    if ctx.invoked_subcommand is None:
        from emulator import inspector

        _time_reply(ctx, lambda stub: inspector.get_time(stub, task_hub))


def _time_reply(ctx, action) -> None:
    reply = _run_inspector(ctx.obj["address"], action)
    if ctx.obj["json"]:
        click.echo(json.dumps(reply, indent=2))
    else:
        _echo_time(reply)


@time_group.command("advance", context_settings=CONTEXT)
@click.argument("duration")
@click.pass_context
def time_advance(ctx, duration):
    """Move the hub's clock forward by DURATION (90s, 2h, 3d, 1h30m), firing the timers that come due."""
    from emulator import inspector

    seconds = parse_duration(duration)
    _time_reply(ctx, lambda stub: inspector.advance_time(stub, ctx.obj["task_hub"], seconds))


@time_group.command("skipping", context_settings=CONTEXT)
@click.argument("state", type=click.Choice(["on", "off"]))
@click.pass_context
def time_skipping_command(ctx, state):
    """Turn time skipping on or off for the hub."""
    from emulator import inspector

    _time_reply(ctx, lambda stub: inspector.set_time_skipping(stub, ctx.obj["task_hub"], state == "on"))


if __name__ == "__main__":  # pragma: no cover
    main()
