"""Injected faults: what the real services do now and then, on purpose and reproducibly.

The real backends deliver activities and entity operations *at least once*, drop worker streams,
and hand out work late. The emulator normally does none of that, so user code is never tested
for it. ``--faults SPEC`` turns it on::

    duplicate=0.2            deliver this fraction of activity work items twice (to two workers
                             when there are two); the first completion counts, the other is dropped
    disconnect=5s-20s        end each worker's GetWorkItems stream after a random time in the range
                             (UNAVAILABLE; the SDK reconnects and its unfinished work is delivered again)
    delay=0-500ms            hold each work item for a random time in the range before delivering it
    seed=42                  the random seed; without one a seed is chosen and logged

Items are comma-separated, e.g. ``duplicate=0.3,delay=10ms-200ms,seed=7``. One seeded generator
makes every choice, so with the same seed and the same sequence of work the same faults happen.
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m)?$")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}
DUPLICATE, DISCONNECT, DELAY = "duplicate", "disconnect", "delay"
KINDS = (DUPLICATE, DISCONNECT, DELAY)


def _seconds(text: str, item: str) -> float:
    m = _DURATION.match(text.strip())
    if not m:
        raise ValueError(f"{item}: '{text}' is not a duration (use e.g. 500ms, 2s, 1m)")
    return float(m.group(1)) * _UNIT[m.group(2)]


def _range(text: str, item: str) -> tuple[float, float]:
    low, sep, high = text.partition("-")
    a = _seconds(low, item)
    b = _seconds(high, item) if sep else a
    if b < a:
        raise ValueError(f"{item}: the range '{text}' ends before it starts")
    return a, b


@dataclass(frozen=True)
class FaultSpec:
    duplicate: float = 0.0
    disconnect: tuple[float, float] | None = None
    delay: tuple[float, float] | None = None
    seed: int | None = None

    @classmethod
    def parse(cls, text: str) -> FaultSpec:
        """``duplicate=0.2,disconnect=5s-20s,delay=0-500ms,seed=42`` (any subset); ValueError says what is wrong."""
        values: dict = {}
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            key, sep, value = part.partition("=")
            key = key.strip()
            if not sep or not value.strip():
                raise ValueError(f"'{part}' is not KEY=VALUE (keys: duplicate, disconnect, delay, seed)")
            if key in values:
                raise ValueError(f"'{key}' is given twice")
            if key == DUPLICATE:
                try:
                    fraction = float(value)
                except ValueError:
                    fraction = -1.0
                if not 0.0 <= fraction <= 1.0:
                    raise ValueError(f"duplicate: '{value}' is not a fraction between 0 and 1")
                values[key] = fraction
            elif key == DISCONNECT:
                low, high = _range(value, key)
                if low <= 0:
                    raise ValueError("disconnect: the shortest time must be more than 0")
                values[key] = (low, high)
            elif key == DELAY:
                values[key] = _range(value, key)
            elif key == "seed":
                if not value.strip().isdigit():
                    raise ValueError(f"seed: '{value}' is not a whole number")
                values[key] = int(value)
            else:
                raise ValueError(f"unknown fault '{key}' (known: duplicate, disconnect, delay, seed)")
        if not any(k in values for k in KINDS):
            raise ValueError("no fault given: use duplicate=, disconnect= or delay= (and seed=)")
        return cls(**values)

    def describe(self) -> str:
        parts = []
        if self.duplicate:
            parts.append(f"duplicate={self.duplicate:g}")
        for key in (DISCONNECT, DELAY):
            span = getattr(self, key)
            if span:
                parts.append(f"{key}={span[0]:g}s-{span[1]:g}s")
        if self.seed is not None:
            parts.append(f"seed={self.seed}")
        return ",".join(parts)


class Faults:
    """The emulator's fault injector: one seeded generator shared by every task hub."""

    def __init__(self, spec: FaultSpec):
        seed = spec.seed if spec.seed is not None else random.SystemRandom().randrange(1, 2**31)
        self.spec = FaultSpec(spec.duplicate, spec.disconnect, spec.delay, seed)
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def duplicate(self) -> bool:
        """Deliver this activity work item twice?"""
        if not self.spec.duplicate:
            return False
        with self._lock:
            return self._rng.random() < self.spec.duplicate

    def delay(self) -> float:
        """Seconds to hold a work item before delivering it (0: deliver now)."""
        if not self.spec.delay:
            return 0.0
        with self._lock:
            return self._rng.uniform(*self.spec.delay)

    def disconnect_after(self) -> float | None:
        """Seconds after which to end a new worker stream, or None."""
        if not self.spec.disconnect:
            return None
        with self._lock:
            return self._rng.uniform(*self.spec.disconnect)
