"""Durable entities. A mixin of :class:`emulator.engine.core.Engine` (engine lock held)."""

from __future__ import annotations

from emulator.engine.store import Instance


class EntityRules:
    def _apply_entity_message(self, inst: Instance, action, history: list) -> None:
        raise NotImplementedError

    def _release_entity_locks(self, inst: Instance) -> None:
        return None

    def _entity_routing(self, item):
        return None

    def _deliver_entity(self, item, session) -> None:
        raise NotImplementedError

    def _requeue_entity(self, lease) -> None:
        return None

    def signal_entity(self, req) -> None:
        raise NotImplementedError("(durable entities)")

    def get_entity(self, instance_id: str, include_state: bool):
        raise NotImplementedError("(durable entities)")

    def query_entities(self, query):
        raise NotImplementedError("(durable entities)")

    def clean_entity_storage(self, remove_empty: bool, release_orphaned_locks: bool):
        raise NotImplementedError("(durable entities)")

    def complete_entity(self, result) -> None:
        raise NotImplementedError("(durable entities)")
