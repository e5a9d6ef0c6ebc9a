"""``hermes bench``: compare scheduling policies on a workload in the simulator.

    hermes bench [--workload FILE|paper-mix] [--policies fcfs,plas,gittins,oracle] \\
        [--prewarm off,reactive,lru,hermes] [--prewarm-k K] [--keepalive S] \\
        [--load 1,2,3] [--seed 0] [--seeds 3] [--json OUT] [--plot OUT.png] \\
        [--by-class] [--apps N] [--arrivals poisson|bursty] [--fanout sum|max] \\
        [--kv overlap|coupled] [--reference-batch 64] \\
        [--hosts N] [--coordinator-rtt-ms 0.1,1,20] \\
        [--capacity 8,16,64,auto,engine,both] [--engine-seqs N] [--engine-kv TOKENS] \\
        [--engine-queue fcfs|priority] [--preempt off|kv|batch] [--preempt-cost recompute|swap]

Prints one table per load: mean, p50, p95, p99 app completion time (ACT, seconds) over the
apps of the seeds ``N .. N+K-1`` pooled, with the standard deviation of each seed's own mean and
p95 across the seeds, and the change against ``fcfs`` (with cold backends also the cold-start
wait, the share of it prewarming hid, and the warm waste). ``--json`` writes one record per
(policy, prewarm, load, seed); ``--plot`` the ACT CDFs and mean/p95 bars. With ``--hosts`` or
``--coordinator-rtt-ms``, each policy runs with the single scheduler and over N hosts sharing
one scheduler a round trip away (``hermes_agents.commands.bench_hosts``). The engine flags give
LLM backends an engine with its own limits; ``--capacity`` compares client windows, ``auto``,
engine priority and both (``hermes_agents.commands.bench_capacity``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, get_args

from hermes_agents.commands import bench_capacity, bench_hosts
from hermes_agents.commands.bench_output import write_runs
from hermes_agents.commands.console import console
from hermes_agents.cost import FanoutMode
from hermes_agents.errors import ValidationError, did_you_mean
from hermes_agents.extras import require
from hermes_agents.prewarm import DEFAULT_THRESHOLD
from hermes_agents.sim.arrivals import ArrivalProcess, ArrivalSpec
from hermes_agents.sim.bench import BenchSpec, app_count, load_workload, record, run_bench
from hermes_agents.sim.deadline_report import shows_tiers, tier_table
from hermes_agents.sim.kv import KvMode
from hermes_agents.sim.metrics import pool
from hermes_agents.sim.plot import plot_bench
from hermes_agents.sim.policies import POLICY_NAMES, is_policy_name
from hermes_agents.sim.prewarming import LRU_KEEPALIVE_S, PREWARM_MODES
from hermes_agents.sim.report import class_table, load_table
from hermes_agents.sim.servers import EngineShape
from hermes_agents.sim.simulator import SimResult

if TYPE_CHECKING:
    from rich.console import Console

HELP = "compare scheduling policies on a workload in the simulator (tables, JSON, plot)"
EXAMPLES = """\
examples:
  hermes bench                                   # paper-mix, fcfs,plas,gittins,oracle, 3 seeds
  hermes bench --load 1,2 --by-class --plot bench.png
  hermes bench --workload paper-mix-cold --policies fcfs,gittins --prewarm off,hermes
  hermes bench --workload my-apps.json --seeds 5 --json runs.json
  hermes bench --policies fcfs,app-fcfs,vtc,edf,hermes-ddl --deadlines 0.5 --load 2
  hermes bench --policies gittins --hosts 100 --coordinator-rtt-ms 0.1,1,20 --seeds 1
  hermes bench --engine-seqs 16 --capacity 8,16,64,auto,engine,both --policies fcfs,gittins
"""
DEFAULT_POLICIES = "fcfs,plas,gittins,oracle"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``hermes bench``."""
    add = parser.add_argument
    add(
        "--workload",
        default="paper-mix",
        metavar="FILE|NAME",
        help="a workload JSON file, or a built-in: paper-mix, paper-mix-cold, agents-kv",
    )
    add(
        "--policies",
        default=DEFAULT_POLICIES,
        metavar="NAMES",
        help=f"comma-separated, from: {','.join(POLICY_NAMES)}",
    )
    _add_prewarm_arguments(parser)
    bench_capacity.add_arguments(parser)
    add(
        "--load",
        default="1",
        metavar="LOADS",
        help="comma-separated arrival-rate multipliers",
    )
    add("--seed", default=0, type=int, metavar="N", help="first seed")
    add(
        "--seeds",
        default=3,
        type=int,
        metavar="K",
        help="run seeds N .. N+K-1; the tables show the spread across them",
    )
    add("--json", metavar="OUT", help="write one JSON record per policy, load and seed here")
    add("--plot", metavar="OUT.png", help="write the ACT CDF and mean/p95 bars here")
    add("--by-class", action="store_true", help="also print mean ACT per app class")
    add(
        "--deadlines",
        type=float,
        metavar="SHARE",
        help="give this share of every class's runs a deadline, Hermes's setup: 1.2, 1.5 or 2 "
        "x 0.7 x the class's longest duration alone (default: the workload's own)",
    )
    add(
        "--apps",
        type=int,
        metavar="N",
        help="apps per run (default: the workload's arrivals.count)",
    )
    add("--arrivals", default="poisson", metavar="PROCESS", help="poisson or bursty")
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
    add(
        "--hosts",
        type=int,
        metavar="N",
        help="spread the apps over N hosts sharing one scheduler (Redis); default 100 with "
        "--coordinator-rtt-ms",
    )
    add(
        "--coordinator-rtt-ms",
        metavar="MS",
        help="comma-separated round trips from a host to the shared scheduler; each runs "
        "beside the single scheduler (default with --hosts: 0.1,0.5,1,2,5,10,20)",
    )


