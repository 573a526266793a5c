"""Command line: `python main.py <command>`.

Each command module registers its sub-commands; handlers import heavy packages (torch,
pyannote) only when they run, so `--help` and the gateway's commands stay light.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from shared.errors import DiarizationError
from shared.logs import configure_logging
from shared.settings import get_settings

Registrar = Callable[[argparse._SubParsersAction], None]


def _registrars() -> list[Registrar]:
    from shared.cli import engine_commands, service_commands

    return [service_commands.register, engine_commands.register]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="main.py", description="Speaker diarization service")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in _registrars():
        register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(get_settings())
    try:
        return int(args.handler(args) or 0)
    except DiarizationError as error:
        print(f"error [{error.code}]: {error.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
