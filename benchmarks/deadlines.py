"""Deadline satisfaction on paper-mix: Hermes-DDL against request FCFS, app FCFS, VTC and EDF.

Run: ``.venv/bin/python benchmarks/deadlines.py [--seeds 5] [--load 2] [--shares 0.5,1]
[--scales 0.7,0.35] [--policies fcfs,app-fcfs,vtc,edf,least-slack,hermes-ddl,hermes-edf,gittins]``

Hermes's deadline setup (``hermes bench --deadlines SHARE`` is the scale-0.7 case): a share of
the apps gets a deadline ``factor x scale x`` the longest duration of its class's PDGraph
duration distribution, ``factor`` drawn from {1.2, 1.5, 2}. One table per (share, scale): per
policy, deadline satisfaction (the share of apps with a deadline that finished by it, all
seeds pooled, with its lowest seed), the mean ACT of the apps without a deadline, and the mean
and p95 ACT of all apps.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from hermes_agents.sim.bench import BenchSpec, load_workload, run_bench
from hermes_agents.sim.deadline_metrics import DeadlineSummary
from hermes_agents.sim.deadlines import with_deadlines
from hermes_agents.sim.metrics import pool


def _table(workload: Path, policies: list[str], load: float, seeds: int, title: str) -> Table:
    spec = BenchSpec(str(workload), tuple(policies), loads=(load,), seeds=tuple(range(seeds)))
    results = run_bench(spec)
    table = Table(title=title)
    for column in ("policy", "deadline met", "lowest seed", "no-deadline mean", "mean", "p95"):
        table.add_column(column, justify="left" if column == "policy" else "right")
    for key, row in pool(results).items():
        summary = DeadlineSummary.of(row.act_s, row.deadlines_s)
        per_seed = [
            DeadlineSummary.of(r.act_s, r.deadlines_s).met
            for r in results
            if r.config.policy == key[0]
        ]
        free = "-" if summary.free_mean_s is None else f"{summary.free_mean_s:.1f}"
        table.add_row(
            key[0],
            f"{summary.met:.3f}" if summary.met is not None else "-",
            f"{min(m for m in per_seed if m is not None):.3f}",
            free,
            f"{row.summary.mean_s:.1f}",
            f"{np.percentile(row.act_s, 95):.1f}",
        )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--load", type=float, default=2.0)
    parser.add_argument("--shares", default="0.5,1")
    parser.add_argument("--scales", default="0.7,0.35")
    parser.add_argument(
        "--policies", default="fcfs,app-fcfs,vtc,edf,least-slack,hermes-ddl,hermes-edf,gittins"
    )
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as folder:
        for scale in (float(s) for s in args.scales.split(",")):
            for share in (float(s) for s in args.shares.split(",")):
                workload = with_deadlines(load_workload("paper-mix"), share, scale)
                path = Path(folder) / f"paper-mix-{share}-{scale}.json"
                path.write_text(json.dumps(workload.to_dict()))
                title = (
                    f"paper-mix, load {args.load:g}, {args.seeds} seeds: {share:.0%} of apps "
                    f"with a deadline of 1.2/1.5/2 x {scale:g} x the class's longest duration"
                )
                console.print(_table(path, args.policies.split(","), args.load, args.seeds, title))


if __name__ == "__main__":
    main()
