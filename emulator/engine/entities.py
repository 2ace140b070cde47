"""Durable entities: per-entity message queues, batches, critical-section locks.

Each entity processes its messages one batch at a time, in arrival order. A lock request is a
message in the entity's queue like any other: when it reaches the head the entity is locked by
the requesting orchestration and the request moves on to the next entity of the (sorted) lock
set; the last one grants the lock. While locked, an entity runs only its owner's operations.
This is the Durable Task protocol's own sequential, deadlock-free scheme.

A mixin of :class:`emulator.engine.core.Engine`; every method runs with the engine lock held.
"""

from __future__ import annotations

import base64
from collections import deque
from dataclasses import dataclass

from durabletask.internal import orchestrator_service_pb2 as pb

from emulator.engine import events as ev
from emulator.engine import tokens
from emulator.engine.dispatch import ENTITY
from emulator.engine.store import Instance
from emulator.errors import InvalidRequest

MAX_BATCH = 100


def entity_name(entity_id: str) -> str:
    """The entity name of ``@name@key``, or raise InvalidRequest."""
    if not entity_id or not entity_id.startswith("@") or entity_id.count("@") < 2:
        raise InvalidRequest(f"'{entity_id}' is not an entity instance ID; entity IDs look like '@name@key'")
    name = entity_id.split("@", 2)[1]
    if not name:
        raise InvalidRequest(f"entity instance ID '{entity_id}' has an empty entity name")
    return name


@dataclass(eq=False)
class EntityMessage:
    """An operation (signal or call) or a lock request waiting in an entity's queue."""

    operation: str = ""
    request_id: str = ""
    input: str | None = None
    parent_id: str | None = None  # calls: the orchestration waiting for the result
    parent_execution: str | None = None
    lock: pb.EntityLockRequestedEvent | None = None
    owner: str | None = None  # lock requests: the orchestration asking

    @property
    def is_lock(self) -> bool:
        return self.lock is not None

    def to_json(self) -> dict:
        d = {
            k: getattr(self, k) for k in ("operation", "request_id", "input", "parent_id", "parent_execution", "owner")
        }
        d["lock"] = base64.b64encode(self.lock.SerializeToString()).decode() if self.lock is not None else None
        return d

    @classmethod
    def from_json(cls, d: dict) -> EntityMessage:
        lock = pb.EntityLockRequestedEvent.FromString(base64.b64decode(d["lock"])) if d["lock"] else None
        return cls(d["operation"], d["request_id"], d["input"], d["parent_id"], d["parent_execution"], lock, d["owner"])


class Entity:
    __slots__ = ("instance_id", "name", "state", "modified", "queue", "locked_by", "lease", "queued", "delayed")

    def __init__(self, instance_id: str, now: float):
        self.instance_id = instance_id
        self.name = entity_name(instance_id)
        self.state: str | None = None
        self.modified = now
        self.queue: deque[EntityMessage] = deque()
        self.locked_by: tuple[str, str] | None = None  # (orchestration ID, critical section ID)
        self.lease = None
        self.queued = False
        self.delayed: list[tuple[float, EntityMessage]] = []  # signals scheduled for later

    @property
    def is_empty(self) -> bool:
        return self.state is None and self.locked_by is None and not self.queue and not self.delayed and not self.lease

    def to_json(self) -> dict:
        pending = list(self.lease.item) if self.lease is not None else []  # unfinished work stays queued
        return {
            "state": self.state,
            "modified": self.modified,
            "locked_by": list(self.locked_by) if self.locked_by else None,
            "queue": [m.to_json() for m in pending + list(self.queue)],
            "delayed": [[due, m.to_json()] for due, m in self.delayed],
        }

    @classmethod
    def from_json(cls, entity_id: str, data: dict) -> Entity:
        entity = cls(entity_id, data["modified"])
        entity.state = data["state"]
        entity.locked_by = tuple(data["locked_by"]) if data["locked_by"] else None
        entity.queue.extend(EntityMessage.from_json(m) for m in data["queue"])
        entity.delayed = [(due, EntityMessage.from_json(m)) for due, m in data["delayed"]]
        return entity

    def to_metadata(self, include_state: bool) -> pb.EntityMetadata:
        m = pb.EntityMetadata(
            instanceId=self.instance_id, lastModifiedTime=ev.timestamp(self.modified), backlogQueueSize=len(self.queue)
        )
        if self.locked_by is not None:
            m.lockedBy.value = self.locked_by[0]
        if include_state and self.state is not None:
            m.serializedState.value = self.state
        return m


