"""Speed and memory of the foundation: Gittins tables, rank refresh, walks, model size.

Run: ``.venv/bin/python benchmarks/foundation.py [--seed N] [--apps 10000]``

Prints one table with each figure next to its goal (issue 2). Timings are medians over
repeats on whatever machine runs it; they are never pass/fail tests.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
import tracemalloc
from collections import defaultdict
from collections.abc import Callable

import numpy as np
from rich.console import Console
from rich.table import Table

from hermes_agents import GittinsTable, Learner, RemainingDemand
from hermes_agents.pdgraph import PDGraph
from hermes_agents.pdgraph.synthetic import sample_run
from hermes_agents.workloads import builtin

Position = tuple[str, str, tuple[tuple[str, int], ...]]


def median_us(action: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``action`` in microseconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        action()
        times.append(time.perf_counter_ns() - start)
    return statistics.median(times) / 1e3


def single_query(rng: np.random.Generator) -> tuple[float, float]:
    """(median us per GittinsTable.rank on 1000 lognormal samples, build ms)."""
    samples = rng.lognormal(2.0, 1.0, 1000)
    build_ms = median_us(lambda: GittinsTable(samples), 5) / 1e3
    table = GittinsTable(samples)
    ages = rng.uniform(0, float(np.percentile(samples, 95)), 20000).tolist()
    times = []
    for age in ages:
        start = time.perf_counter_ns()
        table.rank(age)
        times.append(time.perf_counter_ns() - start)
    return statistics.median(times) / 1e3, build_ms


def active_apps(
    graphs: dict[str, PDGraph], count: int, rng: np.random.Generator
) -> list[tuple[Position, float]]:
    """``count`` apps of the mix, each frozen at a random point of a sampled run."""
    names = list(graphs)
    weights = np.array([graphs[n].weight for n in names])
    apps = []
    for index in rng.choice(len(names), size=count, p=weights / weights.sum()):
        graph = graphs[names[index]]
        run = sample_run(graph, rng)
        cut = int(rng.integers(len(run)))
        visits: dict[str, int] = defaultdict(int)
        for visit in run[: cut + 1]:
            visits[visit.stage] += 1
        done = float(rng.uniform(0, 5))
        apps.append(((graph.name, run[cut].stage, tuple(sorted(visits.items()))), done))
    return apps


def refresh(demand: dict[str, RemainingDemand], apps: list[tuple[Position, float]]) -> float:
    """Rank every app once, grouped by position (vectorised per table); seconds taken."""
    start = time.perf_counter()
    groups: dict[Position, list[float]] = defaultdict(list)
    for position, done in apps:
        groups[position].append(done)
    for (app, stage, visits), attained in groups.items():
        demand[app].ranks(stage, dict(visits), attained)
    return time.perf_counter() - start


def walk_ms(graphs: dict[str, PDGraph]) -> tuple[float, float]:
    """(median, max) ms to sample 1000 walks for a fresh (class, stage)."""
    times = []
    for graph in graphs.values():
        for stage in graph.stages:
            demand = RemainingDemand(graph, walks=1000)
            start = time.perf_counter()
            demand.samples(stage)
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3, max(times) * 1e3


def model_bytes(graph: PDGraph, rng: np.random.Generator) -> tuple[int, int]:
    """(bytes of a learner with full windows + its graph, number of stages) for one class."""
    # Every stage of the largest class is visited at least once per run: 1000 runs fill all.
    runs = [sample_run(graph, rng) for _ in range(1000)]
    gc.collect()
    tracemalloc.start()
    learner = Learner(graph.name, window=1000)
    for run in runs:
        learner.observe(run)
    learner.graph()
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return current, len(graph.stages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--apps", type=int, default=10_000)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    console = Console()
    workload = builtin("paper-mix", seed=args.seed)
    graphs = dict(workload.apps)
    cost = workload.cost_model()

    with console.status("timing single queries"):
        query_us, build_ms = single_query(rng)
    with console.status(f"placing {args.apps} apps"):
        apps = active_apps(graphs, args.apps, rng)
    demand = {name: RemainingDemand(graph, cost) for name, graph in graphs.items()}
    with console.status("rank refresh (cold: walks + tables)"):
        cold_s = refresh(demand, apps)
    with console.status("rank refresh (warm)"):
        warm_s = statistics.median(refresh(demand, apps) for _ in range(5))
    positions = len({position for position, _ in apps})
    with console.status("walks"):
        walks, slowest_walk = walk_ms(graphs)
    with console.status("model memory"):
        largest = max(graphs.values(), key=lambda g: len(g.stages))
        memory, stages = model_bytes(largest, rng)

    table = Table(title="hermes-agents foundation benchmark")
    table.add_column("what")
    table.add_column("measured", justify="right")
    table.add_column("goal", justify="right")
    table.add_row("rank query, 1000-sample table (median)", f"{query_us:.2f} us", "<= 5 us")
    table.add_row("table build, 1000 samples (median)", f"{build_ms:.1f} ms", "-")
    table.add_row(
        f"rank refresh, {args.apps} apps, warm ({positions} positions, exact)",
        f"{warm_s * 1e3:.1f} ms",
        "<= 50 ms",
    )
    table.add_row(
        "rank refresh, cold (walks + tables for every position)", f"{cold_s * 1e3:.0f} ms", "-"
    )
    table.add_row(
        "remaining demand, fresh (class, stage), 1000 walks (median / max)",
        f"{walks:.1f} / {slowest_walk:.1f} ms",
        "<= 20 ms",
    )
    table.add_row(
        f"one class model, full 1000-sample windows ({largest.name}, {stages} stages)",
        f"{memory / 1e6:.2f} MB",
        "<= 1 MB",
    )
    console.print(table)


if __name__ == "__main__":
    main()
