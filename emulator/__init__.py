"""durabletask-emulator: a local Durable Task backend for every Durable Task SDK.

The names below are imported on first use (PEP 562), so ``import emulator`` alone loads no
protocol messages: a process that uses the Dapr SDK (whose generated messages share their names
with Microsoft's in protobuf's default pool) can import the package and its pytest plugin.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from emulator.config import Config
    from emulator.engine import Engine
    from emulator.errors import EmulatorError, PortInUse
    from emulator.server import Server
    from emulator.testing import InMemoryOrchestrationBackend, TaskHubHandle, create_test_backend

_HOMES = {
    "Config": "emulator.config",
    "EmulatorError": "emulator.errors",
    "Engine": "emulator.engine",
    "InMemoryOrchestrationBackend": "emulator.testing",
    "PortInUse": "emulator.errors",
    "Server": "emulator.server",
    "TaskHubHandle": "emulator.testing",
    "create_test_backend": "emulator.testing",
}
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


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module 'emulator' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value
    return value
