"""The ``hermes`` command: one subcommand per module in ``hermes_agents.commands``.

Each subcommand module exposes ``HELP`` (one line), ``EXAMPLES`` (command lines shown at the end
of its ``--help``), ``add_arguments(parser)`` and ``main(args) -> int`` (the exit status).
Modules are imported only when their command runs, so ``hermes --help`` stays fast. A
``HermesError`` (a bad file, flag or variable, a missing extra) is printed as one clear line and
exits with status 2, never as a traceback. Bare ``hermes`` prints the help.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from typing import Protocol, cast

from hermes_agents.errors import HermesError, did_you_mean
from hermes_agents.version import VERSION

COMMANDS: dict[str, str] = {
    "demo": "run agent apps on a real local LLM: no limit, a plain FCFS limit, and Hermes",
    "bench": "compare scheduling policies on a workload in the simulator (tables, JSON, plot)",
    "graph": "show an app's learned PDGraph: a table, Mermaid or a PNG",
    "serve": "run the shared scheduler daemon on a Unix socket (and optional TCP port)",
    "status": "show a running daemon's apps, ranks, queues, grants and fail-open counts",
    "check": "check the config and environment, and probe the daemon and each configured backend",
}
"""Subcommand name -> one-line help. The module is ``hermes_agents.commands.<name>``."""

EXAMPLES = """\
examples:
  hermes demo                  # 30 agent apps on a local LLM, three ways (about 4 minutes)
  hermes bench                 # policies compared in the simulator (seconds)
  hermes serve                 # one scheduler for many processes; prints the export line
  hermes check                 # is the config right, does the daemon answer, are backends up?
  hermes COMMAND --help        # a command's flags, defaults and examples
"""

_CHATTY_LOGGERS = ("httpx", "httpx2", "httpcore", "httpcore2", "openai")
"""HTTP client libraries that log every request at INFO; quiet unless ``--verbose``."""


class Command(Protocol):
    """What a subcommand module provides."""

    EXAMPLES: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def main(self, args: argparse.Namespace) -> int: ...


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows each flag's default (unless it is None or False, or the help already says it) and
    keeps the examples' line breaks."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if action.default is None or action.default is False or "default" in text:
            return action.help
        return super()._get_help_string(action)


def _command(name: str) -> Command:
    return cast(Command, importlib.import_module(f"hermes_agents.commands.{name}"))


def _named_command(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names: its first argument that is not an option."""
    return next((part for part in argv if not part.startswith("-")), None)


def build_parser(
    argv: Sequence[str],
) -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The parser and its subparsers; only the subcommand ``argv`` names gets its arguments."""
    parser = argparse.ArgumentParser(
        prog="hermes",
        description="hermes-agents: app-aware scheduling for LLM applications.",
        epilog=EXAMPLES,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument("--version", action="version", version=f"hermes-agents {VERSION}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    named = _named_command(argv)
    subparsers = {}
    for name, summary in COMMANDS.items():
        sub = commands.add_parser(
            name, help=summary, description=summary, formatter_class=HelpFormatter
        )
        if name == named:
            module = _command(name)
            module.add_arguments(sub)
            sub.epilog = module.EXAMPLES
        subparsers[name] = sub
    return parser, subparsers


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """Parse ``argv``; a bad flag gets the usage of the subcommand it was given to."""
    parser, subparsers = build_parser(argv)
    named = _named_command(argv)
    if named is not None and named not in COMMANDS:
        parser.error(
            f"unknown command {named!r}{did_you_mean(named, COMMANDS)}; "
            f"use one of {', '.join(COMMANDS)}"
        )
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        owner = subparsers[args.command] if args.command else parser
        owner.error(f"unrecognized arguments: {' '.join(unknown)}")
    return args


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:  # one INFO line per HTTP request drowns what the command says
        for chatty in _CHATTY_LOGGERS:
            logging.getLogger(chatty).setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``hermes`` with ``argv`` (default: the process arguments); returns the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = parse(arguments)
    if args.command is None:
        build_parser(arguments)[0].print_help()
        return 0
    _configure_logging(args.verbose)
    try:
        return _command(args.command).main(args)
    except HermesError as error:
        print(f"hermes {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
