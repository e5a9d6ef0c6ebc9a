"""``hermes status [--json] [--address ADDR]``: what a running daemon is doing.

Shows the backends (capacity, running, waiting, grants), the app classes and the best-ranked
active runs with their Gittins ranks, the counters (fail-open calls, protocol errors, reclaimed
slots) and, when the daemon prewarms, its prewarm hints and their outcomes. ``--json`` prints
the daemon's snapshot as it is (see ``hermes_agents.scheduling.daemon.snapshot``). Exit status 1
when no daemon answers.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from hermes_agents import settings
from hermes_agents.scheduling.daemon.client import DaemonUnavailableError, query_status

BACKEND_COLUMNS = (
    "backend",
    "kind",
    "max_concurrency",
    "running",
    "waiting",
    "tokens_running",
    "grants",
)

PREWARM_COLUMNS = (
    "backend",
    "hints",
    "hits",
    "late",
    "unused",
    "open",
    "cold_wait_hidden_s",
    "hint_waste_s",
)

HELP = "show a running daemon's apps, ranks, queues, grants and fail-open counts"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the raw snapshot as JSON")
    parser.add_argument(
        "--address",
        help="daemon address (default: $HERMES_SCHEDULER, else the default socket)",
    )


def main(args: argparse.Namespace) -> int:
    address = args.address or settings.scheduler_address()
    address = address or f"unix://{settings.default_socket_path()}"
    console = Console()
    try:
        state = query_status(address, token=settings.scheduler_token())
    except DaemonUnavailableError as error:
        console.print(f"[red]no hermes daemon answered at {address}[/red]: {error}")
        console.print("Start one with [bold]hermes serve[/bold], or set HERMES_SCHEDULER.")
        return 1
    state.pop("op", None)
    if args.json:
        print(json.dumps(state, indent=2, sort_keys=True))
    else:
        render(console, state)
    return 0


def render(console: Console, state: Mapping[str, Any]) -> None:
    """Print the snapshot as a header line and three tables (four when prewarming is on)."""
    counters = state["counters"]
    console.print(
        f"[bold]{state['server']}[/bold]  policy [bold]{state['policy']}[/bold]  "
        f"up {state['uptime_s']:.0f} s  clients {state['clients']}  "
        f"fail-open calls {counters['unscheduled_calls']}  "
        f"protocol errors {counters['protocol_errors']}  "
        f"slots reclaimed {counters['slots_reclaimed']} (leases expired "
        f"{counters['leases_expired']})"
    )
    console.print(
        _table(
            "Backends",
            BACKEND_COLUMNS,
            state["backends"],
        )
    )
    console.print(
        _table(
            "Apps", ("app", "runs", "running", "waiting", "best_rank", "attained_s"), state["apps"]
        )
    )
    console.print(
        _table(
            "Runs (best rank first)",
            ("run", "app", "stage", "rank", "attained_s", "running", "waiting", "age_s"),
            state["runs"],
        )
    )
    prewarm = state.get("prewarm")
    if prewarm:
        total = prewarm["total"]
        rows = [*prewarm["backends"], {**total, "backend": "total"}]
        title = f"Prewarming (failed warm-ups {total.get('warm_failures', 0)})"
        console.print(_table(title, PREWARM_COLUMNS, rows))


def _table(title: str, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, justify="left" if column in ("backend", "app", "run") else "right")
    for row in rows:
        table.add_row(*(_cell(row.get(column)) for column in columns))
    if not rows:
        table.add_row(*(["-"] * len(columns)))
    return table


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)
