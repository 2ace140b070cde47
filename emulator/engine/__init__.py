"""The emulator's core: state, orchestration rules, dispatch and timers. No gRPC, click or rich here."""

from emulator.engine.core import Engine

__all__ = ["Engine"]
