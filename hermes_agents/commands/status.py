"""``hermes status [--json | --watch] [--address ADDR]``: what a running daemon is doing.

Shows the backends (capacity, running, waiting, grants), the app classes and the best-ranked
active runs with their Gittins ranks and stages, the counters (fail-open calls, protocol errors,
reclaimed slots) and, when the daemon prewarms, its prewarm hints and their outcomes.
``--watch`` redraws that view in place every ``--interval`` seconds until Ctrl-C (a daemon that
stops answering is shown as such and watched on). ``--json`` prints the daemon's snapshot as it
is (see ``hermes_agents.scheduling.daemon.snapshot``) and needs no extra; the tables need the
``cli`` extra (rich). Exit status 1 when no daemon answers.

Apps started without ``HERMES_SCHEDULER`` schedule inside their own process (the in-process
default): no other process can read that state, so there is nothing to show or watch. Run
``hermes serve`` and start the apps with the ``export HERMES_SCHEDULER=...`` line it prints.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from hermes_agents import settings
from hermes_agents.commands import status_redis
from hermes_agents.commands.console import console
from hermes_agents.errors import ValidationError
from hermes_agents.extras import require
from hermes_agents.scheduling.daemon.client import DaemonUnavailableError, query_status

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.table import Table

BACKEND_COLUMNS = (
    "backend",
    "kind",
    "max_concurrency",
    "running",
    "waiting",
    "tokens_running",
    "grants",
    "capacity_reason",
)
APP_COLUMNS = ("app", "runs", "running", "waiting", "best_rank", "attained_s")
RUN_COLUMNS = ("run", "app", "stage", "rank", "attained_s", "running", "waiting", "age_s")
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
EXAMPLES = """\
examples:
  hermes status                                   # the daemon at $HERMES_SCHEDULER
  hermes status --watch                           # the same, redrawn every second (Ctrl-C)
  hermes status --json                            # its snapshot as JSON (no extra needed)
  hermes status --address tcp://127.0.0.1:7461    # a TCP daemon (token from the token file)
  hermes status --scheduler redis://cache:6379/0  # every host sharing that Redis
"""

IN_PROCESS_NOTE = (
    "HERMES_SCHEDULER is unset, so apps schedule inside their own process (the in-process "
    "default), where no other process can see their queues. To watch them, run "
    "'hermes serve' and start the apps with the 'export HERMES_SCHEDULER=...' line it prints."
)
"""Why ``hermes status`` finds nothing to show when no daemon is in use."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``hermes status``."""
    add = parser.add_argument
    view = parser.add_mutually_exclusive_group()
    view.add_argument("--json", action="store_true", help="print the raw snapshot as JSON")
    view.add_argument("--watch", action="store_true", help="redraw the view in place (Ctrl-C)")
    view.add_argument(
        "--metrics", action="store_true", help="--scheduler redis://: print Prometheus text"
    )
    add("--interval", type=float, default=1.0, metavar="S", help="--watch: seconds per redraw")
    add("--count", type=int, metavar="N", help="--watch: stop after N redraws")
    add("--address", help="daemon address (default: $HERMES_SCHEDULER, else the default socket)")
    add("--scheduler", metavar="URL", help="a Redis scheduler: redis://host:port/db (all hosts)")


def main(args: argparse.Namespace) -> int:
    """Show (or watch) the daemon's state; 1 when no daemon answers."""
    explicit = args.scheduler or args.address or settings.scheduler_address()
    if status_redis.is_redis(explicit):
        assert explicit is not None
        return status_redis.main(explicit, args)
    address = explicit or settings.default_scheduler_address()
    if args.metrics:
        raise ValidationError(
            "prints a Redis scheduler's metrics; a daemon serves its own "
            "(hermes serve --metrics-port PORT)",
            "--metrics",
        )
    if not args.interval > 0:
        raise ValidationError(f"must be > 0 seconds, got {args.interval}", "--interval")
    if args.count is not None and args.count < 1:
        raise ValidationError(f"must be >= 1, got {args.count}", "--count")
    if args.json:
        return _print_json(address, explicit is not None)
    require("cli")
    out = console()
    if args.watch:
        return watch(out, lambda: _query(address), args.interval, args.count)
    try:
        state = _query(address)
    except DaemonUnavailableError as error:
        print(_unavailable(address, error, explicit is not None))  # plain: never wrapped
        return 1
    render(out, state)
    return 0


