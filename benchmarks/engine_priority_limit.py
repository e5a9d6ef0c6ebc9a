"""What limits engine priority with preemption: request FCFS, the best orders, and the floors.

Run: ``.venv/bin/python benchmarks/engine_priority_limit.py [--workload paper-mix] [--load 2]
[--seeds 5] [--engine-seqs 16]`` (about half a minute on one core for paper-mix)

The figures and how each is measured are in ``hermes_agents.sim.priority_limit``. The targets
(issue 18): at least 75% lower mean ACT and 85% lower P95 than request FCFS. A target is out of
reach for every order when it asks for less than the apps take served alone.
"""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from hermes_agents.sim.metrics import ActSummary
from hermes_agents.sim.priority_limit import PriorityLimit, PriorityLimitSpec, measure_limit

MEAN_TARGET = 0.75
P95_TARGET = 0.85


def _row(table: Table, name: str, summary: ActSummary, fcfs: ActSummary) -> None:
    mean, p95 = 1 - summary.mean_s / fcfs.mean_s, 1 - summary.p95_s / fcfs.p95_s
    table.add_row(
        name, f"{summary.mean_s:.1f}", f"{summary.p95_s:.1f}", f"{-mean:+.0%}", f"{-p95:+.0%}"
    )


def _orders(limit: PriorityLimit, seqs: int) -> Table:
    table = Table(title=f"mean / p95 ACT (s) on an engine of {seqs} sequences")
    for column in ("", "mean", "p95", "mean vs fcfs", "p95 vs fcfs"):
        table.add_column(column, justify="left" if not column else "right")
    fcfs = limit.fcfs
    _row(table, "request FCFS (stock engine queue)", fcfs, fcfs)
    target = ActSummary(
        fcfs.apps, fcfs.mean_s * (1 - MEAN_TARGET), 0, fcfs.p95_s * (1 - P95_TARGET), 0
    )
    _row(table, "the targets", target, fcfs)
    for name, summary in limit.orders.items():
        _row(table, f"{name}, engine priority, free full-batch preemption", summary, fcfs)
    _row(table, "served alone (the floor of every order)", limit.alone, fcfs)
    _row(table, "served alone, each step a full batch's", limit.alone_full_batch, fcfs)
    return table


def _classes(limit: PriorityLimit) -> Table:
    table = Table(title=f"where the best order ({limit.best}) stays above served alone")
    for column in ("class", "apps", "alone", "alone, full-batch steps", limit.best, "adds to mean"):
        table.add_column(column, justify="left" if column == "class" else "right")
    for gap in limit.classes:
        table.add_row(
            gap.name,
            str(gap.apps),
            f"{gap.alone_s:.1f}",
            f"{gap.alone_full_batch_s:.1f}",
            f"{gap.best_s:.1f}",
            f"+{gap.adds_s:.1f}",
        )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--workload", default="paper-mix")
    parser.add_argument("--load", type=float, default=2.0)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--engine-seqs", type=int, default=16)
    args = parser.parse_args()
    spec = PriorityLimitSpec(
        args.workload, args.load, tuple(range(args.seeds)), max_num_seqs=args.engine_seqs
    )
    limit = measure_limit(spec)
    console = Console()
    console.print(_orders(limit, args.engine_seqs))
    console.print(_classes(limit))
    for name, floor in (
        ("served alone", limit.alone),
        ("alone, full-batch steps", limit.alone_full_batch),
    ):
        mean, p95 = limit.reach(floor)
        console.print(
            f"the most any order could reach ({name}): {mean:.0%} lower mean, {p95:.0%} lower p95"
        )
    console.print(
        f"under {limit.best}: the engine busy {limit.busy_share:.0%} of the makespan, "
        f"its batch full {limit.full_batch_share:.0%} of that"
    )


if __name__ == "__main__":
    main()
