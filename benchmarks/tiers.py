"""Tiers under a burst: the critical tier's P95 ACT with and without a burst of sheddable apps.

Run: ``.venv/bin/python benchmarks/tiers.py [--seeds 5] [--apps 200] [--burst 100]
[--burst-at 300] [--load 1] [--policies fcfs,gittins,gittins+tiers] [--shares 1,0.25,0.125]
[--enforce client|engine|both] [--cap N]``

The scenario is described in ``hermes_agents.sim.tiers``: paper-mix apps in the critical tier
at ``--load``, and the same apps again with ``--burst`` sheddable batch apps arriving at once at
``--burst-at`` seconds. ``--shares``: the headroom rule's ``sheddable_share`` on every backend
(``hermes_agents.scheduling.reserve``; 1: no headroom), for ``+tiers`` policies (the others
ignore tiers). ``--enforce engine|both``: LLM order also enforced by a bounded engine (16
sequences, priority queue, preempting for a better waiting call), with client window
``--cap`` in ``both``. One row per policy, share and seed, then per policy and share the mean
and worst change and the mean ACT of the sheddable apps (what the headroom costs them).
"""

from __future__ import annotations

import argparse

import numpy as np
from rich.console import Console
from rich.table import Table

from hermes_agents.engine_limits import EngineLimits, Preempt, Queueing
from hermes_agents.scheduling.policies import TIERS_SUFFIX
from hermes_agents.sim.enforce import Capacity
from hermes_agents.sim.servers import EngineShape
from hermes_agents.sim.tiers import BurstEffect, burst_effect

COLUMNS = ("policy", "share", "seed", "p95 quiet", "p95 burst", "p95 change", "mean quiet")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--apps", type=int, default=200)
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--burst-at", type=float, default=300.0)
    parser.add_argument("--load", type=float, default=1.0)
    parser.add_argument("--policies", default="fcfs,gittins,gittins+tiers")
    parser.add_argument("--shares", default="1,0.25,0.125")
    parser.add_argument("--enforce", choices=("client", "engine", "both"), default="client")
    parser.add_argument("--cap", type=int, default=32)
    args = parser.parse_args()
    table = Table(
        title=f"critical tier ACT (s), {args.apps} critical apps, burst of {args.burst} "
        f"sheddable apps at {args.burst_at:g} s, load {args.load:g}, enforce {args.enforce}"
    )
    for column in (*COLUMNS, "mean burst", "sheddable mean"):
        table.add_column(column, justify="left" if column == "policy" else "right")
    shares = [float(share) for share in args.shares.split(",")]
    for policy in args.policies.split(","):
        for share in shares if policy.endswith(TIERS_SUFFIX) else [1.0]:
            results = [_run(args, policy, share, seed) for seed in range(args.seeds)]
            _add_rows(table, policy, share, results)
    Console().print(table)


def _run(args: argparse.Namespace, policy: str, share: float, seed: int) -> BurstEffect:
    capacity, engine = None, None
    if args.enforce != "client":
        capacity = Capacity(args.enforce, None if args.enforce == "engine" else args.cap)
        limits = EngineLimits(max_num_seqs=16, scheduling=Queueing.PRIORITY, preempt=Preempt.BATCH)
        engine = EngineShape(limits=limits)
    return burst_effect(
        policy,
        apps=args.apps,
        burst=args.burst,
        burst_at_s=args.burst_at,
        load=args.load,
        seed=seed,
        sheddable_share=share,
        capacity=capacity,
        engine=engine,
    )


def _add_rows(table: Table, policy: str, share: float, results: list[BurstEffect]) -> None:
    label = "-" if not policy.endswith(TIERS_SUFFIX) else f"{share:g}"
    for seed, r in enumerate(results):
        table.add_row(
            policy,
            label,
            str(seed),
            f"{r.quiet_p95_s:.1f}",
            f"{r.burst_p95_s:.1f}",
            f"{r.p95_change:+.1%}",
            f"{r.quiet_mean_s:.1f}",
            f"{r.burst_mean_s:.1f}",
            f"{r.sheddable_mean_s:.1f}",
        )
    changes = [r.p95_change for r in results]
    sheddable = np.mean([r.sheddable_mean_s for r in results])
    table.add_row(
        policy,
        label,
        "mean",
        "",
        "",
        f"{np.mean(changes):+.1%} (worst {max(changes):+.1%})",
        "",
        "",
        f"{sheddable:.1f}",
        end_section=True,
    )


if __name__ == "__main__":
    main()