def _check_entity_message(action: pb.OrchestratorAction) -> str | None:
    msg = action.sendEntityMessage
    kind = msg.WhichOneof("EntityMessageType")
    body = getattr(msg, kind)
    targets = list(body.lockSet) if kind == "entityLockRequested" else [ev.optional(body, "targetInstanceId") or ""]
    for target in targets:
        try:
            entity_name(target)
        except InvalidRequest as e:
            return f"{kind} action {action.id}: {e}"
    return None


class EntityRules:
    # ------------------------------------------------------------------ entity records

    def _entity(self, entity_id: str, create: bool = True) -> Entity | None:
        entity = self._store.entities.get(entity_id)
        if entity is None and create:
            entity = Entity(entity_id, self._now())
            self._store.entities[entity_id] = entity
        return entity

    def _post(self, entity_id: str, message: EntityMessage) -> None:
        entity = self._entity(entity_id)
        entity.queue.append(message)
        self._store.touch_entity(entity)
        self._advance(entity)

    def _post_at(self, when: float | None, entity_id: str, message: EntityMessage) -> None:
        """Post now, or when ``when`` comes (signals scheduled for later are not delivered early)."""
        if when is None or when <= self._now():
            self._post(entity_id, message)
            return
        entity = self._entity(entity_id)
        item = (when, message)
        entity.delayed.append(item)
        self._store.touch_entity(entity)
        self._schedule_delayed(entity_id, item)

    def _schedule_delayed(self, entity_id: str, item: tuple[float, EntityMessage]) -> None:
        store = self._store

        def due() -> None:
            with self._op():
                entity = self._store.entities.get(entity_id)
                if self._store is not store or entity is None or item not in entity.delayed:
                    return
                entity.delayed.remove(item)
                self._post(entity_id, item[1])
                self._pump()

        self._call_at(item[0], due)

    def _recover_entities(self) -> None:
        for entity in list(self._store.entities.values()):  # _advance may forget an empty record
            for item in entity.delayed:
                self._schedule_delayed(entity.instance_id, item)
            self._advance(entity)

    # ------------------------------------------------------------------ processing the queue

    def _owner_alive(self, owner: str, execution: str | None = None) -> bool:
        """The orchestration exists, is not finished and (if given) is still the same execution."""
        inst = self._store.get(owner)
        if inst is not None and execution is not None and inst.execution_id != execution:
            return False
        return inst is not None and not inst.is_terminal

    def _advance(self, entity: Entity) -> None:
        """Apply lock requests at the head of the queue; mark the entity ready if an operation can run."""
        while entity.locked_by is None and entity.queue and entity.queue[0].is_lock:
            message = entity.queue.popleft()
            if self._owner_alive(message.owner, message.parent_execution):
                self._acquire(entity, message)
        if entity.lease is None and not entity.queued and self._runnable(entity):
            entity.queued = True
            self._dispatch.queues[ENTITY].append(entity.instance_id)
        self._forget_if_empty(entity)

    def _forget_if_empty(self, entity: Entity) -> None:
        """Remove an entity left with no state, lock or pending work, as DTS does.

        An entity whose state is deleted disappears at once (GetEntity, QueryEntities even with
        includeTransient, and a later CleanEntityStorage finds nothing to remove); a new signal
        starts it again from no state.
        """
        if entity.is_empty and self._store.entities.get(entity.instance_id) is entity:
            self._store.delete_entity(entity.instance_id)

    def _runnable(self, entity: Entity) -> list[EntityMessage]:
        """The operations the next batch would run (empty when none can run now)."""
        batch = []
        if entity.locked_by is None:
            for m in entity.queue:
                if m.is_lock or len(batch) >= MAX_BATCH:
                    break
                batch.append(m)
        else:
            owner = entity.locked_by[0]
            for m in entity.queue:
                if not m.is_lock and m.parent_id == owner:
                    batch.append(m)
                    if len(batch) >= MAX_BATCH:
                        break
        return batch

    def _acquire(self, entity: Entity, message: EntityMessage) -> None:
        lock = message.lock
        entity.locked_by = (message.owner, lock.criticalSectionId)
        self._store.locks.setdefault(message.owner, set()).add(entity.instance_id)
        entity.modified = self._now()
        self._store.touch_entity(entity)
        position = lock.position + 1
        if position < len(lock.lockSet):
            forwarded = pb.EntityLockRequestedEvent()
            forwarded.CopyFrom(lock)
            forwarded.position = position
            forward = EntityMessage(lock=forwarded, owner=message.owner, parent_execution=message.parent_execution)
            self._post(lock.lockSet[position], forward)
            return
        owner = self._store.get(message.owner)
        granted = pb.EntityLockGrantedEvent(criticalSectionId=lock.criticalSectionId)
        self._enqueue_event(owner, ev.event(self._now(), entityLockGranted=granted))

    def _unlock(self, entity: Entity, owner: str, section: str | None = None) -> bool:
        if entity.locked_by is None or entity.locked_by[0] != owner:
            return False
        if section is not None and entity.locked_by[1] != section:
            return False
        entity.locked_by = None
        entity.modified = self._now()
        self._store.touch_entity(entity)
        held = self._store.locks.get(owner)
        if held is not None:
            held.discard(entity.instance_id)
            if not held:
                del self._store.locks[owner]
        self._advance(entity)
        return True

    def _release_entity_locks(self, inst: Instance) -> None:
        for entity_id in list(self._store.locks.get(inst.instance_id, ())):
            entity = self._store.entities.get(entity_id)
            if entity is not None:
                self._unlock(entity, inst.instance_id)
        self._store.locks.pop(inst.instance_id, None)

    # ------------------------------------------------------------------ orchestration side

    def _apply_entity_message(self, inst: Instance, action: pb.OrchestratorAction, history: list) -> None:
        msg = action.sendEntityMessage
        kind = msg.WhichOneof("EntityMessageType")
        body = getattr(msg, kind)
        now = self._now()
        history.append(ev.event(now, action.id, **{kind: body}))
        if kind == "entityOperationSignaled":
            message = EntityMessage(body.operation, body.requestId, ev.optional(body, "input"))
            when = ev.seconds(body.scheduledTime) if body.HasField("scheduledTime") else None
            self._post_at(when, body.targetInstanceId.value, message)
        elif kind == "entityOperationCalled":
            message = EntityMessage(
                body.operation, body.requestId, ev.optional(body, "input"), inst.instance_id, inst.execution_id
            )
            self._post(body.targetInstanceId.value, message)
        elif kind == "entityLockRequested":
            request = EntityMessage(lock=body, owner=inst.instance_id, parent_execution=inst.execution_id)
            self._post(body.lockSet[body.position], request)
        elif kind == "entityUnlockSent":
            entity = self._entity(body.targetInstanceId.value, create=False)
            if entity is not None:
                self._unlock(entity, inst.instance_id, body.criticalSectionId)

    # ------------------------------------------------------------------ worker side

    def _entity_routing(self, entity_id: str):
        entity = self._store.entities.get(entity_id)
        if entity is None:
            return None
        entity.queued = False
        if entity.lease is not None or not self._runnable(entity):
            return None
        entity.queued = True
        return entity.name, None

    def _deliver_entity(self, entity_id: str, session) -> None:
        entity = self._store.entities[entity_id]
        entity.queued = False
        batch = self._runnable(entity)
        for m in batch:
            entity.queue.remove(m)
        lease = self._lease(ENTITY, session, entity_id, "", batch)
        entity.lease = lease
        request = pb.EntityBatchRequest(
            instanceId=entity_id,
            entityState=ev.string_value(entity.state),
            operations=[
                pb.OperationRequest(operation=m.operation, requestId=m.request_id, input=ev.string_value(m.input))
                for m in batch
            ],
        )
        session.deliver(pb.WorkItem(entityRequest=request, completionToken=lease.token).SerializeToString())

    def _requeue_entity(self, lease) -> None:
        entity = self._store.entities.get(lease.instance_id)
        if entity is None or entity.lease is not lease:
            return
        entity.lease = None
        entity.queue.extendleft(reversed(lease.item))
        self._store.touch_entity(entity)
        self._advance(entity)

    def complete_entity(self, result: pb.EntityBatchResult) -> None:
        with self._op():
            lease = self._take_lease(result.completionToken, ENTITY)
            self._dispatch.release(lease, "completed")
            entity = self._store.entities.get(lease.instance_id)
            if entity is None or entity.lease is not lease:
                self._pump()
                return
            entity.lease = None
            batch: list[EntityMessage] = lease.item
            if result.HasField("failureDetails"):
                outcomes = [pb.OperationResult(failure=pb.OperationResultFailure(failureDetails=result.failureDetails))]
                outcomes *= len(batch)
            else:
                outcomes = list(result.results)
                entity.state = ev.optional(result, "entityState")
                # Operations the worker did not get to go back to the front of the queue.
                entity.queue.extendleft(reversed(batch[len(outcomes) :]))
            entity.modified = self._now()
            self._store.touch_entity(entity)
            for message, outcome in zip(batch, outcomes, strict=False):
                self._answer_call(message, outcome)
            for action in result.actions:
                self._apply_operation_action(action)
            self._advance(entity)
            self._pump()

    def _answer_call(self, message: EntityMessage, outcome: pb.OperationResult) -> None:
        if message.parent_id is None:
            return  # a signal: nobody waits for it
        parent = self._store.get(message.parent_id)
        if parent is None or parent.is_terminal or parent.execution_id != message.parent_execution:
            return
        now = self._now()
        if outcome.HasField("failure"):
            failed = pb.EntityOperationFailedEvent(
                requestId=message.request_id, failureDetails=outcome.failure.failureDetails
            )
            self._enqueue_event(parent, ev.event(now, entityOperationFailed=failed))
        else:
            done = pb.EntityOperationCompletedEvent(
                requestId=message.request_id, output=ev.string_value(ev.optional(outcome.success, "result"))
            )
            self._enqueue_event(parent, ev.event(now, entityOperationCompleted=done))

    def _apply_operation_action(self, action: pb.OperationAction) -> None:
        kind = action.WhichOneof("operationActionType")
        if kind == "sendSignal":
            s = action.sendSignal
            when = ev.seconds(s.scheduledTime) if s.HasField("scheduledTime") else None
            self._post_at(when, s.instanceId, EntityMessage(s.name, "", ev.optional(s, "input")))
        elif kind == "startNewOrchestration":
            s = action.startNewOrchestration
            req = pb.CreateInstanceRequest(
                instanceId=s.instanceId,
                name=s.name,
                version=s.version if s.HasField("version") else None,
                input=s.input if s.HasField("input") else None,
                scheduledStartTimestamp=s.scheduledTime if s.HasField("scheduledTime") else None,
            )
            try:
                self._start_locked(req)
            except Exception as e:  # an entity's bad request must not lose the rest of its batch
                import logging

                logging.getLogger("emulator.engine").warning("entity could not start orchestration: %s", e)

    # ------------------------------------------------------------------ client side

    def signal_entity(self, req: pb.SignalEntityRequest) -> None:
        entity_name(req.instanceId)
        if not req.name:
            raise InvalidRequest("the operation name is required and was empty")
        with self._op():
            when = ev.seconds(req.scheduledTime) if req.HasField("scheduledTime") else None
            self._post_at(when, req.instanceId, EntityMessage(req.name, req.requestId, ev.optional(req, "input")))
            self._pump()

    def get_entity(self, instance_id: str, include_state: bool) -> pb.EntityMetadata | None:
        entity_name(instance_id)
        with self._op():
            entity = self._store.entities.get(instance_id)
            if entity is None or entity.state is None:
                return None
            return entity.to_metadata(include_state)

    def query_entities(self, query: pb.EntityQuery):
        prefix = ev.optional(query, "instanceIdStartsWith") or ""
        prefixes = (prefix,) if not prefix or prefix.startswith("@") else (prefix, "@" + prefix)
        start = ev.seconds(query.lastModifiedFrom) if query.HasField("lastModifiedFrom") else None
        end = ev.seconds(query.lastModifiedTo) if query.HasField("lastModifiedTo") else None
        page = query.pageSize.value if query.HasField("pageSize") else 0
        if page < 0:
            raise InvalidRequest(f"page size must not be negative (was {page})")
        after = tokens.decode(tokens.ENTITIES, self.name, ev.optional(query, "continuationToken"))
        with self._op():
            chosen = []
            for entity in self._store.entities.values():
                if entity.state is None and not query.includeTransient:
                    continue
                if not entity.instance_id.startswith(prefixes):
                    continue
                if (start is not None and entity.modified < start) or (end is not None and entity.modified > end):
                    continue
                if after and entity.instance_id <= after:
                    continue
                chosen.append(entity)
            chosen.sort(key=lambda e: e.instance_id)
            more = page > 0 and len(chosen) > page
            if page > 0:
                chosen = chosen[:page]
            last = tokens.encode(tokens.ENTITIES, self.name, chosen[-1].instance_id) if more else None
            return [e.to_metadata(query.includeState) for e in chosen], last

    def clean_entity_storage(
        self, remove_empty: bool, release_orphaned_locks: bool, token: str | None = None
    ) -> tuple[int, int]:
        """Clean in one pass (so no continuation token is ever returned); a token passed in must be ours."""
        tokens.decode(tokens.ENTITY_STORAGE, self.name, token)
        removed = released = 0
        with self._op():
            if release_orphaned_locks:
                for entity in list(self._store.entities.values()):
                    if entity.locked_by is not None and not self._owner_alive(entity.locked_by[0]):
                        self._unlock(entity, entity.locked_by[0])
                        released += 1
            if remove_empty:
                for entity in list(self._store.entities.values()):
                    if entity.is_empty:
                        self._store.delete_entity(entity.instance_id)
                        removed += 1
            self._pump()
        return removed, released
