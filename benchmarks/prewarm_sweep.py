"""Prewarming sweep: cold-start waiting hidden vs warm waste, over K (and the baselines).

Run: ``.venv/bin/python benchmarks/prewarm_sweep.py [--load 1,2] [--seeds 5] [--apps N]
[--workload paper-mix-cold] [--policy gittins] [--plot docs/images/prewarm-tradeoff.png]``

Simulates ``off``, ``reactive``, ``lru`` (keep-alive TTL 15 s .. 300 s), and the planner in
``hermes`` (the default planner: partial credit and the arrival rule), ``hermes-partial`` (runs
in flight only) and ``hermes-plain`` (the paper's rule) for K = 0.1 .. 0.9, every setting on
the same apps per seed (``hermes_agents.sim.sweep``). Prints one row per setting (cold-start
wait hidden against ``off``, mean ACT, warm waste, hints) per load and writes the trade-off
figure (a panel per load). About 50 s per load with 5 seeds on a 2-core machine.
"""

from __future__ import annotations

import argparse
import time

from rich.console import Console
from rich.table import Table

from hermes_agents.sim.sweep import SweepRow, SweepSpec, plot_tradeoff, sweep

DEFAULT_PLOT = "docs/images/prewarm-tradeoff.png"


def table(rows: list[SweepRow], title: str) -> Table:
    """One row per setting; changes against ``off``."""
    off = rows[0]
    out = Table(title=title)
    for column in ("setting", "cold wait/app", "hidden", "mean ACT", "vs off", "warm waste"):
        out.add_column(column, justify="left" if column == "setting" else "right")
    out.add_column("extra waste", justify="right")
    out.add_column("hints", justify="right")
    out.add_column("hint waste", justify="right")
    for row in rows:
        out.add_row(
            row.label,
            f"{row.cold_wait_s:.3f}",
            "-" if row.hidden is None else f"{row.hidden:.0%}",
            f"{row.mean_act_s:.2f}",
            f"{row.mean_act_s / off.mean_act_s - 1:+.1%}",
            f"{row.warm_waste_s:.0f}",
            f"{row.warm_waste_s / off.warm_waste_s - 1:+.0%}" if off.warm_waste_s else "-",
            f"{row.hints:.0f}",
            f"{row.hint_waste_s:.0f}",
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--workload", default="paper-mix-cold")
    parser.add_argument("--policy", default="gittins")
    parser.add_argument("--load", default="1,2", help="comma-separated loads (default 1,2)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--apps", type=int, default=None, help="apps per run (default: 200)")
    parser.add_argument("--plot", default=DEFAULT_PLOT, help="where to write the PNG")
    args = parser.parse_args()
    started = time.perf_counter()
    console = Console(width=140)
    panels = {}
    for load in [float(part) for part in args.load.split(",")]:
        spec = SweepSpec(
            workload=args.workload,
            policy=args.policy,
            load=load,
            seeds=tuple(range(args.seeds)),
            apps=args.apps,
        )
        rows = panels[f"load {load:g}"] = sweep(spec)
        title = (
            f"{args.workload}, {args.policy}, load {load:g}, {args.seeds} seeds: "
            "cold-start wait (s/app), warm waste (s/run)"
        )
        console.print(table(rows, title))
    title = f"{args.workload}, {args.policy}: prewarming, latency hidden vs warm waste"
    plot_tradeoff(panels, args.plot, title=title)
    console.print(f"wrote {args.plot} ({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
