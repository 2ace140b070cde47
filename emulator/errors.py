"""Domain errors raised by the engine.

The engine knows nothing of gRPC; the servicer turns these into status codes in one place
(:func:`emulator.service.status_for`).
"""

from __future__ import annotations


class EmulatorError(Exception):
    """Base class of every error the engine reports to a caller."""


class InvalidRequest(EmulatorError):
    """The request is malformed (empty ID, unknown action type, wrong token kind...)."""


class InstanceNotFound(EmulatorError):
    def __init__(self, instance_id: str):
        super().__init__(f"no orchestration instance with ID '{instance_id}' exists")
        self.instance_id = instance_id


class InstanceAlreadyExists(EmulatorError):
    def __init__(self, instance_id: str, status: str):
        super().__init__(
            f"an orchestration instance with ID '{instance_id}' already exists and is {status}; "
            "pass an OrchestrationIdReusePolicy whose replaceableStatus includes it to replace it"
        )
        self.instance_id = instance_id


class TaskHubNotFound(EmulatorError):
    """A call named a task hub that this emulator does not serve (``--task-hubs`` restricts the set)."""

    def __init__(self, name: str):
        # The DTS emulator's own wording, which its users' tests and scripts may match.
        super().__init__(f"Task hub not found: {name}")
        self.name = name


class NotInState(EmulatorError):
    """The instance exists but is not in a state that allows the operation."""


class WorkItemNotFound(EmulatorError):
    """A completion token that no outstanding work item carries."""


class WorkItemAlreadyCompleted(EmulatorError):
    """A completion token whose work item was already completed or abandoned."""


class LeaseExpired(EmulatorError):
    """A completion for a work item whose lease ran out (it was delivered again to a worker)."""


class LimitExceeded(EmulatorError):
    """A configured limit (message size, page size...) was exceeded."""


class Unsupported(EmulatorError):
    """A request for something a protocol dialect has that the emulator does not provide."""


class PortInUse(EmulatorError, OSError):
    """The requested port is already bound by another process."""