def _add_prewarm_arguments(parser: argparse.ArgumentParser) -> None:
    """``--prewarm``, ``--prewarm-k`` and ``--keepalive``."""
    add = parser.add_argument
    add(
        "--prewarm",
        default="off",
        metavar="MODES",
        help=f"comma-separated prewarm modes, from: {','.join(PREWARM_MODES)}",
    )
    add(
        "--prewarm-k",
        type=float,
        default=DEFAULT_THRESHOLD,
        metavar="K",
        help="hermes modes: the planner's threshold K, every rule",
    )
    add(
        "--keepalive",
        type=float,
        default=LRU_KEEPALIVE_S,
        metavar="S",
        help="lru: extra seconds a backend stays awake after use",
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
        raise ValidationError(
            f"{value!r} is not one of {', '.join(choices)}{did_you_mean(value, choices)}", flag
        )
    return value


def _spec(args: argparse.Namespace) -> BenchSpec:
    """Validate the flags into a ``BenchSpec`` (every error names its flag and the fix)."""
    policies = _names(args.policies, "--policies")
    unknown = [p for p in policies if not is_policy_name(p)]
    if unknown:
        raise ValidationError(
            f"unknown polic{'ies' if len(unknown) > 1 else 'y'} {', '.join(unknown)}"
            f"{did_you_mean(unknown[0], POLICY_NAMES)}; use names from {', '.join(POLICY_NAMES)}",
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
        deadlines=_share(args.deadlines),
    )
    spec.configs(spec.seeds[0])  # validates every combination before any runs
    return spec


def _share(value: float | None) -> float | None:
    if value is not None and not 0 < value <= 1:
        raise ValidationError(f"must be a share in (0, 1], got {value}; e.g. 0.5", "--deadlines")
    return value


def _outputs(args: argparse.Namespace) -> tuple[Path | None, Path | None]:
    out = Path(args.json) if args.json else None
    plot = Path(args.plot) if args.plot else None
    for path, flag in ((out, "--json"), (plot, "--plot")):
        if path is not None and not path.parent.is_dir():
            raise ValidationError(f"folder {str(path.parent)!r} does not exist; create it", flag)
    if plot is not None and plot.suffix.lower() != ".png":
        raise ValidationError(f"{str(plot)!r} must end in .png", "--plot")
    return out, plot


def _run(spec: BenchSpec, apps: int, progress_console: Console) -> list[SimResult]:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    combos = len(spec.seeds) * len(spec.configs(spec.seeds[0]))
    columns = (
        TextColumn("simulating"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("apps"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=progress_console) as progress:
        task = progress.add_task("bench", total=combos * apps)
        return run_bench(spec, lambda done: progress.advance(task, done))


def main(args: argparse.Namespace) -> int:
    """Run the comparison; print the tables; write the JSON and the plot when asked."""
    require("cli")
    spec = _spec(args)
    json_path, plot = _outputs(args)
    spec = bench_capacity.with_engine(spec, args)
    compared = bench_capacity.capacity_spec(spec, args.capacity, plot)
    if compared is not None:
        return bench_capacity.main(compared, json_path, _run)
    spread = bench_hosts.hosts_spec(spec, args.hosts, args.coordinator_rtt_ms, plot)
    if spread is not None:
        return bench_hosts.main(spread, json_path, _run)
    workload = load_workload(spec.workload)
    results = _run(spec, app_count(spec, workload), console(stderr=True))
    pooled = pool(results)
    out = console()
    for load in spec.loads:
        out.print(load_table(pooled, load))
        if args.by_class:
            out.print(class_table(pooled, load))
        if shows_tiers(pooled):
            out.print(tier_table(pooled, load))
    if json_path is not None:
        write_runs(out, json_path, [record(result, workload.name) for result in results])
    if plot is not None:
        plot_bench(pooled, plot, title=f"{workload.name}: app completion time (ACT) by policy")
        out.print(f"wrote the plot to {plot}")
    return 0
