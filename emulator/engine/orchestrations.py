"""How an orchestrator's response changes its instance: actions become history and messages.

A mixin of :class:`emulator.engine.core.Engine`; every method runs with the engine lock held.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field

from durabletask.internal import orchestrator_service_pb2 as pb

from emulator.engine import events as ev
from emulator.engine.dispatch import ACTIVITY, EXPIRED, ORCHESTRATOR, ActivityTask
from emulator.engine.entities import _check_entity_message
from emulator.engine.store import Instance
from emulator.errors import LeaseExpired, WorkItemAlreadyCompleted, WorkItemNotFound

log = logging.getLogger("emulator.engine")

_FINAL_STATUSES = {
    pb.ORCHESTRATION_STATUS_COMPLETED,
    pb.ORCHESTRATION_STATUS_FAILED,
    pb.ORCHESTRATION_STATUS_TERMINATED,
    pb.ORCHESTRATION_STATUS_CANCELED,
    pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW,
}


def _check_action(action: pb.OrchestratorAction) -> str | None:
    """Why an action cannot be applied, or None if it can."""
    kind = action.WhichOneof("orchestratorActionType")
    if kind is None:
        return f"action {action.id} has no action type set (unknown or malformed orchestrator action)"
    body = getattr(action, kind)
    if kind == "scheduleTask" and not body.name:
        return f"scheduleTask action {action.id} has an empty activity name"
    if kind == "createSubOrchestration" and not body.name:
        return f"createSubOrchestration action {action.id} has an empty orchestrator name"
    if kind == "createTimer" and not body.HasField("fireAt"):
        return f"createTimer action {action.id} has no fireAt time"
    if kind == "sendEvent" and not (body.instance.instanceId and body.name):
        return f"sendEvent action {action.id} needs a target instance ID and an event name"
    if kind == "terminateOrchestration" and not body.instanceId:
        return f"terminateOrchestration action {action.id} has an empty instance ID"
    if kind == "completeOrchestration" and body.orchestrationStatus not in _FINAL_STATUSES:
        return (
            f"completeOrchestration action {action.id} has status "
            f"{pb.OrchestrationStatus.Name(body.orchestrationStatus)}, which is not a final status"
        )
    if kind == "rewindOrchestration" and not any(e.HasField("executionStarted") for e in body.newHistory):
        # also what a Dapr worker's action looks like read in this dialect (its field 9 is ``router``)
        return f"rewindOrchestration action {action.id} carries no history to rewind to (empty or malformed)"
    if kind == "sendEntityMessage":
        if body.WhichOneof("EntityMessageType") is None:
            return f"sendEntityMessage action {action.id} carries no entity message"
        return _check_entity_message(action)
    return None


#: 9999-12-31T23:59:59Z: a timer due then is a wait that has no timeout; it never fires.
NEVER = 253402300799


@dataclass
class TurnExtras:
    """What a protocol dialect carries with a worker's answer beyond Microsoft's message. The engine
    stores these bytes without reading them; the dialect reads them back on the way out."""

    #: Serialized fields kept with the turn's OrchestratorStarted event (Dapr: the workflow version).
    started_fields: bytes = b""
    #: ``{action ID: TaskFailureDetails}``: activities and sub-orchestrations the dialect cannot
    #: route (Dapr: another app ID). They are recorded and fail at once with these details.
    refused: dict = field(default_factory=dict)
    #: ``{action ID: serialized fields}`` merged into the TimerCreated event the action records
    #: (Dapr: the timer's name and origin, which its SDK checks on replay).
    timer_fields: dict = field(default_factory=dict)


NO_EXTRAS = TurnExtras()


def _scheduled(st: pb.ScheduleTaskAction) -> pb.TaskScheduledEvent:
    return pb.TaskScheduledEvent(
        name=st.name,
        version=st.version if st.HasField("version") else None,
        input=st.input if st.HasField("input") else None,
        parentTraceContext=st.parentTraceContext if st.HasField("parentTraceContext") else None,
        tags=st.tags,
    )


def _failure(error_type: str, message: str) -> pb.TaskFailureDetails:
    return pb.TaskFailureDetails(errorType=error_type, errorMessage=message, isNonRetriable=True)


class OrchestrationRules:
    """Applying orchestrator responses, finishing, terminating and rewinding instances."""

    def _raise_unknown_token(self, token: str) -> None:
        outcome = self._dispatch.finished.get(token)
        if outcome == EXPIRED:
            raise LeaseExpired(
                f"the lease on the work item with completion token '{token}' expired: it was not completed within "
                f"the lease timeout of {self.config.lease_timeout:g}s and was delivered again, so this completion "
                "is ignored"
            )
        if outcome is not None:
            raise WorkItemAlreadyCompleted(f"the work item with completion token '{token}' was already {outcome}")
        raise WorkItemNotFound(f"no outstanding work item has completion token '{token}'")

    @staticmethod
    def _invalid_action(inst: Instance, actions) -> str | None:
        for action in actions:
            problem = _check_action(action)
            if problem is not None:
                return problem
            if action.HasField("rewindOrchestration") and not inst.rewinding:
                return f"rewindOrchestration action {action.id} for '{inst.instance_id}', which is not being rewound"
        return None

    # ------------------------------------------------------------------ applying a response

    def _apply_response(self, inst: Instance, lease, resp: pb.OrchestratorResponse, extras: TurnExtras) -> None:
        new_events: list = lease.item
        if resp.HasField("numEventsProcessed") and 0 < resp.numEventsProcessed.value < len(new_events):
            processed = resp.numEventsProcessed.value
            inst.inbox[:0] = new_events[processed:]
            new_events = new_events[:processed]
        history = list(new_events)
        if any(e.HasField("executionStarted") for e in new_events):
            inst.started = True
        inst.custom_status = ev.optional(resp, "customStatus")
        for action in resp.actions:
            if action.HasField("rewindOrchestration"):
                self._apply_rewind(inst, action.rewindOrchestration)
                return
        projected = inst.event_count + len(history) + len(resp.actions)
        if projected > self.config.max_history_size:
            self._fail(
                inst,
                "HistorySizeLimitExceeded",
                f"orchestration '{inst.instance_id}' would have {projected} history events, more than "
                f"max_history_size={self.config.max_history_size}; raise max_history_size "
                "(--max-history-size) or use continue-as-new to keep histories short",
                history,
            )
            return
        for action in resp.actions:
            refusal = extras.refused.get(action.id)
            if refusal is not None and self._refuse_action(inst, action, refusal, history):
                continue
            if self._apply_action(inst, action, history, extras):
                return
        self._append(inst, history)
        self._make_ready(inst)
        self._waiters.notify(inst)

    def _refuse_action(self, inst: Instance, action: pb.OrchestratorAction, failure, history: list) -> bool:
        """Record an activity or sub-orchestration the emulator will not run (a protocol dialect's
        call it cannot route) and fail it at once with ``failure``; False for any other action."""
        now = self._now()
        if action.HasField("scheduleTask"):
            history.append(ev.event(now, action.id, taskScheduled=_scheduled(action.scheduleTask)))
            failed = ev.event(now, taskFailed=pb.TaskFailedEvent(taskScheduledId=action.id, failureDetails=failure))
        elif action.HasField("createSubOrchestration"):
            cs = action.createSubOrchestration
            child_id = cs.instanceId or f"{inst.instance_id}:{action.id:04x}"
            created = pb.SubOrchestrationInstanceCreatedEvent(instanceId=child_id, name=cs.name)
            history.append(ev.event(now, action.id, subOrchestrationInstanceCreated=created))
            failed = pb.SubOrchestrationInstanceFailedEvent(taskScheduledId=action.id, failureDetails=failure)
            failed = ev.event(now, subOrchestrationInstanceFailed=failed)
        else:
            return False
        self._enqueue_event(inst, failed)
        return True

    def _apply_action(self, inst: Instance, action: pb.OrchestratorAction, history: list, extras: TurnExtras) -> bool:
        """Record one action; True when it ended the execution (complete or continue-as-new)."""
        now = self._now()
        kind = action.WhichOneof("orchestratorActionType")
        if kind == "scheduleTask":
            st = action.scheduleTask
            scheduled = ev.event(now, action.id, taskScheduled=_scheduled(st))
            history.append(scheduled)
            task = ActivityTask(
                inst.instance_id,
                inst.execution_id,
                action.id,
                st.name,
                ev.optional(st, "version"),
                scheduled,
                now,
            )
            self._dispatch.queues[ACTIVITY].append(task)
        elif kind == "createTimer":
            fire_at = action.createTimer.fireAt
            timer = pb.TimerCreatedEvent(fireAt=fire_at)
            timer.MergeFromString(extras.timer_fields.get(action.id, b""))
            history.append(ev.event(now, action.id, timerCreated=timer))
            self._schedule_timer(inst, action.id, fire_at)
        elif kind == "createSubOrchestration":
            self._create_sub_orchestration(inst, action, history)
        elif kind == "sendEvent":
            se = action.sendEvent
            sent = pb.EventSentEvent(
                instanceId=se.instance.instanceId,
                name=se.name,
                input=se.data if se.HasField("data") else None,
            )
            history.append(ev.event(now, action.id, eventSent=sent))
            target = self._store.get(se.instance.instanceId)
            if target is not None and not target.is_terminal:
                raised = pb.EventRaisedEvent(name=se.name, input=se.data if se.HasField("data") else None)
                self._enqueue_event(target, ev.event(now, eventRaised=raised))
        elif kind == "terminateOrchestration":
            t = action.terminateOrchestration
            target = self._store.get(t.instanceId)
            if target is not None:
                self._terminate(target, ev.optional(t, "reason"), t.recurse)
        elif kind == "sendEntityMessage":
            self._apply_entity_message(inst, action, history)
        elif kind == "completeOrchestration":
            return self._apply_complete(inst, action, history)
        return False

    def _schedule_timer(self, inst: Instance, timer_id: int, fire_at) -> None:
        if fire_at.seconds >= NEVER:
            return  # a wait without a timeout (Dapr's Go SDK): time skipping must not jump to year 9999
        instance_id, execution_id = inst.instance_id, inst.execution_id

        def fire() -> None:
            with self._op():
                target = self._store.get(instance_id)
                if target is None or target.execution_id != execution_id or target.is_terminal:
                    return
                fired = pb.TimerFiredEvent(fireAt=fire_at, timerId=timer_id)
                self._enqueue_event(target, ev.event(self._now(), timerFired=fired))
                self._pump()

        self._call_at(ev.seconds(fire_at), fire)

    def _create_sub_orchestration(self, inst: Instance, action: pb.OrchestratorAction, history: list) -> None:
        cs = action.createSubOrchestration
        child_id = cs.instanceId or f"{inst.instance_id}:{action.id:04x}"
        now = self._now()
        created = pb.SubOrchestrationInstanceCreatedEvent(
            instanceId=child_id,
            name=cs.name,
            version=cs.version if cs.HasField("version") else None,
            input=cs.input if cs.HasField("input") else None,
            parentTraceContext=cs.parentTraceContext if cs.HasField("parentTraceContext") else None,
            tags=cs.tags,
        )
        history.append(ev.event(now, action.id, subOrchestrationInstanceCreated=created))
        existing = self._store.get(child_id)
        if existing is not None and not existing.is_terminal:
            failure = _failure(
                "InstanceAlreadyExists",
                f"cannot start sub-orchestration '{child_id}': an instance with that ID is "
                f"{ev.status_name(existing.status)}",
            )
            failed = pb.SubOrchestrationInstanceFailedEvent(taskScheduledId=action.id, failureDetails=failure)
            self._enqueue_event(inst, ev.event(now, subOrchestrationInstanceFailed=failed))
            return
        if existing is not None:
            self._remove(existing)
        self._start_child(inst, action.id, created)

    def _start_child(self, inst: Instance, task_id: int, created: pb.SubOrchestrationInstanceCreatedEvent) -> None:
        """Create the sub-orchestration that ``created`` (task ``task_id`` of ``inst``) describes."""
        parent = pb.ParentInstanceInfo(
            taskScheduledId=task_id,
            name=ev.string_value(inst.name),
            version=ev.string_value(inst.version),
            orchestrationInstance=pb.OrchestrationInstance(
                instanceId=inst.instance_id, executionId=ev.string_value(inst.execution_id)
            ),
        )
        start = pb.ExecutionStartedEvent(
            name=created.name,
            version=created.version if created.HasField("version") else None,
            input=created.input if created.HasField("input") else None,
            parentInstance=parent,
            parentTraceContext=created.parentTraceContext if created.HasField("parentTraceContext") else None,
            tags=created.tags,
        )
        if created.instanceId not in inst.children:
            inst.children.append(created.instanceId)
        self._create(created.instanceId, start, dialect=inst.dialect)

    def _apply_complete(self, inst: Instance, action: pb.OrchestratorAction, history: list) -> bool:
        c = action.completeOrchestration
        result = ev.optional(c, "result")
        if c.orchestrationStatus == pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW:
            self._continue_as_new(inst, c, result)
            return True
        failure = c.failureDetails if c.HasField("failureDetails") else None
        self._finish(inst, c.orchestrationStatus, result, failure, history, action.id)
        return True

    def _continue_as_new(self, inst: Instance, c: pb.CompleteOrchestrationAction, new_input: str | None) -> None:
        now = self._now()
        inst.execution_id = uuid.uuid4().hex
        if c.HasField("newVersion"):
            inst.version = c.newVersion.value
        if c.tags:
            inst.tags = dict(c.tags)
        start = pb.ExecutionStartedEvent(
            name=inst.name,
            version=ev.string_value(inst.version),
            input=ev.string_value(new_input),
            orchestrationInstance=pb.OrchestrationInstance(
                instanceId=inst.instance_id, executionId=ev.string_value(inst.execution_id)
            ),
            parentInstance=inst.parent,
            parentTraceContext=inst.trace_context,
            tags=inst.tags,
        )
        inst.input = new_input
        inst.replace_history(b"")
        inst.event_count = 0
        # The new execution sees its start, the carried-over events, then anything that arrived meanwhile.
        inst.inbox[:0] = [ev.event(now, executionStarted=start), *c.carryoverEvents]
        inst.updated = now
        self._store.touch(inst)
        self._make_ready(inst)
        self._waiters.notify(inst)

    # ------------------------------------------------------------------ ending executions

    def _finish(
        self,
        inst: Instance,
        status: int,
        output: str | None,
        failure,
        history: list | None = None,
        event_id: int = -1,
    ) -> None:
        now = self._now()
        events = list(history or [])
        done = pb.ExecutionCompletedEvent(
            orchestrationStatus=status, result=ev.string_value(output), failureDetails=failure
        )
        events.append(ev.event(now, event_id, executionCompleted=done))
        self._append(inst, events)
        inst.final_status = status
        inst.output = output
        inst.failure = failure
        inst.completed = now
        inst.suspended = False
        inst.rewinding = False
        inst.started = True
        inst.inbox.clear()
        if inst.start_timer is not None:
            inst.start_timer.cancel()
            inst.start_timer = None
        self._release_entity_locks(inst)
        self._tell_parent(inst, status, output, failure)
        self._waiters.notify(inst)
        if failure is not None:
            log.info(
                "instance %s %s: %s: %s",
                inst.instance_id,
                ev.status_name(status),
                failure.errorType,
                failure.errorMessage,
            )
        else:
            log.info("instance %s %s", inst.instance_id, ev.status_name(status))

    def _tell_parent(self, inst: Instance, status: int, output: str | None, failure) -> None:
        if inst.parent is None:
            return
        parent_ref = inst.parent.orchestrationInstance
        parent = self._store.get(parent_ref.instanceId)
        if parent is None or parent.is_terminal:
            return
        if parent_ref.HasField("executionId") and parent_ref.executionId.value != parent.execution_id:
            return
        now = self._now()
        task_id = inst.parent.taskScheduledId
        if status == pb.ORCHESTRATION_STATUS_COMPLETED:
            done = pb.SubOrchestrationInstanceCompletedEvent(taskScheduledId=task_id, result=ev.string_value(output))
            self._enqueue_event(parent, ev.event(now, subOrchestrationInstanceCompleted=done))
            return
        if failure is None:
            failure = _failure(
                "OrchestrationTerminated" if status == pb.ORCHESTRATION_STATUS_TERMINATED else "OrchestrationFailed",
                f"sub-orchestration '{inst.instance_id}' ended {ev.status_name(status)}"
                + (f": {output}" if output else ""),
            )
        failed = pb.SubOrchestrationInstanceFailedEvent(taskScheduledId=task_id, failureDetails=failure)
        self._enqueue_event(parent, ev.event(now, subOrchestrationInstanceFailed=failed))

    def _fail(self, inst: Instance, error_type: str, message: str, history: list | None = None) -> None:
        self._finish(inst, pb.ORCHESTRATION_STATUS_FAILED, None, _failure(error_type, message), history)

    def _request_termination(self, inst: Instance, output: str | None, recursive: bool) -> None:
        """TerminateInstance, graceful as on the real service: an ExecutionTerminated message the
        worker processes after any work item it already holds (durabletask-go queues the event the
        same way; SkipGracefulOrchestrationTerminations is the "at once" variant). A client's wait
        for the end thus spans a worker round trip. With nothing to run it, it is applied at once."""
        if inst.is_terminal:
            return
        if not self._worker_can_end(inst):
            self._terminate(inst, output, recursive)
            return
        terminated = pb.ExecutionTerminatedEvent(input=ev.string_value(output), recurse=recursive)
        self._enqueue_event(inst, ev.event(self._now(), executionTerminated=terminated))

    def _worker_can_end(self, inst: Instance) -> bool:
        """A connected worker runs this started, unsuspended instance (so a termination reaches it)."""
        if not inst.started or inst.suspended or inst.rewinding or inst.start_timer is not None:
            return False
        return any(s.accepts(ORCHESTRATOR, inst.name, inst.version) for s in self._dispatch.sessions)

    def _settle_termination(self, inst: Instance, new_events: list) -> None:
        """After a work item carrying ExecutionTerminated: end the instance if the worker did not
        (it completed or continued as new first); a recursive termination then ends the children."""
        asked = next((e.executionTerminated for e in new_events if e.HasField("executionTerminated")), None)
        if asked is None or any(e.HasField("executionTerminated") for e in inst.inbox):
            return  # none in this work item, or it went back to the inbox unprocessed
        output = ev.optional(asked, "input")
        if not inst.is_terminal:
            self._terminate(inst, output, asked.recurse)
        elif asked.recurse:
            self._terminate_children(inst, output)

    def _terminate(self, inst: Instance, output: str | None, recursive: bool) -> None:
        if inst.is_terminal:
            return
        inst.lease = None  # a completion of the in-flight work item is accepted and discarded
        terminated = pb.ExecutionTerminatedEvent(input=ev.string_value(output), recurse=recursive)
        self._finish(
            inst,
            pb.ORCHESTRATION_STATUS_TERMINATED,
            output,
            None,
            [ev.event(self._now(), executionTerminated=terminated)],
        )
        if recursive:
            self._terminate_children(inst, output)

    def _terminate_children(self, inst: Instance, output: str | None) -> None:
        for child_id in inst.children:
            child = self._store.get(child_id)
            if child is not None and child.parent_id == inst.instance_id:
                self._terminate(child, output, True)

    # ------------------------------------------------------------------ rewind

    def _start_rewind(self, inst: Instance, reason: str | None, parent_execution_id: str | None) -> None:
        """Ask a worker to rewrite a FAILED instance's history (it answers with a rewind action)."""
        rewound = pb.ExecutionRewoundEvent(reason=ev.string_value(reason))
        if parent_execution_id is not None:
            rewound.parentExecutionId.value = parent_execution_id
            rewound.instanceId.value = inst.instance_id
        inst.final_status = None
        inst.output = None
        inst.failure = None
        inst.completed = None
        inst.rewinding = True
        inst.started = True
        inst.inbox[:0] = [ev.event(self._now(), executionRewound=rewound)]
        self._store.touch(inst)
        self._make_ready(inst)
        self._waiters.notify(inst)

    def _apply_rewind(self, inst: Instance, rewind: pb.RewindOrchestrationAction) -> None:
        history = list(rewind.newHistory)
        # The rewritten history ends with this work item's [OrchestratorStarted, ExecutionRewound];
        # ExecutionRewound goes back to the inbox so the next replay re-runs the failed parts.
        jump_start = []
        if history and history[-1].HasField("executionRewound"):
            jump_start.append(history.pop())
            if history and history[-1].HasField("orchestratorStarted"):
                history.pop()
        for e in history:
            if e.HasField("executionStarted"):
                started = e.executionStarted
                if started.orchestrationInstance.HasField("executionId"):
                    inst.execution_id = started.orchestrationInstance.executionId.value
                if started.HasField("parentInstance"):
                    inst.parent = started.parentInstance
                break
        inst.replace_history(ev.encode_history(history))
        inst.event_count = len(history)
        inst.rewinding = False
        inst.inbox[:0] = jump_start
        inst.updated = self._now()
        self._store.touch(inst)
        reason = ev.optional(jump_start[0].executionRewound, "reason") if jump_start else None
        finished = {
            e.subOrchestrationInstanceCompleted.taskScheduledId
            for e in history
            if e.HasField("subOrchestrationInstanceCompleted")
        }
        for e in history:
            if e.HasField("subOrchestrationInstanceCreated") and e.eventId not in finished:
                created = e.subOrchestrationInstanceCreated
                child = self._store.get(created.instanceId)
                if child is None:
                    # Purged since it failed: nothing to rewind, so it runs again from the start.
                    self._start_child(inst, e.eventId, created)
                elif child.status == pb.ORCHESTRATION_STATUS_FAILED:
                    self._start_rewind(child, reason, inst.execution_id)
        self._make_ready(inst)
        self._waiters.notify(inst)
