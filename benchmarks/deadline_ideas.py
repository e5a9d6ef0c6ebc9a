"""Orders beyond least slack for the number of deadlines met: each idea of issue 17, measured.

Run: ``.venv/bin/python benchmarks/deadline_ideas.py [--load 2] [--seeds 5]`` (about a
minute for paper-mix at load 2 on 2 cores, most of it measuring the bases alone)

The rows and how each is measured are in ``hermes_agents.sim.deadline_ideas``: clairvoyant
orders first (blends of least slack and shortest remaining first, earlier and later late
rules, Moore-Hodgson sacrifice, a smaller window, the deadline apps alone), then the
realistic ``hermes-ddl`` variants. Every row serves the same apps (Hermes's deadline setup:
half of them with a deadline of 1.2 / 1.5 / 2 x 0.7 x the class's longest run alone). The
target (issue 17, load 2): ``hermes-ddl`` >= 0.85.
"""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from hermes_agents.sim.deadline_ideas import DeadlineIdeasSpec, measure_deadline_ideas

CLASSES = ("factool_kbqa", "factool_code", "langchain_mapreduce")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--workload", default="paper-mix")
    parser.add_argument("--load", type=float, default=2.0)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    spec = DeadlineIdeasSpec(args.workload, args.load, tuple(range(args.seeds)))
    rows = measure_deadline_ideas(spec)
    table = Table(
        title=f"{args.workload}, load {args.load:g}, {args.seeds} seeds, Hermes's deadlines: "
        "deadline satisfaction per order"
    )
    for column in ("row", "all", *CLASSES, "no-deadline mean ACT, s"):
        table.add_column(column, justify="left" if column == "row" else "right")
    for name, outcome in rows.items():
        shares = []
        for app in CLASSES:
            met, apps = outcome.counts(app)
            shares.append(f"{met / apps:.3f}" if apps else "-")
        free = outcome.free_mean_s
        table.add_row(name, f"{outcome.met:.3f}", *shares, "-" if free is None else f"{free:.1f}")
    Console(width=200).print(table)


if __name__ == "__main__":
    main()
