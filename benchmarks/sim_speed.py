"""Simulator speed: 10,000 paper-mix apps under one policy (issue 4: <= 60 s).

Run: ``.venv/bin/python benchmarks/sim_speed.py [--apps 10000] [--policy gittins] [--load 1]
[--profile]``

Times drawing the apps and simulating them separately; ``--profile`` adds a cProfile of the
whole run (top functions by own time). Wall times on whatever machine runs it; never a test.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import time

from rich.console import Console
from rich.table import Table

from hermes_agents.sim import ArrivalSpec, ProfiledModels, SimConfig, draw_plans, simulate
from hermes_agents.sim.simulator import scheduler_cost
from hermes_agents.workloads import builtin


def run(apps: int, policy: str, load: float, seed: int) -> dict[str, float]:
    """Draw and simulate ``apps`` paper-mix apps; the seconds each part took, and the ACT."""
    workload = builtin("paper-mix")
    config = SimConfig(policy=policy, load=load, seed=seed, apps=apps)
    cost = scheduler_cost(workload, config.fanout)
    started = time.perf_counter()
    plans = draw_plans(workload, apps, seed, ArrivalSpec(), cost)
    drawn = time.perf_counter()
    result = simulate(workload, config, plans=plans, models=ProfiledModels(workload.apps, cost))
    done = time.perf_counter()
    return {
        "draw_s": drawn - started,
        "simulate_s": done - drawn,
        "total_s": done - started,
        "events": float(result.events),
        "calls": float(sum(plan.calls for plan in plans)),
        "mean_act_s": float(result.act_s.mean()),
        "makespan_s": result.makespan_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--apps", type=int, default=10_000)
    parser.add_argument("--policy", default="gittins")
    parser.add_argument("--load", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the run")
    args = parser.parse_args()
    console = Console()
    profiler = cProfile.Profile() if args.profile else None
    with console.status(f"simulating {args.apps} apps under {args.policy}"):
        if profiler is not None:
            profiler.enable()
        figures = run(args.apps, args.policy, args.load, args.seed)
        if profiler is not None:
            profiler.disable()
    table = Table(title=f"paper-mix, {args.apps} apps, {args.policy}, load {args.load:g}")
    table.add_column("what")
    table.add_column("measured", justify="right")
    table.add_column("goal", justify="right")
    table.add_row("draw the apps (s)", f"{figures['draw_s']:.1f}", "")
    table.add_row("simulate (s)", f"{figures['simulate_s']:.1f}", "")
    table.add_row("total (s)", f"{figures['total_s']:.1f}", "<= 60")
    table.add_row("calls / events", f"{figures['calls']:,.0f} / {figures['events']:,.0f}", "")
    table.add_row(
        "mean ACT / makespan (s)", f"{figures['mean_act_s']:.1f} / {figures['makespan_s']:,.0f}", ""
    )
    console.print(table)
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(20)
        console.print(out.getvalue(), markup=False, highlight=False)


if __name__ == "__main__":
    main()
