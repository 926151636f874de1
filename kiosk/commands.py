"""A small dispatcher shared by the ``kiosk`` and ``cityhub`` command lines.

Each subcommand lives in its own module as ``main(argv, config_path) -> int``; the table names
the module so that ``--help`` stays cheap and a command's heavy imports (pygame, pyscard,
SQLAlchemy) happen only when it runs. A module that does not exist yet is reported as
"not built yet" with a non-zero exit, never as a success.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from dataclasses import dataclass
from pathlib import Path

NOT_BUILT = 3


@dataclass(frozen=True)
class Subcommand:
    name: str
    help: str
    target: str  # "package.module:function"


def run(prog: str, description: str, table: list[Subcommand], default_config: Path | None,
        argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    if default_config is not None:
        parser.add_argument("--config", type=Path, default=default_config,
                            help=f"config file (default: {default_config})")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for sub in table:
        commands.add_parser(sub.name, help=sub.help, add_help=False)
    args, rest = parser.parse_known_args(argv)
    # Everything after the subcommand belongs to it, including its own --help.
    chosen = next(sub for sub in table if sub.name == args.command)
    module_name, function_name = chosen.target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # Only the command's own module (or its package) missing means "not built"; a missing
        # dependency inside a built command is a real error and must surface.
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            print(f"{prog} {chosen.name}: not built yet", file=sys.stderr)
            return NOT_BUILT
        raise
    return getattr(module, function_name)(rest, getattr(args, "config", None))
