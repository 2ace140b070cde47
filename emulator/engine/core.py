"""The engine: the set of task hubs, and the one timer thread they share.

Everything a call acts on belongs to one :class:`~emulator.engine.hub.TaskHub`; the engine holds
no per-hub state itself. It finds (or, unless the set of hubs is fixed, creates) the hub a call
names, and answers the questions that span hubs: which hubs exist, how busy each one is.
"""

from __future__ import annotations

import itertools
import logging
import re
import threading
import time

from emulator.config import Config
from emulator.engine.clock import Clock, Scheduler
from emulator.engine.faults import Faults, FaultSpec
from emulator.engine.hub import TaskHub
from emulator.engine.queries import EngineSnapshot, HubSummary, merge_snapshots
from emulator.engine.store import MemoryStore
from emulator.engine.waiters import COMPLETION, START
from emulator.errors import InvalidRequest, TaskHubNotFound

__all__ = ["COMPLETION", "DEFAULT_HUB", "START", "Engine", "HubSummary", "TaskHub", "check_hub_name"]

log = logging.getLogger("emulator.engine")

#: The hub of a call that names none (the DTS emulator's default too).
DEFAULT_HUB = "default"
MAX_HUB_NAME = 64
_HUB_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?")


def check_hub_name(name: str) -> str:
    """Return ``name`` if it is a valid task hub name, else raise InvalidRequest saying why.

    The rule of Azure resource names, which DTS task hubs are: letters, digits and hyphens,
    beginning and ending with a letter or digit, at most 64 characters.
    """
    if not name:
        raise InvalidRequest("the taskhub header is empty; name a task hub or leave the header out for 'default'")
    if len(name) > MAX_HUB_NAME:
        raise InvalidRequest(f"task hub name '{name[:80]}' is {len(name)} characters long; at most {MAX_HUB_NAME}")
    if not _HUB_NAME.fullmatch(name):
        raise InvalidRequest(
            f"task hub name '{name}' is not valid: use letters, digits and hyphens, "
            "beginning and ending with a letter or digit"
        )
    return name


class Engine:
    """The emulator's backend, independent of any transport: a registry of task hubs."""

    def __init__(self, config: Config | None = None, clock: Clock = time.time):
        self.config = config or Config()
        self.clock = clock
        self.started_at = clock()
        self._scheduler = Scheduler(clock)
        self._lock = threading.Lock()  # guards the registry only; each hub has its own lock
        self._session_ids = itertools.count(1)  # worker IDs are unique across hubs
        self._fixed: frozenset[str] | None = None
        if self.config.task_hubs is not None:
            self._fixed = frozenset(check_hub_name(n) for n in self.config.task_hubs)
            if not self._fixed:
                raise InvalidRequest("the set of task hubs is empty: name at least one, or leave it unset")
        self.faults: Faults | None = None
        if self.config.faults:
            try:
                self.faults = Faults(FaultSpec.parse(self.config.faults))
            except ValueError as e:
                raise InvalidRequest(f"faults: {e}") from None
            log.warning("injecting faults: %s (give this seed to reproduce a run)", self.faults.spec.describe())
        self._db = None
        if self.config.db_path:
            from emulator.engine.sqlite_store import SqliteDatabase

            self._db = SqliteDatabase(self.config.db_path)
        self._hubs: dict[str, TaskHub] = {}
        for name in self._initial_hubs():
            self._hubs[name] = self._new_hub(name)

    def _initial_hubs(self) -> list[str]:
        if self._fixed is not None:
            names = sorted(self._fixed)
            if self._db is not None:
                ignored = sorted(set(self._db.hub_names()) - self._fixed)
                if ignored:
                    log.warning(
                        "task hubs %s are in %s but not served (--task-hubs)", ", ".join(ignored), self._db.path
                    )
            return names
        stored = self._db.hub_names() if self._db is not None else []
        return [DEFAULT_HUB, *sorted(set(stored) - {DEFAULT_HUB})]

    def _new_hub(self, name: str) -> TaskHub:
        store = self._db.store(name) if self._db is not None else MemoryStore()
        return TaskHub(name, self.config, store, self._scheduler, self._session_ids, self.faults)

    # ------------------------------------------------------------------ routing

    def hub(self, name: str | None = None) -> TaskHub:
        """The hub a call names (None: ``default``); created on first use unless the set is fixed."""
        if name is None:
            name = DEFAULT_HUB
        hub = self._hubs.get(name)
        if hub is not None:
            return hub
        check_hub_name(name)
        if self._fixed is not None:
            raise TaskHubNotFound(name)
        with self._lock:
            hub = self._hubs.get(name)
            if hub is None:
                hub = self._hubs[name] = self._new_hub(name)
                log.info("task hub %s created", name)
            return hub

    def hubs(self) -> list[TaskHub]:
        return [self._hubs[n] for n in sorted(self._hubs)]

    def summaries(self) -> list[HubSummary]:
        return [h.summary() for h in self.hubs()]

    # ------------------------------------------------------------------ lifecycle

    def reset(self, task_hub: str | None = None) -> None:
        """Forget one hub's state, or (None) every hub's; connected workers stay connected.

        After a full reset only the hubs that must exist remain: the fixed set, or ``default``
        and any hub a worker is still connected to.
        """
        if task_hub is not None:
            self.hub(task_hub).reset()
            return
        for hub in list(self._hubs.values()):
            hub.reset()
            self.discard(hub.name)

    def discard(self, name: str) -> bool:
        """Forget a hub created on first use once it is empty and no worker is connected to it.

        ``default`` and the hubs of a fixed set always stay. True if the hub is gone.
        """
        with self._lock:
            hub = self._hubs.get(name)
            if hub is None or name == DEFAULT_HUB or self._fixed is not None:
                return hub is None
            if not hub.retire():
                return False
            del self._hubs[name]
            hub.close()
            if self._db is not None:
                self._db.forget_hub(name)
            return True

    def close(self) -> None:
        self._scheduler.stop()
        for hub in list(self._hubs.values()):
            hub.close()
        if self._db is not None:
            self._db.close()

    # ------------------------------------------------------------------ across hubs

    def waiter_count(self) -> int:
        return sum(h.waiter_count() for h in self.hubs())

    def snapshot(self, rows: int = 15) -> EngineSnapshot:
        """The console's picture of every hub together (rows of all hubs, newest first)."""
        return merge_snapshots([h.snapshot(rows) for h in self.hubs()], rows, self.started_at, self.clock())
