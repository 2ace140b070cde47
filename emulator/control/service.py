"""EmulatorControl on top of the engine: each RPC a short translation, like the main servicer."""

from __future__ import annotations

from datetime import timedelta

import grpc
from google.protobuf import duration_pb2

from emulator.control import SERVICE, _classes
from emulator.control import control_pb2 as cpb
from emulator.engine import Engine
from emulator.engine import events as ev
from emulator.engine.queries import WorkerRow
from emulator.service import _abort


def _worker(w: WorkerRow) -> cpb.WorkerInfo:
    return cpb.WorkerInfo(
        task_hub=w.hub,
        session_id=w.session_id,
        worker_id=w.worker_id,
        user_agent=w.user_agent,
        peer=w.peer,
        connected_at=ev.timestamp(w.connected_at),
        in_flight=w.in_flight,
        delivered=w.delivered,
    )


class ControlServicer:
    def __init__(self, engine: Engine):
        self.engine = engine

    async def ListTaskHubs(self, req: cpb.ListTaskHubsRequest, context):
        hubs = [
            cpb.TaskHubInfo(
                name=s.name,
                instance_counts=s.counts,
                entity_count=s.entities,
                worker_count=len(s.workers),
                now=ev.timestamp(s.clock.now),
                time_skipping=s.clock.skipping,
            )
            for s in self.engine.summaries()
        ]
        return cpb.ListTaskHubsResponse(task_hubs=hubs)

    async def ListWorkers(self, req: cpb.ListWorkersRequest, context):
        hubs = [self.engine.hub(req.task_hub)] if req.task_hub else self.engine.hubs()
        return cpb.ListWorkersResponse(workers=[_worker(w) for h in hubs for w in h.workers()])

    async def ResetTaskHub(self, req: cpb.ResetTaskHubRequest, context):
        self.engine.reset(None if req.all else (req.task_hub or None) or "default")
        return cpb.ResetTaskHubResponse()

    def _time(self, hub) -> cpb.TimeResponse:
        clock = hub.summary().clock
        offset = duration_pb2.Duration()
        offset.FromTimedelta(timedelta(seconds=clock.offset))
        return cpb.TimeResponse(
            task_hub=hub.name, now=ev.timestamp(clock.now), offset=offset, time_skipping=clock.skipping
        )

    async def GetTime(self, req: cpb.GetTimeRequest, context):
        return self._time(self.engine.hub(req.task_hub or None))

    async def AdvanceTime(self, req: cpb.AdvanceTimeRequest, context):
        hub = self.engine.hub(req.task_hub or None)
        hub.advance_time(req.duration.ToTimedelta().total_seconds())
        return self._time(hub)

    async def SetTimeSkipping(self, req: cpb.SetTimeSkippingRequest, context):
        hub = self.engine.hub(req.task_hub or None)
        hub.set_time_skipping(req.enabled)
        return self._time(hub)


def _guard(name: str, fn):
    async def handler(request, context):
        try:
            return await fn(request, context)
        except Exception as e:
            await _abort(context, name, e)

    return handler


def control_handler(engine: Engine) -> grpc.GenericRpcHandler:
    servicer = ControlServicer(engine)
    handlers = {}
    for method in SERVICE.methods:
        request_cls, response_cls = _classes(method)
        handlers[method.name] = grpc.unary_unary_rpc_method_handler(
            _guard(method.name, getattr(servicer, method.name)),
            request_deserializer=request_cls.FromString,
            response_serializer=response_cls.SerializeToString,
        )
    return grpc.method_handlers_generic_handler(SERVICE.full_name, handlers)
