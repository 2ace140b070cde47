"""Time: one timer scheduler for the whole engine, and each task hub's own clock.

The :class:`Scheduler` is a heap and one thread reading the wall clock. Every task hub schedules
on it; a timer carries its ``owner`` (the hub), so that one hub can forget its own timers
(``clear(owner=hub)``) without touching another's, and its due time in the owner's clock.

A :class:`HubClock` is a hub's time: the wall clock plus an offset that only ever grows, when
the hub's time is advanced by hand or skipped to its next timer. After the offset grows,
``rebase(owner, offset)`` brings the owner's timers forward by the same amount.
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


class HubClock:
    """A task hub's clock: wall time plus an offset that never shrinks, so time never goes back."""

    __slots__ = ("wall", "offset", "skipping")

    def __init__(self, wall: Clock = time.time, offset: float = 0.0, skipping: bool = False):
        self.wall = wall
        self.offset = offset
        #: Time skipping: jump to the next timer whenever a client waits and the hub is idle.
        self.skipping = skipping

    def now(self) -> float:
        return self.wall() + self.offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time only moves forward")
        self.offset += seconds

    def jump_to(self, when: float) -> bool:
        """Move forward to ``when`` if it is ahead; True if the clock moved."""
        ahead = when - self.now()
        if ahead <= 0:
            return False
        self.offset += ahead
        return True


#: Pushes between two looks at how much of the heap is cancelled (see Scheduler._compact).
COMPACT_EVERY = 1024


class TimerHandle:
    __slots__ = ("due", "at", "seq", "callback", "cancelled", "owner")

    def __init__(self, due: float, seq: int, callback: Callable[[], None], owner: object = None, at: float = 0.0):
        self.due = due  # wall-clock time it fires at (the heap's order)
        self.at = at  # the same moment on the owner's clock
        self.seq = seq
        self.callback = callback
        self.cancelled = False
        self.owner = owner

    def cancel(self) -> None:
        # The handle stays in the heap until its time or the next compaction; what it would have
        # run (a lease's closure holds the work item, history and all) is let go of now.
        self.cancelled = True
        self.callback = None

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
        self._pushes = 0  # since the last compaction
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="emulator-timers", daemon=True)
        self._thread.start()

    def call_at(
        self, due: float, callback: Callable[[], None], owner: object = None, offset: float = 0.0
    ) -> TimerHandle:
        """Run ``callback`` at ``due`` on a clock ``offset`` seconds ahead of the wall clock."""
        handle = TimerHandle(due - offset, next(self._seq), callback, owner, due)
        with self._cond:
            heapq.heappush(self._heap, handle)
            if self._heap[0] is handle:
                self._cond.notify()
            self._pushes += 1
            if self._pushes >= COMPACT_EVERY and 2 * self._pushes > len(self._heap):
                self._compact()
        return handle

    def _compact(self) -> None:
        """Drop cancelled handles once they are most of the heap. Most timers are cancelled long
        before they are due (every work item's lease timer, 300 s by default), so without this the
        heap, and each scan of it, grows with the work done in the last lease timeout."""
        self._pushes = 0
        live = [h for h in self._heap if not h.cancelled]
        if 2 * len(live) < len(self._heap):
            heapq.heapify(live)
            self._heap = live

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

    def rebase(self, owner: object, offset: float) -> None:
        """The owner's clock is now ``offset`` ahead of the wall: its timers fire that much sooner."""
        with self._cond:
            for h in self._heap:
                if h.owner is owner:
                    h.due = h.at - offset
            heapq.heapify(self._heap)
            self._cond.notify()

    def earliest(self, owner: object) -> float | None:
        """The owner's next timer, on the owner's clock, or None."""
        with self._cond:
            times = [h.at for h in self._heap if h.owner is owner and not h.cancelled]
        return min(times, default=None)

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
            callback = handle.callback  # None: cancelled after it was taken from the heap
            if callback is None:
                continue
            try:
                callback()
            except Exception:  # a timer's failure must not stop every other timer
                log.exception("timer callback failed")
