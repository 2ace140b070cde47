"""durabletask-emulator: a local Durable Task backend for every Durable Task SDK."""

from emulator.config import Config
from emulator.engine import Engine
from emulator.errors import EmulatorError, PortInUse
from emulator.server import Server
from emulator.testing import InMemoryOrchestrationBackend, TaskHubHandle, create_test_backend

__all__ = [
    "Config",
    "EmulatorError",
    "Engine",
    "InMemoryOrchestrationBackend",
    "PortInUse",
    "Server",
    "TaskHubHandle",
    "create_test_backend",
]
__version__ = "0.1.0"
