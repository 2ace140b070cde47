"""Work-item queues, worker sessions and leases.

A *session* is one connected worker (one GetWorkItems stream). A *lease* is a work item handed to
a session and not yet completed; its completion token names it. When a session goes away its
leases go back to the queues, so nothing a worker took is lost.

All methods are called with the engine's lock held.
"""

from __future__ import annotations

import itertools
import secrets
from collections import Counter, OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from durabletask.internal import orchestrator_service_pb2 as pb

ORCHESTRATOR = "orchestrator"
ACTIVITY = "activity"
ENTITY = "entity"
KINDS = (ORCHESTRATOR, ACTIVITY, ENTITY)
_TOKEN_PREFIX = {ORCHESTRATOR: "o", ACTIVITY: "a", ENTITY: "e"}
_KIND_OF_PREFIX = {v: k for k, v in _TOKEN_PREFIX.items()}
#: Differs from one emulator process to the next (see Dispatcher.new_token).
_EPOCH = secrets.token_hex(3)
#: The outcome remembered for a lease that ran out, so that its late completion is told so.
EXPIRED = "expired"


@dataclass
class ActivityTask:
    instance_id: str
    execution_id: str
    task_id: int
    name: str
    version: str | None
    input: pb.HistoryEvent  # the TaskScheduled event, for its payload fields
    created: float = 0.0
    #: A result was recorded: a second delivery's (an injected duplicate's) completion is dropped.
    completed: bool = False


class _Filter:
    """Which names (and versions) of one kind a session accepts; ``None`` accepts everything."""

    def __init__(self, entries) -> None:
        self.names: dict[str, frozenset[str]] = {e.name: frozenset(getattr(e, "versions", ())) for e in entries}

    def accepts(self, name: str, version: str | None) -> bool:
        versions = self.names.get(name)
        if versions is None:
            return False
        return not versions or (version or "") in versions


@dataclass(eq=False)
class WorkerSession:
    """One connected worker. ``deliver`` must not block: it hands bytes to the stream's queue."""

    session_id: int
    deliver: Callable[[bytes], None]
    limits: dict[str, int]
    filters: dict[str, _Filter] | None
    connected_at: float
    in_flight: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    leases: set[str] = field(default_factory=set)
    delivered: int = 0
    #: What the worker told about itself in its call's metadata (``workerid``, ``x-user-agent``) and its address.
    worker_id: str = ""
    user_agent: str = ""
    peer: str = ""
    #: Ends the worker's stream (the transport gives it; an injected disconnect calls it).
    end: Callable[[], None] | None = None

    def accepts(self, kind: str, name: str, version: str | None) -> bool:
        return self.filters is None or self.filters[kind].accepts(name, version)

    def has_capacity(self, kind: str) -> bool:
        limit = self.limits[kind]
        return limit <= 0 or self.in_flight[kind] < limit


def new_session(
    session_id: int, request: pb.GetWorkItemsRequest, deliver, now: float, identity: dict | None = None
) -> WorkerSession:
    filters = None
    if request.HasField("workItemFilters"):
        f = request.workItemFilters
        filters = {
            ORCHESTRATOR: _Filter(f.orchestrations),
            ACTIVITY: _Filter(f.activities),
            ENTITY: _Filter(f.entities),
        }
    limits = {
        ORCHESTRATOR: request.maxConcurrentOrchestrationWorkItems,
        ACTIVITY: request.maxConcurrentActivityWorkItems,
        ENTITY: request.maxConcurrentEntityWorkItems,
    }
    identity = identity or {}
    return WorkerSession(
        session_id,
        deliver,
        limits,
        filters,
        now,
        worker_id=identity.get("worker_id", ""),
        user_agent=identity.get("user_agent", ""),
        peer=identity.get("peer", ""),
    )


@dataclass(eq=False)
class Lease:
    token: str
    kind: str
    instance_id: str
    execution_id: str
    session: WorkerSession
    item: object  # orchestrator: list of new events; activity: ActivityTask; entity: batch
    expiry: object = None  # the lease-timeout timer, cancelled when the lease ends


class Dispatcher:
    """Ready queues per kind, the connected sessions and the outstanding leases."""

    #: How many finished tokens are remembered, to tell a duplicate completion from an unknown one.
    FINISHED_MEMORY = 20000

    def __init__(self) -> None:
        self.queues: dict[str, deque] = {k: deque() for k in KINDS}
        self.sessions: list[WorkerSession] = []
        self.leases: dict[str, Lease] = {}
        self.finished: OrderedDict[str, str] = OrderedDict()
        self._tokens = itertools.count(1)
        self._rr = 0
        self.delivered_total = 0
        #: Leases that ran out (not completed within the lease timeout) and were delivered again.
        self.expired_total = 0
        #: Faults injected, by kind (see emulator.engine.faults).
        self.faults: Counter[str] = Counter()
        #: Work items held back by an injected delay: not queued, not leased, but on their way.
        self.held = 0
        #: ids of held items just put back in their queue: delivered on their next turn, not held again.
        self.released: set[int] = set()

    def new_token(self, kind: str) -> str:
        # The process's epoch in every token: a late completion sent to an emulator restarted on
        # the same port (and --db file) can never name a work item the new process handed out.
        return f"{_TOKEN_PREFIX[kind]}{_EPOCH}-{next(self._tokens)}"

    @staticmethod
    def kind_of_token(token: str) -> str | None:
        return _KIND_OF_PREFIX.get(token[:1]) if token else None

    def add_session(self, session: WorkerSession) -> None:
        self.sessions.append(session)

    def remove_session(self, session: WorkerSession) -> list[Lease]:
        """Detach a session and return its outstanding leases (for the engine to requeue)."""
        if session in self.sessions:
            self.sessions.remove(session)
        return [self.leases[t] for t in list(session.leases) if t in self.leases]

    def pick_session(self, kind: str, name: str, version: str | None) -> WorkerSession | None:
        """Round-robin over sessions that accept the item and have room for one more."""
        n = len(self.sessions)
        for i in range(n):
            s = self.sessions[(self._rr + i) % n]
            if s.has_capacity(kind) and s.accepts(kind, name, version):
                self._rr = (self._rr + i + 1) % n
                return s
        return None

    def any_capacity(self, kind: str) -> bool:
        return any(s.has_capacity(kind) for s in self.sessions)

    def lease(self, kind: str, session: WorkerSession, instance_id: str, execution_id: str, item) -> Lease:
        token = self.new_token(kind)
        lease = Lease(token, kind, instance_id, execution_id, session, item)
        self.leases[token] = lease
        session.leases.add(token)
        session.in_flight[kind] += 1
        session.delivered += 1
        self.delivered_total += 1
        return lease

    def release(self, lease: Lease, outcome: str) -> None:
        """Forget a lease (completed, abandoned or cancelled) and remember its token's outcome."""
        self.leases.pop(lease.token, None)
        if lease.expiry is not None:
            lease.expiry.cancel()
        if lease.token in lease.session.leases:
            lease.session.leases.discard(lease.token)
            lease.session.in_flight[lease.kind] -= 1
        self.finished[lease.token] = outcome
        if len(self.finished) > self.FINISHED_MEMORY:
            self.finished.popitem(last=False)
