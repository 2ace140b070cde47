"""Read-only views of a task hub's state: single instances, filtered pages, histories, snapshots.

Mixins of :class:`emulator.engine.hub.TaskHub`; :func:`merge_snapshots` joins the hubs' pictures.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from durabletask.internal import orchestrator_service_pb2 as pb

from emulator.engine import events as ev
from emulator.engine import tokens
from emulator.errors import InvalidRequest


@dataclass
class InstanceFilter:
    statuses: frozenset[int] = frozenset()
    created_from: float | None = None
    created_to: float | None = None
    completed_from: float | None = None
    completed_to: float | None = None
    prefix: str = ""
    terminal_only: bool = False
    name: str | None = None

    def matches(self, inst) -> bool:
        if self.terminal_only and not inst.is_terminal:
            return False
        if self.statuses and inst.status not in self.statuses:
            return False
        if self.prefix and not inst.instance_id.startswith(self.prefix):
            return False
        if self.name is not None and inst.name != self.name:
            return False
        if self.created_from is not None and inst.created < self.created_from:
            return False
        if self.created_to is not None and inst.created > self.created_to:
            return False
        if self.completed_from is not None or self.completed_to is not None:
            if inst.completed is None:
                return False
            if self.completed_from is not None and inst.completed < self.completed_from:
                return False
            if self.completed_to is not None and inst.completed > self.completed_to:
                return False
        return True


class Queries:
    def get_state(self, instance_id: str, with_payloads: bool) -> pb.OrchestrationState | None:
        if not instance_id:
            raise InvalidRequest("instanceId is required and was empty")
        with self._op():
            inst = self._store.get(instance_id)
            return None if inst is None else inst.to_state(with_payloads)

    def query(
        self,
        flt: InstanceFilter,
        page_size: int,
        token: str | None,
        with_payloads: bool = False,
        listing: str = tokens.INSTANCES,
    ):
        """A page of matching instances ordered by ID, and the token of the next page (None: no more).

        ``listing`` names the call the token belongs to (``QueryInstances`` or ``ListInstanceIds``).
        """
        if page_size < 0:
            raise InvalidRequest(f"page size must not be negative (was {page_size})")
        after = tokens.decode(listing, self.name, token)
        with self._op():
            ids = sorted(i.instance_id for i in self._store.all() if flt.matches(i))
            if after:
                ids = [i for i in ids if i > after]
            more = page_size > 0 and len(ids) > page_size
            if page_size > 0:
                ids = ids[:page_size]
            states = [self._store.get(i).to_state(with_payloads) for i in ids]
        return states, (tokens.encode(listing, self.name, ids[-1]) if more else None)

    def history(self, instance_id: str, execution_id: str | None = None) -> list[pb.HistoryEvent]:
        with self._op():
            inst = self._require(instance_id)
            if execution_id and execution_id != inst.execution_id:
                raise InvalidRequest(
                    f"instance '{instance_id}' is on execution '{inst.execution_id}'; "
                    f"the history of execution '{execution_id}' is no longer kept"
                )
            past = bytes(inst.past)
        return list(ev.decode_history(past))

    def instance_count(self) -> int:
        with self._op():
            return len(self._store)

    def entity_count(self) -> int:
        with self._op():
            return len(self._store.entities)


@dataclass(frozen=True)
class InstanceRow:
    instance_id: str
    name: str
    status: str
    created: float
    updated: float
    history_length: int
    hub: str = "default"
    #: A failed instance's error message (first line), else None.
    error: str | None = None
    #: The protocol dialect of the client that started it ("dapr"), None for Microsoft's.
    dialect: str | None = None


@dataclass(frozen=True)
class EntityRow:
    instance_id: str
    locked_by: str | None
    backlog: int
    modified: float
    has_state: bool
    hub: str = "default"


@dataclass(frozen=True)
class WorkerRow:
    """A connected worker as the console and ``hubs``/``workers`` show it."""

    hub: str
    session_id: int
    worker_id: str
    user_agent: str
    peer: str
    connected_at: float
    in_flight: int
    delivered: int
    #: The work-item filters the worker announced (kind -> names), or None: it takes everything.
    filters: dict[str, tuple[str, ...]] | None = None


@dataclass(frozen=True)
class HubTime:
    """A hub's clock as the console shows it."""

    hub: str
    now: float
    offset: float
    skipping: bool


@dataclass(frozen=True)
class EngineSnapshot:
    """A plain-data picture of the engine for the console; taken in O(instances) under the lock."""

    taken_at: float
    started_at: float
    workers: int
    counts: dict[str, int]
    delivered_total: int
    recent: list[InstanceRow]
    focus: InstanceRow | None
    focus_history: list = ()
    entity_count: int = 0
    entities: list[EntityRow] = ()
    hubs: tuple[str, ...] = ("default",)
    worker_rows: tuple[WorkerRow, ...] = ()
    clocks: tuple[HubTime, ...] = ()
    #: Leases that ran out and were delivered again; faults injected by kind.
    expired_leases: int = 0
    faults: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class HubSummary:
    """What ``hubs`` lists: a hub's name, its instances by status, entities and connected workers."""

    name: str
    counts: dict[str, int]
    entities: int
    workers: list[WorkerRow]
    clock: HubTime


