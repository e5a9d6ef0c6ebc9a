"""Deadline satisfaction on paper-mix: Hermes-DDL against request FCFS, app FCFS, VTC and EDF.

Run: ``.venv/bin/python benchmarks/deadlines.py [--seeds 5] [--loads 1,2,3] [--shares 0.5]
[--scales 1,0.7,0.5,0.35] [--policies fcfs,app-fcfs,vtc,edf,hermes-ddl,hermes-edf]``

Hermes's deadline setup (``hermes bench --deadlines SHARE`` is the scale-0.7 case): a share of
the apps gets a deadline ``factor x scale x`` the longest duration of its class's runs alone
(``sim.lone``: measured on the workload's servers, no queueing), ``factor`` drawn from
{1.2, 1.5, 2}. One table per (share, load): per policy and scale, deadline satisfaction (the
share of apps with a deadline that finished by it, all seeds pooled) and the mean ACT of the
apps without a deadline; every policy of a seed serves the same apps.
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
from hermes_agents.sim.metrics import padded_deadlines
from hermes_agents.sim.simulator import SimResult

Cell = tuple[float | None, float | None]
"""Deadline satisfaction and the no-deadline apps' mean ACT."""


def _cells(
    folder: Path, policies: list[str], loads: list[float], seeds: int, share: float, scale: float
) -> dict[tuple[float, str], Cell]:
    """(load, policy) -> its pooled cell, at one (share, scale)."""
    workload = with_deadlines(load_workload("paper-mix"), share, scale)
    path = folder / f"paper-mix-{share}-{scale}.json"
    path.write_text(json.dumps(workload.to_dict()))
    spec = BenchSpec(str(path), tuple(policies), loads=tuple(loads), seeds=tuple(range(seeds)))
    results = run_bench(spec)
    out: dict[tuple[float, str], Cell] = {}
    for load in loads:
        for policy in policies:
            mine = [r for r in results if r.config.policy == policy and r.config.load == load]
            summary = _pooled(mine)
            out[(load, policy)] = (summary.met, summary.free_mean_s)
    return out


def _pooled(results: list[SimResult]) -> DeadlineSummary:
    act = np.concatenate([r.act_s for r in results])
    deadlines = np.concatenate([padded_deadlines(r.deadlines_s, r.act_s.size) for r in results])
    return DeadlineSummary.of(act, deadlines)


def _table(
    cells: dict[float, dict[tuple[float, str], Cell]], policies: list[str], load: float, title: str
) -> Table:
    table = Table(title=title)
    table.add_column("policy")
    for scale in cells:
        table.add_column(f"{scale:g}x: met", justify="right")
        table.add_column("no-deadline mean", justify="right")
    for policy in policies:
        row = [policy]
        for by_key in cells.values():
            met, free = by_key[(load, policy)]
            row.append("-" if met is None else f"{met:.3f}")
            row.append("-" if free is None else f"{free:.1f}")
        table.add_row(*row)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--loads", default="1,2,3")
    parser.add_argument("--shares", default="0.5")
    parser.add_argument("--scales", default="1,0.7,0.5,0.35")
    parser.add_argument("--policies", default="fcfs,app-fcfs,vtc,edf,hermes-ddl,hermes-edf")
    args = parser.parse_args()
    policies = args.policies.split(",")
    loads = [float(x) for x in args.loads.split(",")]
    console = Console(width=160)
    with tempfile.TemporaryDirectory() as folder:
        for share in (float(s) for s in args.shares.split(",")):
            cells = {
                scale: _cells(Path(folder), policies, loads, args.seeds, share, scale)
                for scale in (float(s) for s in args.scales.split(","))
            }
            for load in loads:
                title = (
                    f"paper-mix, load {load:g}, {args.seeds} seeds: {share:.0%} of apps with a "
                    "deadline of 1.2/1.5/2 x scale x the class's longest duration alone"
                )
                console.print(_table(cells, policies, load, title))


if __name__ == "__main__":
    main()
