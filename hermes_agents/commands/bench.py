"""``hermes bench``: compare scheduling policies on a workload in the simulator.

    hermes bench --workload FILE|paper-mix --policies fcfs,plas,gittins,oracle \\
        [--prewarm off,reactive,lru,hermes] [--prewarm-k K] [--keepalive S] \\
        [--load 1,2,3] --seed N [--seeds K] --json OUT [--plot OUT.png] \\
        [--by-class] [--apps N] [--arrivals poisson|bursty] [--fanout sum|max] \\
        [--kv overlap|coupled] [--reference-batch 64]

Prints one table per load (mean, p50, p95, p99 ACT, change against ``fcfs``; with cold
backends the cold-start wait, the share of it prewarming hid, and the warm waste), pooled over
the seeds ``N .. N+K-1``; writes one JSON record per (policy, prewarm, load, seed).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import get_args

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from hermes_agents.cost import FanoutMode
from hermes_agents.errors import ValidationError
from hermes_agents.prewarm import DEFAULT_THRESHOLD
from hermes_agents.sim.arrivals import ArrivalProcess, ArrivalSpec
from hermes_agents.sim.bench import BenchSpec, app_count, load_workload, record, run_bench
from hermes_agents.sim.kv import KvMode
from hermes_agents.sim.metrics import pool
from hermes_agents.sim.plot import plot_bench
from hermes_agents.sim.policies import POLICY_NAMES
from hermes_agents.sim.prewarming import LRU_KEEPALIVE_S, PREWARM_MODES
from hermes_agents.sim.report import class_table, load_table
from hermes_agents.sim.servers import EngineShape
from hermes_agents.sim.simulator import SimResult

HELP = "compare scheduling policies on a workload in the simulator (tables, JSON, plot)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``hermes bench``."""
    add = parser.add_argument
    add("--workload", required=True, metavar="FILE|NAME", help="workload JSON or 'paper-mix'")
    add(
        "--policies",
        required=True,
        metavar="NAMES",
        help=f"comma-separated, from: {','.join(POLICY_NAMES)}",
    )
    _add_prewarm_arguments(parser)
    add(
        "--load",
        default="1",
        metavar="LOADS",
        help="comma-separated arrival-rate multipliers (default 1)",
    )
    add("--seed", required=True, type=int, metavar="N", help="first seed")
    add("--seeds", default=1, type=int, metavar="K", help="run seeds N .. N+K-1 (default 1)")
    add("--json", required=True, metavar="OUT", help="write the records here")
    add("--plot", metavar="OUT.png", help="write the ACT CDF and mean/p95 bars here")
    add("--by-class", action="store_true", help="also print mean ACT per app class")
    add(
        "--apps",
        type=int,
        metavar="N",
        help="apps per run (default: the workload's arrivals.count)",
    )
    add("--arrivals", default="poisson", metavar="PROCESS", help="poisson (default) or bursty")
    add(
        "--burst-cv",
        type=float,
        default=3.0,
        metavar="CV",
        help="bursty gaps' coefficient of variation",
    )
    add(
        "--fanout",
        default="sum",
        metavar="MODE",
        help="fan-out in ranks: sum (total work) or max (path)",
    )
    add("--kv", default="overlap", metavar="MODE", help="KV loading: overlap (CALVO) or coupled")
    add(
        "--reference-batch",
        type=int,
        default=EngineShape().reference_batch,
        metavar="N",
        help="running sequences at which an LLM step lasts the profile's decode_s_per_token",
    )


def _add_prewarm_arguments(parser: argparse.ArgumentParser) -> None:
    """``--prewarm``, ``--prewarm-k`` and ``--keepalive``."""
    add = parser.add_argument
    add(
        "--prewarm",
        default="off",
        metavar="MODES",
        help=f"comma-separated prewarm modes, from: {','.join(PREWARM_MODES)} (default off)",
    )
    add(
        "--prewarm-k",
        type=float,
        default=DEFAULT_THRESHOLD,
        metavar="K",
        help=f"hermes modes: the planner's threshold K, every rule (default {DEFAULT_THRESHOLD})",
    )
    add(
        "--keepalive",
        type=float,
        default=LRU_KEEPALIVE_S,
        metavar="S",
        help=f"lru: extra seconds a backend stays awake after use (default {LRU_KEEPALIVE_S:g})",
    )


def _prewarm_modes(text: str) -> tuple[str, ...]:
    modes = _names(text, "--prewarm")
    for mode in modes:
        _choice(mode, PREWARM_MODES, "--prewarm")
    return modes


