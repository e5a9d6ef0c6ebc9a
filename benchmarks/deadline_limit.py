"""What limits deadline satisfaction: the bounds, a clairvoyant oracle and the policies.

Run: ``.venv/bin/python benchmarks/deadline_limit.py [--load 2] [--seeds 5] [--share 0.5]
[--scale 0.7] [--policies fcfs,vtc,edf,hermes-ddl,hermes-edf] [--sheddable-share 0.125]``
(about 1.5 minutes for paper-mix at load 2; ``--sheddable-share``: every backend's headroom,
1 turns it off)

The rows and how each is measured are in ``hermes_agents.sim.deadline_limit``. One table: per
class (most deadlines lost by ``hermes-ddl`` against served alone first) and for all, the
share of the apps with a deadline that met it in each row; every row serves the same apps.
The target (issue 17, Hermes's setup at load 2): ``hermes-ddl`` >= 0.85.
"""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from hermes_agents.scheduling.tiers import DEFAULT_SHEDDABLE_SHARE
from hermes_agents.sim.deadline_limit import DeadlineLimit, DeadlineLimitSpec
from hermes_agents.sim.deadline_limit import measure_deadline_limit as measure


def _cell(met: int, apps: int) -> str:
    return "-" if apps == 0 else f"{met / apps:.3f}"


def limit_table(limit: DeadlineLimit, title: str) -> Table:
    """Classes down, rows of ``limit`` across: deadline satisfaction, and the apps counted."""
    table = Table(title=title)
    table.add_column("class")
    table.add_column("deadlines", justify="right")
    for row in limit.rows:
        table.add_column(row, justify="right")
    table.add_column("ddl lost vs alone", justify="right")
    for name, rows in limit.by_class().items():
        apps = next(iter(rows.values()))[1]
        cells = [_cell(*counts) for counts in rows.values()]
        lost = limit.lost(None if name == "all" else name)
        table.add_row(name, str(apps), *cells, str(lost))
    means = [outcome.free_mean_s for outcome in limit.rows.values()]
    cells = ["-" if mean is None else f"{mean:.1f}" for mean in means]
    table.add_row("no-deadline mean ACT, s", "", *cells, "")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--workload", default="paper-mix")
    parser.add_argument("--load", type=float, default=2.0)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--share", type=float, default=0.5)
    parser.add_argument("--scale", type=float, default=0.7)
    parser.add_argument("--policies", default="fcfs,vtc,edf,hermes-ddl,hermes-edf")
    parser.add_argument("--sheddable-share", type=float, default=DEFAULT_SHEDDABLE_SHARE)
    args = parser.parse_args()
    spec = DeadlineLimitSpec(
        args.workload,
        args.load,
        tuple(range(args.seeds)),
        args.share,
        args.scale,
        policies=tuple(args.policies.split(",")),
        sheddable_share=args.sheddable_share,
    )
    title = (
        f"{args.workload}, load {args.load:g}, {args.seeds} seeds, {args.share:.0%} of apps with "
        f"a deadline of 1.2/1.5/2 x {args.scale:g} x the class's longest run alone: deadline "
        f"satisfaction per row (headroom share {args.sheddable_share:g})"
    )
    Console(width=250).print(limit_table(measure(spec), title))


if __name__ == "__main__":
    main()
