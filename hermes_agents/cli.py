"""The ``hermes`` command: one subcommand per module in ``hermes_agents.commands``.

Each subcommand module exposes ``HELP`` (one line), ``add_arguments(parser)`` and
``main(args) -> int`` (the exit status). Modules are imported only when their command runs, so
``hermes --help`` stays fast. A ``ValidationError`` (a bad file, flag or variable) is printed
as one clear line and exits with status 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from typing import Protocol, cast

from hermes_agents.errors import HermesError

COMMANDS: dict[str, str] = {
    "demo": "run agent apps on a real local LLM, unscheduled and through Hermes, and compare",
    "bench": "compare scheduling policies on a workload in the simulator (tables, JSON, plot)",
    "graph": "show an app's learned PDGraph: a table, Mermaid or a PNG",
    "serve": "run the shared scheduler daemon on a Unix socket (and optional TCP port)",
    "status": "show a running daemon's apps, ranks, queues, grants and fail-open counts",
}
"""Subcommand name -> one-line help. The module is ``hermes_agents.commands.<name>``."""


_CHATTY_LOGGERS = ("httpx", "httpx2", "httpcore", "httpcore2", "openai")
"""HTTP client libraries that log every request at INFO; quiet unless ``--verbose``."""


class Command(Protocol):
    """What a subcommand module provides."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def main(self, args: argparse.Namespace) -> int: ...


def _command(name: str) -> Command:
    return cast(Command, importlib.import_module(f"hermes_agents.commands.{name}"))


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    """The parser; only the subcommand named in ``argv`` (if any) gets its arguments added."""
    parser = argparse.ArgumentParser(
        prog="hermes", description="hermes-agents: app-aware scheduling for LLM applications."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, summary in COMMANDS.items():
        sub = commands.add_parser(name, help=summary, description=summary)
        if name in argv:
            _command(name).add_arguments(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``hermes`` with ``argv`` (default: the process arguments); returns the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(arguments).parse_args(arguments)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:  # one INFO line per HTTP request drowns what the command says
        for chatty in _CHATTY_LOGGERS:
            logging.getLogger(chatty).setLevel(logging.WARNING)
    try:
        return _command(args.command).main(args)
    except HermesError as error:
        print(f"hermes {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