def _query(address: str) -> dict[str, Any]:
    state = query_status(address, token=settings.scheduler_token())
    state.pop("op", None)
    return state


def _unavailable(address: str, error: Exception, explicit: bool) -> str:
    """What to tell a user whose daemon did not answer (plain text, one paragraph)."""
    lines = [f"no hermes daemon answered at {address}: {error}"]
    lines.append(
        "Start one with 'hermes serve', or set HERMES_SCHEDULER." if explicit else IN_PROCESS_NOTE
    )
    return "\n".join(lines)


def _print_json(address: str, explicit: bool) -> int:
    try:
        state = _query(address)
    except DaemonUnavailableError as error:
        print(_unavailable(address, error, explicit), file=sys.stderr)
        return 1
    print(json.dumps(state, indent=2, sort_keys=True))
    return 0


def watch(
    out: Console,
    query: Callable[[], Mapping[str, Any]],
    interval_s: float,
    count: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Redraw ``query()``'s state in place every ``interval_s`` until Ctrl-C (or ``count``
    redraws); a failed query shows why and the watch goes on. Returns 0."""
    from rich.live import Live

    shown = 0
    with Live(console=out, auto_refresh=False, transient=False) as live:
        try:
            while count is None or shown < count:
                live.update(_frame(query, interval_s), refresh=True)
                shown += 1
                if count is None or shown < count:
                    sleep(interval_s)
        except KeyboardInterrupt:
            pass
    return 0


def _frame(query: Callable[[], Mapping[str, Any]], interval_s: float) -> RenderableType:
    from rich.console import Group
    from rich.text import Text

    stamp = time.strftime("%H:%M:%S")
    footer = Text(f"{stamp}, every {interval_s:g} s; Ctrl-C to stop", style="dim")
    try:
        state = query()
    except DaemonUnavailableError as error:
        return Group(Text(f"no hermes daemon answers: {error}; still trying"), footer)
    return Group(*renderables(state), footer)


def render(out: Console, state: Mapping[str, Any]) -> None:
    """Print the snapshot as a header line and three tables (four when prewarming is on)."""
    for part in renderables(state):
        out.print(part)


def renderables(state: Mapping[str, Any]) -> list[RenderableType]:
    """The header line and the tables of a snapshot: backends, apps, runs (and prewarming)."""
    from rich.text import Text

    counters = state["counters"]
    header = Text.from_markup(
        f"[bold]{state['server']}[/bold]  policy [bold]{state['policy']}[/bold]  "
        f"up {state['uptime_s']:.0f} s  clients {state['clients']}  "
        f"fail-open calls {counters['unscheduled_calls']}  "
        f"protocol errors {counters['protocol_errors']}  "
        f"slots reclaimed {counters['slots_reclaimed']} (leases expired "
        f"{counters['leases_expired']})"
    )
    fronted = state.get("scheduler")
    if fronted:  # a daemon in front of Redis: the order, limits and ranks are the cluster's
        header.append(
            f"\nfronting {fronted}: this host's calls, in the cluster's order "
            f"(every host: hermes status --scheduler {fronted})"
        )
    parts: list[RenderableType] = [
        header,
        _table("Backends", BACKEND_COLUMNS, state["backends"]),
        _table("Apps", APP_COLUMNS, state["apps"]),
        _table("Runs (best rank first)", RUN_COLUMNS, state["runs"]),
    ]
    prewarm = state.get("prewarm")
    if prewarm:
        total = prewarm["total"]
        rows = [*prewarm["backends"], {**total, "backend": "total"}]
        title = f"Prewarming (failed warm-ups {total.get('warm_failures', 0)})"
        parts.append(_table(title, PREWARM_COLUMNS, rows))
    return parts


def _table(title: str, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> Table:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, justify="left" if column in ("backend", "app", "run") else "right")
    for row in rows:
        table.add_row(*(_cell(row.get(column)) for column in columns))
    if not rows:
        table.add_row(*(["-"] * len(columns)))
    return table


def _cell(value: object) -> str:
    """A table cell: names are printed as they are, never read as rich markup (an app named
    ``[/bold]``), and control characters are shown escaped, never sent to the terminal."""
    from rich.markup import escape

    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}"
    text = str(value)
    if not text.isprintable():
        text = text.encode("unicode_escape", "backslashreplace").decode("ascii")
    return escape(text)
