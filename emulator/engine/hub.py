"""One task hub: its instances, entities, work queues, connected workers, waiters and timers.

A :class:`TaskHub` owns everything of one namespace; :class:`emulator.engine.core.Engine` only
routes a call to its hub. The hub's ``threading.RLock`` is held for the whole of every operation,
so each is atomic; none of them blocks or does I/O while holding it (a durable store writes at the
end of the operation). Waiters and worker sessions are told about changes through callbacks that
must not block either (the servicer hands them to its event loop).
"""

from __future__ import annotations

import itertools
import logging
import threading
import uuid
from collections.abc import Callable
from contextlib import contextmanager

from durabletask.internal import orchestrator_service_pb2 as pb

from emulator.config import Config
from emulator.engine import events as ev
from emulator.engine.clock import HubClock, Scheduler, TimerHandle
from emulator.engine.dispatch import (
    ACTIVITY,
    ENTITY,
    EXPIRED,
    ORCHESTRATOR,
    ActivityTask,
    Dispatcher,
    Lease,
    WorkerSession,
    new_session,
)
from emulator.engine.entities import EntityRules
from emulator.engine.faults import DELAY, DISCONNECT, DUPLICATE, Faults
from emulator.engine.orchestrations import NO_EXTRAS, OrchestrationRules, TurnExtras
from emulator.engine.queries import Queries, Snapshots
from emulator.engine.store import Instance, MemoryStore
from emulator.engine.waiters import Waiter, Waiters
from emulator.errors import (
    InstanceAlreadyExists,
    InstanceNotFound,
    InvalidRequest,
    NotInState,
    TaskHubNotFound,
    WorkItemNotFound,
)

log = logging.getLogger("emulator.engine")