def _names(text: str, flag: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    if not names:
        raise ValidationError("needs at least one value (comma-separated)", flag)
    return names


def _loads(text: str) -> tuple[float, ...]:
    loads = []
    for part in _names(text, "--load"):
        try:
            value = float(part)
        except ValueError:
            value = float("nan")
        if not value > 0 or value == float("inf"):
            raise ValidationError(f"{part!r} is not a number > 0; e.g. --load 1,2,3", "--load")
        loads.append(value)
    return tuple(loads)


def _choice(value: str, choices: tuple[str, ...], flag: str) -> str:
    if value not in choices:
        raise ValidationError(f"{value!r} is not one of {', '.join(choices)}", flag)
    return value


def _spec(args: argparse.Namespace) -> BenchSpec:
    """Validate the flags into a ``BenchSpec`` (every error names its flag and the fix)."""
    policies = _names(args.policies, "--policies")
    unknown = [p for p in policies if p not in POLICY_NAMES]
    if unknown:
        raise ValidationError(
            f"unknown polic{'ies' if len(unknown) > 1 else 'y'} {', '.join(unknown)}; "
            f"use names from {', '.join(POLICY_NAMES)}",
            "--policies",
        )
    for flag, value in (
        ("--seeds", args.seeds),
        ("--apps", args.apps),
        ("--reference-batch", args.reference_batch),
    ):
        if value is not None and value < 1:
            raise ValidationError(f"must be >= 1, got {value}", flag)
    process = _choice(args.arrivals, tuple(p.value for p in ArrivalProcess), "--arrivals")
    if not args.burst_cv > 0:
        raise ValidationError(f"must be > 0, got {args.burst_cv}", "--burst-cv")
    fanout_name = _choice(args.fanout, get_args(FanoutMode), "--fanout")
    fanout: FanoutMode = "max" if fanout_name == "max" else "sum"
    kv_mode = KvMode(_choice(args.kv, tuple(m.value for m in KvMode), "--kv"))
    spec = BenchSpec(
        workload=args.workload,
        policies=policies,
        loads=_loads(args.load),
        seeds=tuple(range(args.seed, args.seed + args.seeds)),
        prewarm=_prewarm_modes(args.prewarm),
        apps=args.apps,
        arrivals=ArrivalSpec(ArrivalProcess(process), args.burst_cv),
        fanout=fanout,
        engine=EngineShape(kv_mode=kv_mode, reference_batch=args.reference_batch),
        prewarm_k=args.prewarm_k,
        keepalive_s=args.keepalive,
    )
    spec.configs(spec.seeds[0])  # validates every combination before any runs
    return spec


def _outputs(args: argparse.Namespace) -> tuple[Path, Path | None]:
    out = Path(args.json)
    plot = Path(args.plot) if args.plot else None
    for path, flag in ((out, "--json"), (plot, "--plot")):
        if path is not None and not path.parent.is_dir():
            raise ValidationError(f"folder {str(path.parent)!r} does not exist; create it", flag)
    if plot is not None and plot.suffix.lower() != ".png":
        raise ValidationError(f"{str(plot)!r} must end in .png", "--plot")
    return out, plot


def _run(spec: BenchSpec, apps: int) -> list[SimResult]:
    combos = len(spec.seeds) * len(spec.loads) * len(spec.policies) * len(spec.prewarm)
    columns = (
        TextColumn("simulating"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("apps"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True)) as progress:
        task = progress.add_task("bench", total=combos * apps)
        return run_bench(spec, lambda done: progress.advance(task, done))


def main(args: argparse.Namespace) -> int:
    """Run the comparison; print the tables; write the JSON (and the plot)."""
    spec = _spec(args)
    out, plot = _outputs(args)
    workload = load_workload(spec.workload)
    results = _run(spec, app_count(spec, workload))
    pooled = pool(results)
    console = Console()
    if not console.is_terminal:  # a file or a pipe: wide enough for the per-class table
        console = Console(width=max(console.width, 160))
    for load in spec.loads:
        console.print(load_table(pooled, load))
        if args.by_class:
            console.print(class_table(pooled, load))
    runs = [record(result, workload.name) for result in results]
    out.write_text(json.dumps({"runs": runs}, indent=2) + "\n")
    console.print(f"wrote {len(runs)} records to {out}")
    if plot is not None:
        plot_bench(pooled, plot, title=f"{workload.name}: ACT by policy")
        console.print(f"wrote the plot to {plot}")
    return 0
