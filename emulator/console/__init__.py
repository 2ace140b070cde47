"""The live console: :func:`render` is a pure function of a :class:`View`; :func:`run_console` feeds it."""

from emulator.console.live import run_console
from emulator.console.render import View, render

__all__ = ["View", "render", "run_console"]
