"""``python -m emulator`` is the ``durabletask-emulator`` command."""

from emulator.cli import main

main(prog_name="durabletask-emulator")