def _row(inst, hub: str) -> InstanceRow:
    error = None
    if inst.failure is not None:
        message = inst.failure.errorMessage.strip().splitlines()
        error = message[0] if message else inst.failure.errorType
    return InstanceRow(
        inst.instance_id,
        inst.name,
        ev.status_name(inst.status),
        inst.created,
        inst.updated,
        inst.event_count,
        hub,
        error,
        inst.dialect,
    )


def _worker_row(hub: str, s) -> WorkerRow:
    filters = None if s.filters is None else {kind: tuple(sorted(f.names)) for kind, f in s.filters.items()}
    in_flight = sum(s.in_flight.values())
    return WorkerRow(
        hub, s.session_id, s.worker_id, s.user_agent, s.peer, s.connected_at, in_flight, s.delivered, filters
    )


def merge_snapshots(snaps: list[EngineSnapshot], rows: int, started_at: float, taken_at: float) -> EngineSnapshot:
    """One picture of several hubs: counts added up, the newest rows of all of them."""
    import heapq

    counts: dict[str, int] = {}
    for snap in snaps:
        for name, n in snap.counts.items():
            counts[name] = counts.get(name, 0) + n
    recent = heapq.nlargest(rows, (r for s in snaps for r in s.recent), key=lambda r: r.updated)
    focus = recent[0] if recent else None
    focus_history = next((s.focus_history for s in snaps if focus is not None and s.focus is focus), [])
    entity_rows = heapq.nlargest(max(1, rows // 3), (e for s in snaps for e in s.entities), key=lambda e: e.modified)
    return EngineSnapshot(
        taken_at=taken_at,
        started_at=started_at,
        workers=sum(s.workers for s in snaps),
        counts=counts,
        delivered_total=sum(s.delivered_total for s in snaps),
        recent=recent,
        focus=focus,
        focus_history=focus_history,
        entity_count=sum(s.entity_count for s in snaps),
        entities=entity_rows,
        hubs=tuple(h for s in snaps for h in s.hubs),
        worker_rows=tuple(w for s in snaps for w in s.worker_rows),
        clocks=tuple(c for s in snaps for c in s.clocks),
        expired_leases=sum(s.expired_leases for s in snaps),
        faults=dict(sum((Counter(s.faults) for s in snaps), Counter())),
    )


class Snapshots:
    def change_marker(self) -> tuple[int, int, int]:
        """Differs after any change of an instance, entity, delivery or connected worker (cheap; no lock)."""
        return self._store.changes, self._dispatch.delivered_total, len(self._dispatch.sessions)

    def counts(self) -> dict[str, int]:
        with self._op():
            counts: dict[str, int] = {}
            for inst in self._store.all():
                name = ev.status_name(inst.status)
                counts[name] = counts.get(name, 0) + 1
            return counts

    def workers(self) -> list[WorkerRow]:
        with self._op():
            return [_worker_row(self.name, s) for s in self._dispatch.sessions]

    def summary(self) -> HubSummary:
        with self._op():
            clock = HubTime(self.name, self.clock.now(), self.clock.offset, self.clock.skipping)
            return HubSummary(self.name, self.counts(), len(self._store.entities), self.workers(), clock)

    def snapshot(self, rows: int = 15) -> EngineSnapshot:
        """Counts by status, the ``rows`` most recently changed instances and the newest one's history."""
        import heapq

        with self._op():
            instances = list(self._store.all())
            counts: dict[str, int] = {}
            for inst in instances:
                name = ev.status_name(inst.status)
                counts[name] = counts.get(name, 0) + 1
            newest = heapq.nlargest(rows, instances, key=lambda i: i.updated)
            recent = [_row(i, self.name) for i in newest]
            past = bytes(newest[0].past) if newest else b""
            entities = list(self._store.entities.values())
            entity_rows = [
                EntityRow(
                    e.instance_id,
                    e.locked_by[0] if e.locked_by else None,
                    len(e.queue),
                    e.modified,
                    e.state is not None,
                    self.name,
                )
                for e in heapq.nlargest(max(1, rows // 3), entities, key=lambda e: e.modified)
            ]
            snap = EngineSnapshot(
                taken_at=self._now(),
                started_at=self.started_at,
                workers=len(self._dispatch.sessions),
                counts=counts,
                delivered_total=self._dispatch.delivered_total,
                recent=recent,
                focus=recent[0] if recent else None,
                entity_count=len(entities),
                entities=entity_rows,
                hubs=(self.name,),
                worker_rows=tuple(_worker_row(self.name, s) for s in self._dispatch.sessions),
                clocks=(HubTime(self.name, self.clock.now(), self.clock.offset, self.clock.skipping),),
                expired_leases=self._dispatch.expired_total,
                faults=dict(self._dispatch.faults),
            )
        # Decoding the history happens outside the lock.
        return EngineSnapshot(**{**snap.__dict__, "focus_history": list(ev.decode_history(past))})
