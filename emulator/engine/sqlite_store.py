"""A durable store on SQLite: the memory store plus one transaction per engine operation.

The engine still works on the in-memory objects; this store remembers which instances and
entities an operation touched and writes them when the operation ends (``flush``), before the
engine answers the caller. Histories are append-only rows, so an operation costs what it
added, not the length of the history. Work handed to a worker is persisted as part of the
instance's inbox (or the entity's queue), so after a crash it is simply delivered again.

What is derived rather than stored: the activity queue (scheduled tasks without a result),
the timers (created timers that have not fired), the lock index (entities' ``locked_by``).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading

from durabletask.internal import orchestrator_service_pb2 as pb

from emulator.engine import events as ev
from emulator.engine.store import Instance, MemoryStore
from emulator.errors import EmulatorError

log = logging.getLogger("emulator.store")

APPLICATION_ID = 0x44544531  # "DTE1": marks the file as ours (PRAGMA application_id)
SCHEMA_VERSION = 2

# Every row belongs to a task hub; the same instance ID in two hubs is two rows.
SCHEMA = """
CREATE TABLE IF NOT EXISTS hubs (
    name TEXT PRIMARY KEY,
    data TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS instances (
    hub TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    data TEXT NOT NULL,
    inbox BLOB NOT NULL,
    failure BLOB,
    parent BLOB,
    trace BLOB,
    PRIMARY KEY (hub, instance_id)
);
CREATE TABLE IF NOT EXISTS history (
    hub TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    generation INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    events BLOB NOT NULL,
    PRIMARY KEY (hub, instance_id, offset)
);
CREATE TABLE IF NOT EXISTS entities (
    hub TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (hub, entity_id)
);
"""

# Each entry upgrades the schema from version N to N+1.
MIGRATIONS: dict[int, str] = {
    # 1 -> 2: task hubs. Everything a schema-1 file holds belonged to the one namespace, now 'default'.
    1: """
ALTER TABLE instances RENAME TO instances_v1;
ALTER TABLE history RENAME TO history_v1;
ALTER TABLE entities RENAME TO entities_v1;
"""
    + SCHEMA
    + """;
INSERT INTO hubs (name) VALUES ('default');
INSERT INTO instances SELECT 'default', instance_id, data, inbox, failure, parent, trace FROM instances_v1;
INSERT INTO history SELECT 'default', instance_id, generation, offset, events FROM history_v1;
INSERT INTO entities SELECT 'default', entity_id, data FROM entities_v1;
DROP TABLE instances_v1;
DROP TABLE history_v1;
DROP TABLE entities_v1;
""",
}


class StoreError(EmulatorError):
    """The database file cannot be used (not ours, too new, or locked by another emulator)."""


def _instance_row(inst: Instance) -> tuple:
    data = {
        "execution_id": inst.execution_id,
        "name": inst.name,
        "version": inst.version,
        "input": inst.input,
        "output": inst.output,
        "custom_status": inst.custom_status,
        "final_status": inst.final_status,
        "started": inst.started,
        "suspended": inst.suspended,
        "created": inst.created,
        "updated": inst.updated,
        "completed": inst.completed,
        "scheduled_start": inst.scheduled_start,
        "tags": inst.tags,
        "event_count": inst.event_count,
        "children": inst.children,
        "rewinding": inst.rewinding,
        "dialect": inst.dialect,
    }
    # Work handed to a worker is not done until it is completed: store it as still pending.
    pending = list(inst.lease.item[1:]) if inst.lease is not None else []
    inbox = ev.encode_history(pending + inst.inbox)
    return (
        inst.instance_id,
        json.dumps(data),
        inbox,
        inst.failure.SerializeToString() if inst.failure is not None else None,
        inst.parent.SerializeToString() if inst.parent is not None else None,
        inst.trace_context.SerializeToString() if inst.trace_context is not None else None,
    )


def _load_instance(row, past: bytes) -> Instance:
    instance_id, data, inbox, failure, parent, trace = row
    d = json.loads(data)
    start = pb.ExecutionStartedEvent(name=d["name"])
    inst = Instance(instance_id, d["execution_id"], start, d["created"])
    for key in (
        "version",
        "input",
        "output",
        "custom_status",
        "final_status",
        "started",
        "suspended",
        "updated",
        "completed",
        "scheduled_start",
        "tags",
        "event_count",
        "children",
        "rewinding",
    ):
        setattr(inst, key, d[key])
    inst.dialect = d.get("dialect")  # absent from rows written before dialects existed
    inst.failure = pb.TaskFailureDetails.FromString(failure) if failure is not None else None
    inst.parent = pb.ParentInstanceInfo.FromString(parent) if parent is not None else None
    inst.trace_context = pb.TraceContext.FromString(trace) if trace is not None else None
    inst.inbox = list(ev.decode_history(inbox))
    inst.past = bytearray(past)
    return inst


class SqliteDatabase:
    """One SQLite file, held exclusively by this emulator, holding every task hub's rows.

    Hubs flush from their own threads; the connection is shared, so each transaction takes
    ``lock``. Opening checks the file is ours, refuses a newer schema untouched, and migrates
    an older one in place.
    """

    def __init__(self, path: str):
        self.path = path
        self.lock = threading.Lock()
        self.conn = self._open(path)

    def hub_names(self) -> list[str]:
        rows = self.conn.execute(
            "SELECT name FROM hubs UNION SELECT hub FROM instances UNION SELECT hub FROM entities"
        ).fetchall()
        return sorted(r[0] for r in rows)

    def store(self, hub: str) -> SqliteStore:
        """The store of one hub (its rows loaded), recording the hub so that it survives a restart."""
        with self.lock:
            self.conn.execute("INSERT OR IGNORE INTO hubs (name) VALUES (?)", (hub,))
        return SqliteStore(self, hub)

    def forget_hub(self, hub: str) -> None:
        with self.lock:
            self.conn.execute("BEGIN")
            for table in ("instances", "history", "entities"):
                self.conn.execute(f"DELETE FROM {table} WHERE hub=?", (hub,))
            self.conn.execute("DELETE FROM hubs WHERE name=?", (hub,))
            self.conn.execute("COMMIT")

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    @staticmethod
    def _open(path: str) -> sqlite3.Connection:
        """Open and lock the file, checking it is ours; a foreign or too-new file is left untouched."""
        existed = os.path.exists(path) and os.path.getsize(path) > 0
        try:
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=0.5)
        except sqlite3.Error as e:
            raise StoreError(f"cannot open {path}: {e}") from None
        try:
            db.execute("PRAGMA locking_mode=EXCLUSIVE")
            db.execute("BEGIN IMMEDIATE")  # takes the lock now: a second emulator on the file fails here
            app_id = db.execute("PRAGMA application_id").fetchone()[0]
            version = db.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.OperationalError as e:
            db.close()
            if "locked" in str(e):
                raise StoreError(f"{path} is in use by another running emulator") from None
            raise StoreError(f"{path} is not an emulator database ({e})") from None
        except sqlite3.DatabaseError as e:
            db.close()
            raise StoreError(f"{path} is not an emulator database ({e})") from None
        problem = None
        if existed and app_id != APPLICATION_ID:
            problem = f"{path} is not a durabletask-emulator database (it belongs to another program)"
        elif version > SCHEMA_VERSION:
            problem = (
                f"{path} has schema version {version}, newer than this emulator's {SCHEMA_VERSION}; "
                "upgrade durabletask-emulator to open it"
            )
        if problem:
            db.execute("ROLLBACK")
            db.close()
            raise StoreError(problem)
        if version == 0:
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA application_id={APPLICATION_ID}")
        while 0 < version < SCHEMA_VERSION:
            for statement in MIGRATIONS[version].split(";"):
                if statement.strip():
                    db.execute(statement)
            version += 1
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        db.execute("COMMIT")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        return db


class SqliteStore(MemoryStore):
    """One hub's state in memory, written through to the shared file at the end of every operation."""

    durable = True

    def __init__(self, database: SqliteDatabase, hub: str):
        super().__init__()
        self.database = database
        self.hub = hub
        self.path = database.path
        self._db = database.conn
        self._dirty: dict[str, Instance | None] = {}
        self._dirty_entities: dict[str, object] = {}
        self._written: dict[str, tuple[int, int]] = {}  # instance -> (history generation, bytes stored)
        self._load()

    def _load(self) -> None:
        histories: dict[str, list[bytes]] = {}
        generations: dict[str, int] = {}
        for instance_id, generation, events in self._db.execute(
            "SELECT instance_id, generation, events FROM history WHERE hub=? ORDER BY instance_id, offset", (self.hub,)
        ):
            histories.setdefault(instance_id, []).append(events)
            generations[instance_id] = generation
        for row in self._db.execute(
            "SELECT instance_id, data, inbox, failure, parent, trace FROM instances WHERE hub=?", (self.hub,)
        ):
            past = b"".join(histories.get(row[0], ()))
            inst = _load_instance(row, past)
            inst.history_generation = generations.get(row[0], 0)
            self._instances[inst.instance_id] = inst
            self._written[inst.instance_id] = (inst.history_generation, len(past))
        from emulator.engine.entities import Entity

        for entity_id, data in self._db.execute("SELECT entity_id, data FROM entities WHERE hub=?", (self.hub,)):
            entity = Entity.from_json(entity_id, json.loads(data))
            self.entities[entity_id] = entity
            if entity.locked_by is not None:
                self.locks.setdefault(entity.locked_by[0], set()).add(entity_id)

    # ------------------------------------------------------------------ change tracking

    def put(self, instance: Instance) -> None:
        super().put(instance)
        self._dirty[instance.instance_id] = instance
        self._written.pop(instance.instance_id, None)

    def delete(self, instance_id: str) -> None:
        super().delete(instance_id)
        self._dirty[instance_id] = None

    def touch(self, instance: Instance) -> None:
        super().touch(instance)
        self._dirty[instance.instance_id] = instance

    def touch_entity(self, entity) -> None:
        super().touch_entity(entity)
        self._dirty_entities[entity.instance_id] = entity

    def delete_entity(self, entity_id: str) -> None:
        super().delete_entity(entity_id)
        self._dirty_entities[entity_id] = None

    def flush(self) -> None:
        """Write everything the operation touched, in one transaction."""
        if not self._dirty and not self._dirty_entities:
            return
        with self.database.lock:
            self._write_dirty()

    def _write_dirty(self) -> None:
        db, hub = self._db, self.hub
        db.execute("BEGIN")
        try:
            for instance_id, inst in self._dirty.items():
                if inst is None or self._instances.get(instance_id) is not inst:
                    if inst is None:
                        db.execute("DELETE FROM instances WHERE hub=? AND instance_id=?", (hub, instance_id))
                        db.execute("DELETE FROM history WHERE hub=? AND instance_id=?", (hub, instance_id))
                        self._written.pop(instance_id, None)
                    continue
                db.execute("INSERT OR REPLACE INTO instances VALUES (?,?,?,?,?,?,?)", (hub, *_instance_row(inst)))
                self._write_history(inst)
            for entity_id, entity in self._dirty_entities.items():
                if entity is None or self.entities.get(entity_id) is not entity:
                    db.execute("DELETE FROM entities WHERE hub=? AND entity_id=?", (hub, entity_id))
                else:
                    db.execute(
                        "INSERT OR REPLACE INTO entities VALUES (?,?,?)", (hub, entity_id, json.dumps(entity.to_json()))
                    )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        finally:
            self._dirty.clear()
            self._dirty_entities.clear()

    def _write_history(self, inst: Instance) -> None:
        generation, stored = self._written.get(inst.instance_id, (-1, 0))
        if generation != inst.history_generation or stored > len(inst.past):
            self._db.execute("DELETE FROM history WHERE hub=? AND instance_id=?", (self.hub, inst.instance_id))
            stored = 0
        if len(inst.past) > stored:
            self._db.execute(
                "INSERT INTO history VALUES (?,?,?,?,?)",
                (self.hub, inst.instance_id, inst.history_generation, stored, bytes(inst.past[stored:])),
            )
        self._written[inst.instance_id] = (inst.history_generation, len(inst.past))

    def load_clock(self) -> tuple[float, bool] | None:
        row = self._db.execute("SELECT data FROM hubs WHERE name=?", (self.hub,)).fetchone()
        data = json.loads(row[0]) if row else {}
        if "clock_offset" not in data:
            return None
        return data["clock_offset"], data.get("time_skipping", False)

    def save_clock(self, offset: float, skipping: bool) -> None:
        data = json.dumps({"clock_offset": offset, "time_skipping": skipping})
        with self.database.lock:
            self._db.execute("UPDATE hubs SET data=? WHERE name=?", (data, self.hub))

    def clear(self) -> None:
        """Forget this hub's state (reset / DeleteTaskHub); other hubs' rows stay."""
        self._instances.clear()
        self.entities.clear()
        self.locks.clear()
        self._dirty.clear()
        self._dirty_entities.clear()
        self._written.clear()
        with self.database.lock:
            self._db.execute("BEGIN")
            for table in ("instances", "history", "entities"):
                self._db.execute(f"DELETE FROM {table} WHERE hub=?", (self.hub,))
            self._db.execute("COMMIT")

    def close(self) -> None:
        """Nothing of its own to release: the engine closes the shared database."""
