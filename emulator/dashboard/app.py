"""The dashboard's HTTP layer: the page at ``/``, its JSON API under ``/api/v1/``, ``/healthz``.

A thin translation onto the same engine operations the gRPC servicer calls (docs/dashboard-api.md
is the contract). It runs on the gRPC server's event loop (see :mod:`emulator.dashboard.serve`).
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated
from urllib.parse import unquote

from durabletask.internal import orchestrator_service_pb2 as pb
from fastapi import Body, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from google.protobuf import json_format
from starlette.exceptions import HTTPException as StarletteHTTPException

from emulator.engine import Engine
from emulator.engine import events as ev
from emulator.engine.core import TaskHub
from emulator.engine.queries import InstanceFilter
from emulator.errors import (
    EmulatorError,
    InstanceAlreadyExists,
    InstanceNotFound,
    InvalidRequest,
    LeaseExpired,
    LimitExceeded,
    NotInState,
    TaskHubNotFound,
    WorkItemAlreadyCompleted,
    WorkItemNotFound,
)

STATIC = Path(__file__).with_name("static")
#: An optional ``{"reason": "..."}`` body.
Reason = Annotated[str | None, Body(embed=True)]
STATUSES = [n.removeprefix("ORCHESTRATION_STATUS_") for n in pb.OrchestrationStatus.keys()]

#: Domain error -> (code, HTTP status); the first class in the error's MRO that is listed wins.
_HTTP = {
    InvalidRequest: ("INVALID_ARGUMENT", 400),
    InstanceNotFound: ("NOT_FOUND", 404),
    TaskHubNotFound: ("NOT_FOUND", 404),
    WorkItemNotFound: ("NOT_FOUND", 404),
    InstanceAlreadyExists: ("ALREADY_EXISTS", 409),
    NotInState: ("FAILED_PRECONDITION", 409),
    WorkItemAlreadyCompleted: ("FAILED_PRECONDITION", 409),
    LeaseExpired: ("FAILED_PRECONDITION", 409),
    LimitExceeded: ("RESOURCE_EXHAUSTED", 413),
}
#: How often the event stream looks for changes, and how often it sends a keep-alive comment.
CHANGE_POLL_SECONDS = 0.25
KEEP_ALIVE_SECONDS = 15.0


def _error(code: str, status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def _iso(seconds: float | None) -> str | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat()


def _ts(msg, field: str) -> str | None:
    return _iso(ev.seconds(getattr(msg, field))) if msg.HasField(field) else None


def _value(msg, field: str):
    return getattr(msg, field).value if msg.HasField(field) else None


def _parse_time(text: str | None, name: str) -> float | None:
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(f"{name}: '{text}' is not an ISO 8601 time (e.g. 2026-12-02T13:45:00Z)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp()


def _status_numbers(names: list[str]) -> frozenset[int]:
    numbers = set()
    for name in names:
        key = f"ORCHESTRATION_STATUS_{name.upper()}"
        if key not in pb.OrchestrationStatus.keys():
            raise InvalidRequest(f"status: '{name}' is not one of {', '.join(STATUSES)}")
        numbers.add(pb.OrchestrationStatus.Value(key))
    return frozenset(numbers)


def failure_dict(f: pb.TaskFailureDetails | None) -> dict | None:
    """Failure details with the stack trace as text and inner failures nested."""
    if f is None:
        return None
    return {
        "errorType": f.errorType,
        "errorMessage": f.errorMessage,
        "stackTrace": _value(f, "stackTrace"),
        "isNonRetriable": f.isNonRetriable,
        "innerFailure": failure_dict(f.innerFailure) if f.HasField("innerFailure") else None,
    }


def summary_dict(s: pb.OrchestrationState) -> dict:
    failure = s.failureDetails if s.HasField("failureDetails") else None
    return {
        "instanceId": s.instanceId,
        "name": s.name,
        "status": ev.status_name(s.orchestrationStatus),
        "createdAt": _ts(s, "createdTimestamp"),
        "lastUpdatedAt": _ts(s, "lastUpdatedTimestamp"),
        "completedAt": _ts(s, "completedTimestamp"),
        "parentInstanceId": _value(s, "parentInstanceId"),
        "failure": {"errorType": failure.errorType, "errorMessage": failure.errorMessage} if failure else None,
    }


def event_dict(e: pb.HistoryEvent) -> dict:
    kind = e.WhichOneof("eventType")
    details = json_format.MessageToDict(getattr(e, kind)) if kind else {}
    return {"eventId": e.eventId, "timestamp": _ts(e, "timestamp"), "type": kind, "details": details}


def _hub(request: Request, hub: str | None) -> TaskHub:
    engine: Engine = request.app.state.engine
    return engine.hub(hub or None)


def _time_dict(h: TaskHub) -> dict:
    return {
        "taskHub": h.name,
        "now": _iso(h.now()),
        "offsetSeconds": h.clock.offset,
        "timeSkipping": h.clock.skipping,
    }


def _hostname(host_header: str) -> str:
    """``localhost:8082`` -> ``localhost``; ``[::1]:8082`` -> ``[::1]``."""
    if host_header.startswith("["):
        return host_header.split("]", 1)[0] + "]"
    return host_header.rsplit(":", 1)[0] if ":" in host_header else host_header


def create_app(engine: Engine, host: str = "127.0.0.1") -> FastAPI:
    """The app for an emulator bound to ``host``.

    Requests must name ``localhost``, a loopback address or ``host`` in their ``Host`` header (any
    name when bound to all interfaces, as in a container); a POST or DELETE sent by a page of
    another origin is refused.
    """
    app = FastAPI(
        title="durabletask-emulator dashboard API",
        version="1",
        description="The JSON API the dashboard page uses; see docs/dashboard-api.md.",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.engine = engine

    any_host = host in ("0.0.0.0", "::", "[::]", "")
    names = {"localhost", "127.0.0.1", "[::1]", host if ":" not in host else f"[{host.strip('[]')}]"}

    @app.middleware("http")
    async def guard(request: Request, call_next):
        host_header = request.headers.get("host", "")
        if not any_host and _hostname(host_header) not in names:
            # DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends Host: evil.example
            return _error("FORBIDDEN", 403, f"Host '{host_header}' is not this dashboard's address")
        origin = request.headers.get("origin")
        if request.method not in ("GET", "HEAD", "OPTIONS") and origin is not None:
            # CSRF: a browser names the page that sent a request; only the dashboard's own may act
            if origin not in (f"http://{host_header}", f"https://{host_header}"):
                return _error(
                    "FORBIDDEN", 403, f"cross-origin request refused: Origin '{origin}' is not this dashboard"
                )
        return await call_next(request)

    @app.exception_handler(EmulatorError)
    async def emulator_error(request: Request, e: EmulatorError):
        for cls in type(e).__mro__:
            if cls in _HTTP:
                code, status = _HTTP[cls]
                return _error(code, status, str(e))
        return _error("INTERNAL", 500, str(e))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException):
        codes = {404: "NOT_FOUND", 405: "INVALID_ARGUMENT", 400: "INVALID_ARGUMENT"}
        return _error(
            codes.get(e.status_code, "INTERNAL"), e.status_code, f"{request.method} {request.url.path}: {e.detail}"
        )

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, e: RequestValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg')}" for err in e.errors())
        return _error("INVALID_ARGUMENT", 400, problems or "bad request")

    # ------------------------------------------------------------------ page

    @app.get("/", include_in_schema=False)
    async def index():
        return FileResponse(STATIC / "index.html")

    if STATIC.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/healthz", status_code=204, response_class=Response, tags=["health"])
    async def healthz():
        return Response(status_code=204)

    # ------------------------------------------------------------------ reads

    @app.get("/api/v1/hubs", tags=["hubs"])
    async def hubs():
        rows = []
        for s in engine.summaries():
            rows.append(
                {
                    "name": s.name,
                    "instances": dict(sorted(s.counts.items())),
                    "entities": s.entities,
                    "workers": len(s.workers),
                    "now": _iso(s.clock.now),
                    "timeSkipping": s.clock.skipping,
                    "offsetSeconds": s.clock.offset,
                }
            )
        return rows

    @app.get("/api/v1/instances", tags=["instances"])
    async def instances(
        request: Request,
        hub: str | None = None,
        status: list[str] = Query(default=[]),
        name: str | None = None,
        prefix: str | None = None,
        createdFrom: str | None = None,
        createdTo: str | None = None,
        pageSize: int = Query(default=50, ge=1, le=1000),
        token: str | None = None,
    ):
        h = _hub(request, hub)
        flt = InstanceFilter(
            statuses=_status_numbers(status),
            created_from=_parse_time(createdFrom, "createdFrom"),
            created_to=_parse_time(createdTo, "createdTo"),
            prefix=prefix or "",
            name=name or None,
        )
        states, next_token = h.query(flt, pageSize, token)
        return {"instances": [summary_dict(s) for s in states], "counts": h.counts(), "nextToken": next_token}

    @app.get("/api/v1/instances/{instance_id:path}/history", tags=["instances"])
    async def history(request: Request, instance_id: str, hub: str | None = None):
        return {"events": [event_dict(e) for e in _hub(request, hub).history(instance_id)]}

    @app.get("/api/v1/instances/{instance_id:path}", tags=["instances"])
    async def instance(request: Request, instance_id: str, hub: str | None = None):
        h = _hub(request, hub)
        state = h.get_state(instance_id, True)
        if state is None:
            raise InstanceNotFound(instance_id)
        history = h.history(instance_id)
        created = "subOrchestrationInstanceCreated"
        children = [getattr(e, created).instanceId for e in history if e.HasField(created)]
        detail = summary_dict(state)
        detail.update(
            {
                "version": _value(state, "version"),
                "executionId": _value(state, "executionId"),
                "input": _value(state, "input"),
                "output": _value(state, "output"),
                "customStatus": _value(state, "customStatus"),
                "tags": dict(state.tags),
                "scheduledStartAt": _ts(state, "scheduledStartTimestamp"),
                "children": list(dict.fromkeys(children)),
                "failure": failure_dict(state.failureDetails if state.HasField("failureDetails") else None),
            }
        )
        return detail

    @app.get("/api/v1/entities", tags=["entities"])
    async def entities(
        request: Request,
        hub: str | None = None,
        prefix: str | None = None,
        pageSize: int = Query(default=50, ge=1, le=1000),
        token: str | None = None,
    ):
        query = pb.EntityQuery(
            instanceIdStartsWith=ev.string_value(prefix or None),
            includeState=True,
            includeTransient=True,
            continuationToken=ev.string_value(token or None),
        )
        query.pageSize.value = pageSize
        found, next_token = _hub(request, hub).query_entities(query)
        rows = []
        for e in found:
            _, name, key = e.instanceId.split("@", 2) if e.instanceId.count("@") >= 2 else ("", e.instanceId, "")
            rows.append(
                {
                    "instanceId": e.instanceId,
                    "name": name,
                    "key": key,
                    "state": _value(e, "serializedState"),
                    "lockedBy": _value(e, "lockedBy"),
                    "backlog": e.backlogQueueSize,
                    "lastModified": _ts(e, "lastModifiedTime"),
                }
            )
        return {"entities": rows, "nextToken": next_token}

    @app.get("/api/v1/workers", tags=["workers"])
    async def workers(request: Request, hub: str | None = None):
        return [
            {
                "taskHub": w.hub,
                "id": w.session_id,
                "workerId": w.worker_id,
                "userAgent": w.user_agent,
                "peer": unquote(w.peer),  # gRPC percent-encodes it: ipv6:%5B::1%5D:51170
                "connectedAt": _iso(w.connected_at),
                "inFlight": w.in_flight,
                "delivered": w.delivered,
                "filters": None if w.filters is None else {k: list(v) for k, v in w.filters.items()},
            }
            for w in _hub(request, hub).workers()
        ]

    @app.get("/api/v1/time", tags=["time"])
    async def get_time(request: Request, hub: str | None = None):
        return _time_dict(_hub(request, hub))

    # ------------------------------------------------------------------ actions

    def _json_text(value) -> str | None:
        return None if value is None else json.dumps(value)

    @app.post("/api/v1/instances/{instance_id:path}/raise-event", tags=["actions"])
    async def raise_event(
        request: Request, instance_id: str, hub: str | None = None, name: str = Body(..., embed=True), data=Body(None)
    ):
        _hub(request, hub).raise_event(instance_id, name, _json_text(data))
        return {}

    @app.post("/api/v1/instances/{instance_id:path}/suspend", tags=["actions"])
    async def suspend(request: Request, instance_id: str, hub: str | None = None, reason: Reason = None):
        _hub(request, hub).suspend(instance_id, reason)
        return {}

    @app.post("/api/v1/instances/{instance_id:path}/resume", tags=["actions"])
    async def resume(request: Request, instance_id: str, hub: str | None = None, reason: Reason = None):
        _hub(request, hub).resume(instance_id, reason)
        return {}

    @app.post("/api/v1/instances/{instance_id:path}/terminate", tags=["actions"])
    async def terminate(
        request: Request, instance_id: str, hub: str | None = None, output=Body(None), recursive: bool = Body(True)
    ):
        _hub(request, hub).terminate(instance_id, _json_text(output), recursive)
        return {}

    @app.post("/api/v1/instances/{instance_id:path}/restart", tags=["actions"])
    async def restart(
        request: Request, instance_id: str, hub: str | None = None, newInstanceId: bool = Body(False, embed=True)
    ):
        return {"instanceId": _hub(request, hub).restart(instance_id, newInstanceId)}

    @app.post("/api/v1/instances/{instance_id:path}/rewind", tags=["actions"])
    async def rewind(request: Request, instance_id: str, hub: str | None = None, reason: Reason = None):
        _hub(request, hub).rewind(instance_id, reason)
        return {}

    @app.delete("/api/v1/instances/{instance_id:path}", tags=["actions"])
    async def purge(request: Request, instance_id: str, hub: str | None = None, recursive: bool = True):
        h = _hub(request, hub)
        if h.get_state(instance_id, False) is None:
            raise InstanceNotFound(instance_id)
        return {"deleted": h.purge(instance_id, recursive)}

    @app.post("/api/v1/time/advance", tags=["time"])
    async def advance(request: Request, hub: str | None = None, seconds: float = Body(..., embed=True)):
        h = _hub(request, hub)
        h.advance_time(seconds)
        return _time_dict(h)

    @app.post("/api/v1/time/skipping", tags=["time"])
    async def skipping(request: Request, hub: str | None = None, enabled: bool = Body(..., embed=True)):
        h = _hub(request, hub)
        h.set_time_skipping(enabled)
        return _time_dict(h)

    # ------------------------------------------------------------------ live refresh

    @app.get("/api/v1/events", tags=["live"])
    async def events(request: Request, hub: str | None = None):
        h = _hub(request, hub)

        async def stream():
            last, version, quiet = None, 0, 0.0
            while not await request.is_disconnected():
                marker = h.change_marker()
                if marker != last:
                    last, version, quiet = marker, version + 1, 0.0
                    yield f"event: change\ndata: {json.dumps({'version': version})}\n\n"
                elif quiet >= KEEP_ALIVE_SECONDS:
                    quiet = 0.0
                    yield ": keep-alive\n\n"
                await asyncio.sleep(CHANGE_POLL_SECONDS)
                quiet += CHANGE_POLL_SECONDS

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})

    return app
