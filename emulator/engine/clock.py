"""One timer scheduler for the whole engine: a heap and one thread, reading an injectable clock.

Every task hub schedules on it; a timer carries its ``owner`` (the hub) so that one hub can
forget its own timers (``clear(owner=hub)``) without touching another's.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

Clock = Callable[[], float]


class TimerHandle:
    __slots__ = ("due", "seq", "callback", "cancelled", "owner")

    def __init__(self, due: float, seq: int, callback: Callable[[], None], owner: object = None):
        self.due = due
        self.seq = seq
        self.callback = callback
        self.cancelled = False
        self.owner = owner

    def cancel(self) -> None:
        self.cancelled = True

    def __lt__(self, other: TimerHandle) -> bool:
        return (self.due, self.seq) < (other.due, other.seq)


class Scheduler:
    """Runs callbacks at (never before) their due time, on one daemon thread.

    ``clock`` returns seconds since the Unix epoch (``time.time`` by default); tests and a future
    time-skipping mode may pass another one and call :meth:`poke` after moving it.
    """

    def __init__(self, clock: Clock = time.time):
        self.clock = clock
        self._heap: list[TimerHandle] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="emulator-timers", daemon=True)
        self._thread.start()

    def call_at(self, due: float, callback: Callable[[], None], owner: object = None) -> TimerHandle:
        handle = TimerHandle(due, next(self._seq), callback, owner)
        with self._cond:
            heapq.heappush(self._heap, handle)
            if self._heap[0] is handle:
                self._cond.notify()
        return handle

    def call_later(self, delay: float, callback: Callable[[], None], owner: object = None) -> TimerHandle:
        return self.call_at(self.clock() + delay, callback, owner)

    def clear(self, owner: object = None) -> None:
        """Forget the pending timers of ``owner`` (used by a hub's reset), or every one when None."""
        with self._cond:
            kept = []
            for h in self._heap:
                if owner is None or h.owner is owner:
                    h.cancelled = True
                else:
                    kept.append(h)
            heapq.heapify(kept)
            self._heap = kept

    def pending(self, owner: object = None) -> int:
        with self._cond:
            return sum(1 for h in self._heap if not h.cancelled and (owner is None or h.owner is owner))

    def poke(self) -> None:
        """Wake the thread so it re-reads the clock."""
        with self._cond:
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        self._thread.join(timeout=5)

    def _next_due(self) -> TimerHandle | None:
        """Pop and return the next handle whose time has come, else wait. Called with the lock."""
        while not self._stopped:
            while self._heap and self._heap[0].cancelled:
                heapq.heappop(self._heap)
            if not self._heap:
                self._cond.wait()
                continue
            delay = self._heap[0].due - self.clock()
            if delay <= 0:
                return heapq.heappop(self._heap)
            self._cond.wait(timeout=min(delay, 60.0))
        return None

    def _run(self) -> None:
        while True:
            with self._cond:
                handle = self._next_due()
            if handle is None:
                return
            try:
                handle.callback()
            except Exception:  # a timer's failure must not stop every other timer
                log.exception("timer callback failed")
