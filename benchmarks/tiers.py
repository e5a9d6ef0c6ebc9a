"""Tiers under a burst: the critical tier's P95 ACT with and without a burst of sheddable apps.

Run: ``.venv/bin/python benchmarks/tiers.py [--seeds 3] [--apps 200] [--burst 100]
[--burst-at 300] [--policies fcfs,gittins,gittins+tiers]``

The scenario is described in ``hermes_agents.sim.tiers``: paper-mix apps in the critical tier
at load 1, and the same apps again with ``--burst`` sheddable batch apps arriving at once at
``--burst-at`` seconds. One row per policy and seed, then the mean change per policy.
"""

from __future__ import annotations

import argparse

import numpy as np
from rich.console import Console
from rich.table import Table

from hermes_agents.sim.tiers import burst_effect


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--apps", type=int, default=200)
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--burst-at", type=float, default=300.0)
    parser.add_argument("--policies", default="fcfs,gittins,gittins+tiers")
    args = parser.parse_args()
    table = Table(
        title=f"critical tier ACT (s), {args.apps} critical apps, burst of {args.burst} "
        f"sheddable apps at {args.burst_at:g} s"
    )
    for column in ("policy", "seed", "p95 quiet", "p95 burst", "p95 change", "mean quiet"):
        table.add_column(column, justify="left" if column == "policy" else "right")
    for column in ("mean burst", "sheddable mean"):
        table.add_column(column, justify="right")
    for policy in args.policies.split(","):
        changes = []
        for seed in range(args.seeds):
            r = burst_effect(
                policy, apps=args.apps, burst=args.burst, burst_at_s=args.burst_at, seed=seed
            )
            changes.append(r.p95_change)
            table.add_row(
                policy,
                str(seed),
                f"{r.quiet_p95_s:.1f}",
                f"{r.burst_p95_s:.1f}",
                f"{r.p95_change:+.1%}",
                f"{r.quiet_mean_s:.1f}",
                f"{r.burst_mean_s:.1f}",
                f"{r.sheddable_mean_s:.1f}",
            )
        table.add_row(policy, "mean", "", "", f"{np.mean(changes):+.1%}", "", "", "")
    Console().print(table)


if __name__ == "__main__":
    main()
