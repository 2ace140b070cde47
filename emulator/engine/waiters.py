"""Clients blocked until an instance starts or completes (WaitForInstanceStart/Completion).

One :class:`Waiters` per task hub, used under the hub's lock. A waiter is a callback, not a
thread: it receives the instance's state once its condition holds, or None when the instance
is gone (purged, or the hub reset). Callbacks must not block.
"""

from __future__ import annotations

from collections.abc import Callable

from durabletask.internal import orchestrator_service_pb2 as pb

START = "start"
COMPLETION = "completion"


class Waiter:
    __slots__ = ("instance_id", "until", "with_payloads", "callback")

    def __init__(self, instance_id: str, until: str, with_payloads: bool, callback: Callable):
        self.instance_id = instance_id
        self.until = until
        self.with_payloads = with_payloads
        self.callback = callback

    def satisfied(self, inst) -> bool:
        if self.until == START:
            return inst.status != pb.ORCHESTRATION_STATUS_PENDING
        return inst.is_terminal


class Waiters:
    """The waiters of one hub, by instance ID."""

    def __init__(self) -> None:
        self._by_instance: dict[str, list[Waiter]] = {}

    def add(self, waiter: Waiter) -> None:
        self._by_instance.setdefault(waiter.instance_id, []).append(waiter)

    def remove(self, waiter: Waiter) -> None:
        ws = self._by_instance.get(waiter.instance_id)
        if ws and waiter in ws:
            ws.remove(waiter)
            if not ws:
                del self._by_instance[waiter.instance_id]

    def notify(self, inst) -> None:
        """The instance changed: answer the waiters whose condition now holds."""
        ws = self._by_instance.get(inst.instance_id)
        if not ws:
            return
        remaining = []
        for w in ws:
            if w.satisfied(inst):
                w.callback(inst.to_state(w.with_payloads))
            else:
                remaining.append(w)
        if remaining:
            self._by_instance[inst.instance_id] = remaining
        else:
            del self._by_instance[inst.instance_id]

    def gone(self, instance_id: str) -> None:
        """The instance no longer exists: its waiters get None."""
        for w in self._by_instance.pop(instance_id, []):
            w.callback(None)

    def release_all(self) -> None:
        """The hub was reset: every waiter gets None."""
        by_instance, self._by_instance = self._by_instance, {}
        for ws in by_instance.values():
            for w in ws:
                w.callback(None)

    def __len__(self) -> int:
        return sum(len(ws) for ws in self._by_instance.values())