class TaskHub(OrchestrationRules, EntityRules, Queries, Snapshots):
    """One task hub, independent of any transport.

    ``store`` holds the hub's state (a :class:`MemoryStore`, or a durable store already loaded);
    ``scheduler`` is the engine's one timer thread, shared by every hub: the hub tags its timers
    so that resetting it cancels its own and no other hub's.
    """

    def __init__(
        self,
        name: str,
        config: Config,
        store: MemoryStore,
        scheduler: Scheduler,
        session_ids=None,
        faults: Faults | None = None,
    ):
        self.name = name
        self.config = config
        self._faults = faults
        #: The owner tag of this hub's timers that run on real time whatever its clock does: lease
        #: timeouts, abandon retries and injected faults (transport intervals, never skipped).
        self._wall_timers = object()
        self.clock = HubClock(scheduler.clock, skipping=config.time_skipping)
        saved = store.load_clock()
        if saved is not None:
            self.clock.offset, self.clock.skipping = saved
        self.started_at = self.clock.now()
        self._lock = threading.RLock()
        self._depth = 0
        self._scheduler = scheduler
        self._store = store
        self._dispatch = Dispatcher()
        self._waiters = Waiters()
        self._session_ids = session_ids or itertools.count(1)
        self.retired = False
        if self._store.durable:
            with self._op():
                self._recover()

    def _call_at(self, due: float, callback) -> TimerHandle:
        """Run ``callback`` when the hub's clock reaches ``due``."""
        return self._scheduler.call_at(due, callback, owner=self, offset=self.clock.offset)

    def _call_later_real(self, delay: float, callback) -> TimerHandle:
        """Run ``callback`` under the hub's lock ``delay`` real seconds from now (the hub's clock plays no part)."""

        def run() -> None:
            with self._op():
                callback()

        return self._scheduler.call_later(delay, run, owner=self._wall_timers)

    @contextmanager
    def _op(self):
        """One engine operation: under the lock, and made durable (one transaction) when it ends."""
        with self._lock:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    if self.clock.skipping:
                        self._skip_time()
                    self._store.flush()

    # ------------------------------------------------------------------ time

    def _idle(self) -> bool:
        """No work item of this hub is queued or handed to a worker."""
        d = self._dispatch
        return not d.leases and not d.held and not any(d.queues.values())

    def _skip_time(self) -> None:
        """The time-skipping rule: while a client waits and nothing can happen, jump to the next timer."""
        if not len(self._waiters) or not self._idle():
            return
        due = self._scheduler.earliest(self)
        if due is not None and self.clock.jump_to(due):
            self._clock_moved()

    def _clock_moved(self) -> None:
        self._scheduler.rebase(self, self.clock.offset)
        self._store.save_clock(self.clock.offset, self.clock.skipping)

    def now(self) -> float:
        """The hub's current time (seconds since the epoch): wall time unless advanced or skipped."""
        with self._op():
            return self.clock.now()

    def advance_time(self, seconds: float) -> float:
        """Move the hub's clock forward, firing every timer that comes due, in order; returns the new time."""
        if seconds < 0:
            raise InvalidRequest(f"time only moves forward: cannot advance by {seconds} seconds")
        with self._op():
            self.clock.advance(seconds)
            self._clock_moved()
            log.info("task hub %s: time advanced by %ss", self.name, f"{seconds:g}")
            return self.clock.now()

    def set_time_skipping(self, enabled: bool) -> None:
        with self._op():
            self.clock.skipping = enabled
            self._store.save_clock(self.clock.offset, self.clock.skipping)

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Stop the hub's timers and release its store (the engine closes a shared database after)."""
        self._scheduler.clear(owner=self)
        self._scheduler.clear(owner=self._wall_timers)
        with self._lock:
            self._store.close()

    @property
    def worker_count(self) -> int:
        return len(self._dispatch.sessions)

    def retire(self) -> bool:
        """Mark an empty hub with no workers as gone (the engine then forgets it); False if it is in use.

        A worker whose stream opens on a retired hub is refused, so it reconnects to the new one.
        """
        with self._op():
            if self._dispatch.sessions or len(self._store) or self._store.entities:
                return False
            self.retired = True
            return True

    def reset(self) -> None:
        """Forget every instance, queued item, lease and timer; connected workers stay connected.

        The clock starts again from wall time, skipping as the emulator was started: with nothing
        left that carries a timestamp, a reset hub is a new hub (a test reusing a hub name after a
        reset does not begin days ahead).
        """
        with self._op():
            self._scheduler.clear(owner=self)
            self._scheduler.clear(owner=self._wall_timers)
            old = self._dispatch
            if self._store.durable:
                self._store.clear()
            else:
                self._store = MemoryStore()
            self._dispatch = Dispatcher()
            for s in old.sessions:
                s.leases.clear()
                s.in_flight = dict.fromkeys(s.in_flight, 0)
                self._dispatch.add_session(s)
            self.clock.offset, self.clock.skipping = 0.0, self.config.time_skipping
            self._store.save_clock(self.clock.offset, self.clock.skipping)
            self._waiters.release_all()

    def _recover(self) -> None:
        """After loading a durable store: rebuild queues and timers from what was persisted."""
        now = self._now()
        for inst in self._store.all():
            if inst.is_terminal:
                continue
            if inst.scheduled_start is not None and not inst.started and inst.scheduled_start > now:
                iid, xid = inst.instance_id, inst.execution_id
                inst.start_timer = self._call_at(inst.scheduled_start, lambda i=iid, x=xid: self._begin(i, x))
            self._resume_pending_work(inst)
            self._make_ready(inst)
        self._recover_entities()
        log.info(
            "task hub %s: recovered %d instances and %d entities from %s",
            self.name,
            len(self._store),
            len(self._store.entities),
            self.config.db_path,
        )

    def _resume_pending_work(self, inst: Instance) -> None:
        """Queue the activities without a result and re-arm the timers that have not fired."""
        scheduled, answered, timers, fired = {}, set(), {}, set()
        for e in [*ev.decode_history(inst.past), *inst.inbox]:
            kind = e.WhichOneof("eventType")
            if kind == "taskScheduled":
                scheduled[e.eventId] = e
            elif kind in ("taskCompleted", "taskFailed"):
                answered.add(getattr(e, kind).taskScheduledId)
            elif kind == "timerCreated":
                timers[e.eventId] = e.timerCreated.fireAt
            elif kind == "timerFired":
                fired.add(e.timerFired.timerId)
        for task_id, e in scheduled.items():
            if task_id not in answered:
                task = ActivityTask(
                    inst.instance_id,
                    inst.execution_id,
                    task_id,
                    e.taskScheduled.name,
                    ev.optional(e.taskScheduled, "version"),
                    e,
                    self._now(),
                )
                self._dispatch.queues[ACTIVITY].append(task)
        for timer_id, fire_at in timers.items():
            if timer_id not in fired:
                self._schedule_timer(inst, timer_id, fire_at)

    # ------------------------------------------------------------------ helpers

    def _now(self) -> float:
        return self.clock.now()

    def _require(self, instance_id: str) -> Instance:
        if not instance_id:
            raise InvalidRequest("instanceId is required and was empty")
        inst = self._store.get(instance_id)
        if inst is None:
            raise InstanceNotFound(instance_id)
        return inst

    def _append(self, inst: Instance, events: list) -> None:
        if events:
            inst.past += ev.encode_history(events)
            inst.event_count += len(events)
        inst.updated = self._now()
        self._store.touch(inst)

    def _dispatchable(self, inst: Instance) -> bool:
        return (
            inst.lease is None
            and bool(inst.inbox)
            and (inst.final_status is None)
            and not inst.suspended
            and inst.start_timer is None
        )

    def _make_ready(self, inst: Instance) -> None:
        if not inst.queued and self._dispatchable(inst):
            inst.queued = True
            self._dispatch.queues[ORCHESTRATOR].append(inst.instance_id)

    def _enqueue_event(self, inst: Instance, event: pb.HistoryEvent) -> None:
        inst.inbox.append(event)
        inst.updated = self._now()
        self._store.touch(inst)
        self._make_ready(inst)

    # ------------------------------------------------------------------ creating instances

    def _create(
        self,
        instance_id: str,
        start: pb.ExecutionStartedEvent,
        start_at: float | None = None,
        dialect: str | None = None,
    ) -> Instance:
        now = self._now()
        execution_id = uuid.uuid4().hex
        start.orchestrationInstance.instanceId = instance_id
        start.orchestrationInstance.executionId.value = execution_id
        inst = Instance(instance_id, execution_id, start, now)
        inst.dialect = dialect
        inst.inbox.append(ev.event(now, executionStarted=start))
        if start_at is not None and start_at > now:
            inst.scheduled_start = start_at
            inst.start_timer = self._call_at(start_at, lambda: self._begin(instance_id, execution_id))
        self._store.put(inst)
        self._make_ready(inst)
        self._waiters.notify(inst)
        log.info("instance %s started: %s", instance_id, start.name)
        return inst

    def _begin(self, instance_id: str, execution_id: str) -> None:
        """A scheduled start time has come."""
        with self._op():
            inst = self._store.get(instance_id)
            if inst is None or inst.execution_id != execution_id:
                return
            inst.start_timer = None
            self._make_ready(inst)
            self._pump()

    def _remove(self, inst: Instance) -> None:
        if inst.start_timer is not None:
            inst.start_timer.cancel()
        self._store.delete(inst.instance_id)

    def start_instance(self, req: pb.CreateInstanceRequest, dialect: str | None = None) -> str:
        """Create an instance; ``dialect``: the protocol dialect of the client asking ("dapr")."""
        if not req.name:
            raise InvalidRequest("name (the orchestrator to run) is required and was empty")
        with self._op():
            instance_id = self._start_locked(req, dialect)
            self._pump()
        return instance_id

    def _start_locked(self, req: pb.CreateInstanceRequest, dialect: str | None = None) -> str:
        instance_id = req.instanceId or uuid.uuid4().hex
        existing = self._store.get(instance_id)
        if existing is not None:
            policy = req.orchestrationIdReusePolicy
            statuses = set(policy.replaceableStatus)
            action = ev.legacy_reuse_action(policy)
            if action is not None:
                # The older shape acts only on the statuses it lists; any other is a duplicate.
                if existing.status not in statuses:
                    raise InstanceAlreadyExists(instance_id, ev.status_name(existing.status))
                if action == ev.LEGACY_REUSE_IGNORE:
                    log.info(
                        "start of %s ignored: the reuse policy says IGNORE for an instance that is %s",
                        instance_id,
                        ev.status_name(existing.status),
                    )
                    return instance_id
            self._make_room(existing, statuses)
        start = pb.ExecutionStartedEvent(
            name=req.name,
            version=req.version if req.HasField("version") else None,
            input=req.input if req.HasField("input") else None,
            tags=req.tags,
            parentTraceContext=req.parentTraceContext if req.HasField("parentTraceContext") else None,
        )
        start_at = None
        # A start time at or before now means "now" (the JS SDK sends the epoch when none was
        # given); only a future one is recorded, so history does not claim a start in 1970.
        if req.HasField("scheduledStartTimestamp") and ev.seconds(req.scheduledStartTimestamp) > self._now():
            start_at = ev.seconds(req.scheduledStartTimestamp)
            start.scheduledStartTimestamp.CopyFrom(req.scheduledStartTimestamp)
        self._create(instance_id, start, start_at, dialect)
        return instance_id

    def _make_room(self, existing: Instance, replaceable: set[int]) -> None:
        """Apply the ID reuse policy to an instance that already has the requested ID."""
        status = existing.status
        if replaceable:
            if status not in replaceable:
                raise InstanceAlreadyExists(existing.instance_id, ev.status_name(status))
            if not existing.is_terminal:
                self._terminate(existing, None, recursive=False)
        elif not existing.is_terminal:
            raise InstanceAlreadyExists(existing.instance_id, ev.status_name(status))
        self._remove(existing)

    # ------------------------------------------------------------------ client operations

    def raise_event(self, instance_id: str, name: str, data: str | None) -> None:
        if not name:
            raise InvalidRequest("event name is required and was empty")
        with self._op():
            inst = self._require(instance_id)
            if inst.is_terminal:
                log.info(
                    "event %r for %s dropped: the instance is %s",
                    name,
                    instance_id,
                    ev.status_name(inst.status),
                )
                return
            raised = pb.EventRaisedEvent(name=name, input=ev.string_value(data))
            self._enqueue_event(inst, ev.event(self._now(), eventRaised=raised))
            self._pump()

    def terminate(self, instance_id: str, output: str | None, recursive: bool) -> None:
        with self._op():
            inst = self._require(instance_id)
            self._request_termination(inst, output, recursive)
            self._pump()

    def suspend(self, instance_id: str, reason: str | None) -> None:
        with self._op():
            inst = self._require(instance_id)
            self._check_live(inst, "suspended")
            if inst.suspended:
                return
            inst.suspended = True
            suspended = pb.ExecutionSuspendedEvent(input=ev.string_value(reason))
            self._enqueue_event(inst, ev.event(self._now(), executionSuspended=suspended))
            self._waiters.notify(inst)

    def resume(self, instance_id: str, reason: str | None) -> None:
        with self._op():
            inst = self._require(instance_id)
            self._check_live(inst, "resumed")
            if not inst.suspended:
                return
            inst.suspended = False
            resumed = pb.ExecutionResumedEvent(input=ev.string_value(reason))
            self._enqueue_event(inst, ev.event(self._now(), executionResumed=resumed))
            self._waiters.notify(inst)
            self._pump()

    def _check_live(self, inst: Instance, verb: str) -> None:
        if inst.is_terminal:
            raise NotInState(
                f"instance '{inst.instance_id}' is {ev.status_name(inst.status)}; "
                f"only pending, running or suspended instances can be {verb}"
            )

    def rewind(self, instance_id: str, reason: str | None) -> None:
        with self._op():
            inst = self._require(instance_id)
            if inst.status != pb.ORCHESTRATION_STATUS_FAILED:
                raise NotInState(
                    f"instance '{instance_id}' is {ev.status_name(inst.status)}; only FAILED instances can be rewound"
                )
            self._start_rewind(inst, reason, None)
            self._pump()

    def restart(self, instance_id: str, new_instance_id: bool) -> str:
        with self._op():
            inst = self._require(instance_id)
            if not inst.is_terminal:
                raise NotInState(
                    f"instance '{instance_id}' is {ev.status_name(inst.status)}; "
                    "only completed, failed or terminated instances can be restarted"
                )
            target = uuid.uuid4().hex if new_instance_id else instance_id
            start = pb.ExecutionStartedEvent(
                name=inst.name,
                version=ev.string_value(inst.version),
                input=ev.string_value(inst.input),
                tags=inst.tags,
            )
            if not new_instance_id:
                self._remove(inst)
            self._create(target, start, dialect=inst.dialect)
            self._pump()
            return target

    def rerun_from_event(
        self,
        source_id: str,
        event_id: int,
        new_instance_id: str | None = None,
        task_input: str | None = None,
        overwrite_input: bool = False,
        new_child_id: str | None = None,
    ) -> str:
        """Dapr's rerun: a new instance whose history is the finished ``source_id``'s up to and
        including event ``event_id``, an activity's TaskScheduled or a child's creation, which runs
        again (with ``task_input`` when ``overwrite_input``). Activities, timers and children that had
        not answered by then run again too; children under new IDs (``<new ID>:<task ID, hex>``, or
        ``new_child_id`` for the target), so the source's are left as they are."""
        with self._op():
            source = self._require(source_id)
            if not source.is_terminal:
                raise NotInState(
                    f"workflow '{source_id}' is {ev.status_name(source.status)}; only a completed, failed or "
                    "terminated workflow can be rerun"
                )
            history = source.history()
            kinds = ("taskScheduled", "subOrchestrationInstanceCreated")
            at = next(
                (i for i, e in enumerate(history) if e.eventId == event_id and e.WhichOneof("eventType") in kinds), None
            )
            if at is None:
                raise InvalidRequest(
                    f"event {event_id} of '{source_id}' is not an activity's TaskScheduled or a child workflow's "
                    "creation event; a rerun starts from one of those (GetInstanceHistory lists the events)"
                )
            kept = history[: at + 1]
            target = kept[-1]
            if new_child_id is not None and not target.HasField("subOrchestrationInstanceCreated"):
                raise InvalidRequest(
                    f"newChildWorkflowInstanceID is for a rerun from a child workflow; event {event_id} is an activity"
                )
            new_id = new_instance_id or uuid.uuid4().hex
            if new_id == source_id or self._store.get(new_id) is not None:
                raise InstanceAlreadyExists(new_id, ev.status_name(self._store.get(new_id).status))
            body = getattr(target, target.WhichOneof("eventType"))
            if overwrite_input:
                body.ClearField("input")
                if task_input is not None:
                    body.input.value = task_input
            answered = {
                getattr(e, kind).taskScheduledId
                for e in kept
                for kind in ("subOrchestrationInstanceCompleted", "subOrchestrationInstanceFailed")
                if e.HasField(kind)
            }
            children = [e for e in kept if e.HasField("subOrchestrationInstanceCreated") and e.eventId not in answered]
            for e in children:
                created = e.subOrchestrationInstanceCreated
                created.instanceId = (new_child_id if e is target else None) or f"{new_id}:{e.eventId:04x}"
                existing = self._store.get(created.instanceId)
                if existing is not None:
                    raise InstanceAlreadyExists(created.instanceId, ev.status_name(existing.status))
            started = next(e.executionStarted for e in kept if e.HasField("executionStarted"))
            execution_id = uuid.uuid4().hex
            started.orchestrationInstance.instanceId = new_id
            started.orchestrationInstance.executionId.value = execution_id
            started.ClearField("parentInstance")  # a rerun of a child stands on its own
            inst = Instance(new_id, execution_id, started, self._now())
            inst.started = True
            inst.dialect = source.dialect
            inst.replace_history(ev.encode_history(kept))
            inst.event_count = len(kept)
            self._store.put(inst)
            for e in children:
                self._start_child(inst, e.eventId, e.subOrchestrationInstanceCreated)
            self._resume_pending_work(inst)
            self._waiters.notify(inst)
            log.info("instance %s rerun from event %d of %s", new_id, event_id, source_id)
            self._pump()
            return new_id

    def purge(self, instance_id: str, recursive: bool, force: bool = False) -> int:
        """Remove a finished instance (``force``: in any state, without terminating it first, as
        Dapr's forced purge does; its outstanding work items are then answered into nothing)."""
        if not instance_id:
            raise InvalidRequest("instanceId is required and was empty")
        with self._op():
            inst = self._store.get(instance_id)
            if inst is None or not (force or inst.is_terminal):
                return 0
            count = self._purge(inst, recursive, force)
            self._pump()
            return count

    def purge_where(
        self, created_from: float | None, created_to: float | None, statuses: set[int], recursive: bool
    ) -> int:
        with self._op():
            count = 0
            for inst in self._store.all():
                if self._store.get(inst.instance_id) is not inst or not inst.is_terminal:
                    continue
                if statuses and inst.status not in statuses:
                    continue
                if created_from is not None and inst.created < created_from:
                    continue
                if created_to is not None and inst.created > created_to:
                    continue
                count += self._purge(inst, recursive)
            return count

    def _purge(self, inst: Instance, recursive: bool, force: bool = False) -> int:
        self._remove(inst)
        self._waiters.gone(inst.instance_id)
        count = 1
        if recursive:
            for child_id in inst.children:
                child = self._store.get(child_id)
                if child is not None and child.parent_id == inst.instance_id and (force or child.is_terminal):
                    count += self._purge(child, True, force)
        return count

    def terminate_now(self, instance_ids, reason: str | None) -> list[str]:
        """SkipGracefulOrchestrationTerminations: terminate each; return the ones that were not."""
        not_terminated = []
        with self._op():
            for iid in instance_ids:
                inst = self._store.get(iid)
                if inst is None or inst.is_terminal:
                    not_terminated.append(iid)
                else:
                    self._terminate(inst, reason, recursive=False)
            self._pump()
        return not_terminated

    # ------------------------------------------------------------------ waiting

    def watch(
        self,
        instance_id: str,
        until: str,
        with_payloads: bool,
        callback: Callable[[pb.OrchestrationState | None], None],
    ):
        """Return ``(state, None)`` if ``until`` already holds, else ``(None, waiter)``.

        The waiter's callback later receives the state, or None if the instance disappeared
        (purged or reset). Callbacks run under the engine lock and must not block.
        """
        with self._op():
            inst = self._require(instance_id)
            w = Waiter(instance_id, until, with_payloads, callback)
            if w.satisfied(inst):
                return inst.to_state(with_payloads), None
            self._waiters.add(w)
            return None, w

    def unwatch(self, waiter: Waiter) -> None:
        with self._op():
            self._waiters.remove(waiter)

    def waiter_count(self) -> int:
        with self._op():
            return len(self._waiters)

    # ------------------------------------------------------------------ workers

    def connect(
        self,
        request: pb.GetWorkItemsRequest,
        deliver: Callable[[bytes], None],
        identity: dict | None = None,
        end: Callable[[], None] | None = None,
    ) -> WorkerSession:
        """A worker's stream opened; ``identity`` has its ``worker_id``, ``user_agent`` and ``peer``.

        ``end`` ends the stream from the server's side (an injected disconnect calls it).
        """
        with self._op():
            if self.retired:
                raise TaskHubNotFound(self.name)  # reset away meanwhile: the SDK reconnects to the new hub
            session = new_session(next(self._session_ids), request, deliver, self._now(), identity)
            session.end = end
            self._dispatch.add_session(session)
            after = self._faults.disconnect_after() if self._faults and end else None
            if after is not None:
                self._call_later_real(after, lambda: self._inject_disconnect(session, after))
            log.info(
                "worker %d connected to task hub %s (%d connected)%s",
                session.session_id,
                self.name,
                len(self._dispatch.sessions),
                f": {session.user_agent or 'unknown SDK'} {session.worker_id}".rstrip() if identity else "",
            )
            self._pump()
            return session

    def _inject_disconnect(self, session: WorkerSession, after: float) -> None:
        if session not in self._dispatch.sessions:
            return
        self._dispatch.faults[DISCONNECT] += 1
        log.info(
            "fault injected: ending worker %d's stream after %.1fs, %d unfinished work item(s) (disconnect %d)",
            session.session_id,
            after,
            len(session.leases),
            self._dispatch.faults[DISCONNECT],
        )
        session.end()

    def disconnect(self, session: WorkerSession) -> None:
        with self._op():
            orphans = self._dispatch.remove_session(session)
            for lease in orphans:
                self._dispatch.release(lease, "redelivered to another worker after its worker disconnected")
                self._requeue(lease)
            log.info(
                "worker %d disconnected; %d unfinished work item(s) queued again", session.session_id, len(orphans)
            )
            self._pump()

    def _requeue(self, lease: Lease) -> None:
        """Put a lease's work back in front of its queue, unless the instance moved on."""
        if lease.kind == ENTITY:
            self._requeue_entity(lease)
            return
        inst = self._store.get(lease.instance_id)
        if inst is None or inst.execution_id != lease.execution_id:
            return
        if lease.kind == ORCHESTRATOR:
            if inst.lease is not lease:
                return
            inst.lease = None
            inst.inbox[:0] = lease.item[1:]  # a fresh OrchestratorStarted is added at redelivery
            self._store.touch(inst)
            self._make_ready(inst)
        elif not inst.is_terminal and not lease.item.completed:
            self._dispatch.queues[ACTIVITY].appendleft(lease.item)

    def abandon(self, token: str, kind: str) -> None:
        with self._op():
            lease = self._take_lease(token, kind)
            self._dispatch.release(lease, "abandoned")
            self._call_later_real(self.config.abandon_retry_delay, lambda: self._requeue_abandoned(lease))

    def _requeue_abandoned(self, lease: Lease) -> None:
        self._requeue(lease)
        self._pump()

    # ------------------------------------------------------------------ leases

    def _lease(self, kind: str, session: WorkerSession, instance_id: str, execution_id: str, item) -> Lease:
        """Hand ``item`` to ``session``; past the lease timeout (real time) it is delivered again."""
        lease = self._dispatch.lease(kind, session, instance_id, execution_id, item)
        timeout = self.config.lease_timeout
        if timeout > 0:
            lease.expiry = self._call_later_real(timeout, lambda: self._expire(lease))
        return lease

    def _expire(self, lease: Lease) -> None:
        """A worker took a work item and neither completed nor abandoned it in time: deliver it again."""
        if self._dispatch.leases.get(lease.token) is not lease:
            return
        lease.expiry = None
        self._dispatch.release(lease, EXPIRED)
        self._dispatch.expired_total += 1
        log.warning(
            "task hub %s: the %s work item for '%s' (token %s) was not completed within the lease timeout "
            "of %gs by worker %d; delivering it again",
            self.name,
            lease.kind,
            lease.instance_id,
            lease.token,
            self.config.lease_timeout,
            lease.session.session_id,
        )
        self._requeue(lease)
        self._pump()

    def _pump(self) -> None:
        """Hand queued work to sessions with room for it, in arrival order per kind."""
        d = self._dispatch
        if not d.sessions:
            return
        for kind, queue in d.queues.items():
            pending = len(queue)
            while pending and queue and d.any_capacity(kind):
                pending -= 1
                item = queue.popleft()
                target = self._routing(kind, item)
                if target is None:
                    continue
                session = d.pick_session(kind, *target)
                if session is None:
                    queue.append(item)
                    continue
                self._deliver(kind, item, session)

    def _routing(self, kind: str, item) -> tuple[str, str | None] | None:
        """``(name, version)`` by which an item is routed, or None if it is no longer wanted."""
        if kind == ORCHESTRATOR:
            inst = self._store.get(item)
            if inst is None:
                return None
            inst.queued = False
            if not self._dispatchable(inst):
                return None
            inst.queued = True
            return inst.name, inst.version
        if kind == ACTIVITY:
            inst = self._store.get(item.instance_id)
            if inst is None or inst.execution_id != item.execution_id or inst.is_terminal:
                return None
            return item.name, item.version
        return self._entity_routing(item)

    def _deliver(self, kind: str, item, session: WorkerSession) -> None:
        if self._faults is not None and self._hold(kind, item):
            return
        if kind == ORCHESTRATOR:
            self._deliver_orchestrator(self._store.get(item), session)
        elif kind == ACTIVITY:
            self._deliver_activity(item, session)
        else:
            self._deliver_entity(item, session)

    def _hold(self, kind: str, item) -> bool:
        """An injected delay: True if ``item`` is held back for a while instead of delivered now."""
        d = self._dispatch
        if id(item) in d.released:
            d.released.discard(id(item))
            return False
        delay = self._faults.delay()
        if delay <= 0:
            return False
        d.held += 1
        d.faults[DELAY] += 1
        log.debug("fault injected: holding a %s work item for %.3fs (delay %d)", kind, delay, d.faults[DELAY])

        def release() -> None:
            if self._dispatch is not d:  # the hub was reset meanwhile
                return
            d.held -= 1
            d.released.add(id(item))
            d.queues[kind].appendleft(item)
            self._pump()

        self._call_later_real(delay, release)
        return True

    def _deliver_orchestrator(self, inst: Instance, session: WorkerSession) -> None:
        inst.queued = False
        now = self._now()
        # While a rewind is pending, the worker must see exactly [OrchestratorStarted, ExecutionRewound].
        take = 1 if inst.rewinding else len(inst.inbox)
        new_events = [ev.event(now, orchestratorStarted=pb.OrchestratorStartedEvent()), *inst.inbox[:take]]
        del inst.inbox[:take]
        lease = self._lease(ORCHESTRATOR, session, inst.instance_id, inst.execution_id, new_events)
        inst.lease = lease
        data = ev.orchestrator_work_item(inst.instance_id, inst.execution_id, new_events, inst.past, lease.token)
        if len(data) > self.config.max_message_bytes:
            self._dispatch.release(lease, "cancelled: the work item was too large to send")
            inst.lease = None
            self._fail(
                inst,
                "WorkItemTooLarge",
                f"the orchestrator work item for '{inst.instance_id}' is {len(data)} bytes, more than "
                f"the emulator's max message size of {self.config.max_message_bytes} bytes",
            )
            return
        session.deliver(data)

    def _deliver_activity(self, task: ActivityTask, session: WorkerSession, copy: bool = False) -> None:
        lease = self._lease(ACTIVITY, session, task.instance_id, task.execution_id, task)
        scheduled = task.input.taskScheduled
        request = pb.ActivityRequest(
            name=scheduled.name,
            version=scheduled.version if scheduled.HasField("version") else None,
            input=scheduled.input if scheduled.HasField("input") else None,
            orchestrationInstance=pb.OrchestrationInstance(
                instanceId=task.instance_id, executionId=ev.string_value(task.execution_id)
            ),
            taskId=task.task_id,
            parentTraceContext=scheduled.parentTraceContext if scheduled.HasField("parentTraceContext") else None,
            tags=scheduled.tags,
        )
        session.deliver(pb.WorkItem(activityRequest=request, completionToken=lease.token).SerializeToString())
        if not copy and self._faults is not None and self._faults.duplicate():
            # at-least-once delivery made visible: a second copy, to another worker when one has room
            twin = self._dispatch.pick_session(ACTIVITY, task.name, task.version) or session
            self._dispatch.faults[DUPLICATE] += 1
            log.info(
                "fault injected: activity %s (task %d of '%s') delivered twice, to workers %d and %d (duplicate %d)",
                task.name,
                task.task_id,
                task.instance_id,
                session.session_id,
                twin.session_id,
                self._dispatch.faults[DUPLICATE],
            )
            self._deliver_activity(task, twin, copy=True)

    def _take_lease(self, token: str, kind: str, instance_id: str = "", task_id: int | None = None) -> Lease:
        if not token:
            return self._lease_without_token(kind, instance_id, task_id)
        token_kind = Dispatcher.kind_of_token(token)
        if token_kind is not None and token_kind != kind:
            raise InvalidRequest(f"completion token '{token}' belongs to an {token_kind} work item, not an {kind} one")
        lease = self._dispatch.leases.get(token)
        if lease is None:
            self._raise_unknown_token(token)
        return lease

    def _lease_without_token(self, kind: str, instance_id: str, task_id: int | None) -> Lease:
        """Older SDKs (the Java SDK 1.5) send no completion token: find the work item by instance (and task)."""
        if kind == ENTITY or not instance_id:
            raise InvalidRequest("completionToken is required and was empty")
        if kind == ORCHESTRATOR:
            inst = self._store.get(instance_id)
            lease = inst.lease if inst is not None else None
        else:
            # the current execution's work item; a replaced execution's stale lease must not take the result
            inst = self._store.get(instance_id)
            current = inst.execution_id if inst is not None else None
            lease = next(
                (
                    x
                    for x in self._dispatch.leases.values()
                    if x.kind == ACTIVITY
                    and x.instance_id == instance_id
                    and x.item.task_id == task_id
                    and x.execution_id == current
                ),
                None,
            )
        if lease is None or lease.token not in self._dispatch.leases:
            what = f"task {task_id} of instance '{instance_id}'" if kind == ACTIVITY else f"instance '{instance_id}'"
            raise WorkItemNotFound(f"no outstanding {kind} work item for {what} (the completion carried no token)")
        return lease

    def complete_activity(self, resp: pb.ActivityResponse) -> None:
        with self._op():
            lease = self._take_lease(resp.completionToken, ACTIVITY, resp.instanceId, resp.taskId)
            task: ActivityTask = lease.item
            if resp.instanceId and resp.instanceId != task.instance_id:
                raise InvalidRequest(
                    f"completion token '{lease.token}' is for instance '{task.instance_id}', not '{resp.instanceId}'"
                )
            if resp.taskId != task.task_id:
                raise InvalidRequest(f"completion token '{lease.token}' is for task {task.task_id}, not {resp.taskId}")
            self._dispatch.release(lease, "completed")
            first, task.completed = not task.completed, True  # not first: a duplicate's other copy won
            inst = self._store.get(task.instance_id)
            if first and inst is not None and inst.execution_id == task.execution_id and not inst.is_terminal:
                now = self._now()
                if resp.HasField("failureDetails"):
                    failed = pb.TaskFailedEvent(taskScheduledId=task.task_id, failureDetails=resp.failureDetails)
                    self._enqueue_event(inst, ev.event(now, taskFailed=failed))
                else:
                    done = pb.TaskCompletedEvent(
                        taskScheduledId=task.task_id, result=resp.result if resp.HasField("result") else None
                    )
                    self._enqueue_event(inst, ev.event(now, taskCompleted=done))
            self._pump()

    def _end_orchestrator_lease(self, token: str, instance_id: str):
        """``(lease, instance)`` for a worker's answer; instance None if it no longer holds the lease."""
        lease = self._take_lease(token, ORCHESTRATOR, instance_id)
        if instance_id and instance_id != lease.instance_id:
            raise InvalidRequest(
                f"completion token '{lease.token}' is for instance '{lease.instance_id}', not '{instance_id}'"
            )
        self._dispatch.release(lease, "completed")
        inst = self._store.get(lease.instance_id)
        if inst is None or inst.lease is not lease:
            self._pump()
            return lease, None
        inst.lease = None
        return lease, inst

    def refuse_orchestrator_response(self, token: str, instance_id: str, problem: str) -> None:
        """A worker's answer that could not be read: fail its instance with ``problem`` (and raise
        InvalidRequest), rather than leave it leased until the lease runs out and is read again."""
        with self._op():
            _, inst = self._end_orchestrator_lease(token, instance_id)
            if inst is not None:
                self._fail(inst, "EmulatorProtocolError", problem)
                self._pump()
        raise InvalidRequest(problem)

    def complete_orchestrator(self, resp: pb.OrchestratorResponse, extras: TurnExtras = NO_EXTRAS) -> None:
        """Apply a worker's answer; ``extras``: what a protocol dialect carries beside it."""
        with self._op():
            lease, inst = self._end_orchestrator_lease(resp.completionToken, resp.instanceId)
            if inst is None:
                return  # the instance was terminated, purged or replaced meanwhile
            if extras.started_fields and lease.item and lease.item[0].HasField("orchestratorStarted"):
                lease.item[0].orchestratorStarted.MergeFromString(extras.started_fields)
            problem = self._invalid_action(inst, resp.actions)
            if problem is not None:
                self._fail(inst, "EmulatorProtocolError", problem)
                self._pump()
                raise InvalidRequest(problem)
            self._apply_response(inst, lease, resp, extras)
            self._settle_termination(inst, lease.item)
            self._pump()
