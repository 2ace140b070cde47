"""The one owner of orchestration state.

``Instance`` is a plain record; ``MemoryStore`` holds them. The engine mutates instances only
while holding its lock, and ``reset()`` replaces the whole store object. A durable store (SQLite)
plugs in behind the same small interface: ``get``, ``put``, ``delete``, ``all``, ``__len__``.
"""

from __future__ import annotations

from collections.abc import Iterator

from durabletask.internal import orchestrator_service_pb2 as pb

from emulator.engine.events import TERMINAL, HistoryEvent, decode_history, optional, timestamp


class Instance:
    """One orchestration instance: its current execution, history and pending work."""

    __slots__ = (
        "instance_id",
        "execution_id",
        "name",
        "version",
        "input",
        "output",
        "custom_status",
        "failure",
        "final_status",
        "started",
        "suspended",
        "created",
        "updated",
        "completed",
        "scheduled_start",
        "parent",
        "tags",
        "trace_context",
        "past",
        "event_count",
        "inbox",
        "lease",
        "queued",
        "children",
        "start_timer",
        "rewinding",
        "history_generation",
        "dialect",
    )

    def __init__(self, instance_id: str, execution_id: str, start: pb.ExecutionStartedEvent, now: float):
        self.instance_id = instance_id
        self.execution_id = execution_id
        self.name: str = start.name
        self.version: str | None = optional(start, "version")
        self.input: str | None = optional(start, "input")
        self.output: str | None = None
        self.custom_status: str | None = None
        self.failure: pb.TaskFailureDetails | None = None
        self.final_status: int | None = None
        self.started = False
        self.suspended = False
        self.created = now
        self.updated = now
        self.completed: float | None = None
        self.scheduled_start: float | None = None
        self.parent: pb.ParentInstanceInfo | None = start.parentInstance if start.HasField("parentInstance") else None
        self.tags: dict[str, str] = dict(start.tags)
        self.trace_context = start.parentTraceContext if start.HasField("parentTraceContext") else None
        self.past = bytearray()
        self.event_count = 0
        self.inbox: list[HistoryEvent] = []
        self.lease = None
        self.queued = False
        self.children: list[str] = []
        self.start_timer = None
        self.rewinding = False
        self.history_generation = 0  # bumped whenever ``past`` is replaced rather than appended to
        #: The protocol dialect whose client started it ("dapr"), None for Microsoft's; its
        #: sub-orchestrations and reruns inherit it. The console marks these instances.
        self.dialect: str | None = None

    @property
    def status(self) -> int:
        if self.final_status is not None:
            return self.final_status
        if self.suspended:
            return pb.ORCHESTRATION_STATUS_SUSPENDED
        if self.started:
            return pb.ORCHESTRATION_STATUS_RUNNING
        return pb.ORCHESTRATION_STATUS_PENDING

    @property
    def is_terminal(self) -> bool:
        return self.final_status in TERMINAL

    @property
    def parent_id(self) -> str | None:
        return self.parent.orchestrationInstance.instanceId if self.parent is not None else None

    def replace_history(self, data: bytes) -> None:
        """Start a new history (continue-as-new, rewind) instead of appending to the old one."""
        self.past = bytearray(data)
        self.history_generation += 1

    def history(self) -> list[HistoryEvent]:
        return list(decode_history(self.past))

    def to_state(self, with_payloads: bool = True) -> pb.OrchestrationState:
        s = pb.OrchestrationState(
            instanceId=self.instance_id,
            name=self.name,
            orchestrationStatus=self.status,
            createdTimestamp=timestamp(self.created),
            lastUpdatedTimestamp=timestamp(self.updated),
            tags=self.tags,
        )
        s.executionId.value = self.execution_id
        if self.version is not None:
            s.version.value = self.version
        if self.scheduled_start is not None:
            s.scheduledStartTimestamp.CopyFrom(timestamp(self.scheduled_start))
        if self.completed is not None:
            s.completedTimestamp.CopyFrom(timestamp(self.completed))
        if self.parent is not None:
            s.parentInstanceId.value = self.parent_id
        if self.failure is not None:
            s.failureDetails.CopyFrom(self.failure)
        if with_payloads:
            if self.input is not None:
                s.input.value = self.input
            if self.output is not None:
                s.output.value = self.output
            if self.custom_status is not None:
                s.customStatus.value = self.custom_status
        return s


class MemoryStore:
    """Instances and entities in dicts, in memory. ``touch``/``flush`` are for durable stores."""

    durable = False

    def __init__(self) -> None:
        self._instances: dict[str, Instance] = {}
        #: Durable entities by ID (``@name@key``).
        self.entities: dict = {}
        #: Orchestration ID -> IDs of the entities it holds locked.
        self.locks: dict[str, set[str]] = {}

    def get(self, instance_id: str) -> Instance | None:
        return self._instances.get(instance_id)

    #: Grows with every change to an instance or entity (the dashboard's live refresh watches it).
    changes = 0

    def put(self, instance: Instance) -> None:
        self._instances[instance.instance_id] = instance
        self.changes += 1

    def delete(self, instance_id: str) -> None:
        self._instances.pop(instance_id, None)
        self.changes += 1

    def all(self) -> Iterator[Instance]:
        return iter(list(self._instances.values()))

    def __len__(self) -> int:
        return len(self._instances)

    def touch(self, instance: Instance) -> None:
        """The current operation changed ``instance`` (a durable store writes it at ``flush``)."""
        self.changes += 1

    def touch_entity(self, entity) -> None:
        """The current operation changed ``entity``."""
        self.changes += 1

    def delete_entity(self, entity_id: str) -> None:
        self.entities.pop(entity_id, None)
        self.changes += 1

    def flush(self) -> None:
        """The engine operation is over: make its changes durable (nothing to do in memory)."""

    def load_clock(self) -> tuple[float, bool] | None:
        """The hub's saved clock ``(offset, skipping)``; None when nothing was saved."""
        return None

    def save_clock(self, offset: float, skipping: bool) -> None:
        """Remember the hub's clock (a durable store keeps it across restarts)."""

    def clear(self) -> None:
        self._instances.clear()
        self.entities.clear()
        self.locks.clear()

    def close(self) -> None:
        """Release the store's resources."""
