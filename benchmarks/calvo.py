"""CALVO micro-benchmark: mean TTFT under FIFO, prefill-only and load-aware ordering.

Run: ``.venv/bin/python benchmarks/calvo.py [--seeds 5] [--requests 1000] [--rate 3.5]
[--slots 4]``

The scenario and the orders are described in ``hermes_agents.sim.calvo``. Prints one row per KV
mode (loading overlapped with compute, CALVO; or coupled load-then-compute).
"""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from hermes_agents.sim.calvo import ORDERS, compare
from hermes_agents.sim.kv import KvMode


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=3.5, help="requests per second")
    parser.add_argument("--slots", type=int, default=4, help="the engine's max_concurrency")
    args = parser.parse_args()
    table = Table(
        title=f"mean TTFT (s), {args.requests} requests at {args.rate:g}/s, "
        f"{args.slots} slots, {args.seeds} seeds"
    )
    table.add_column("KV mode")
    for order in ORDERS:
        table.add_column(order, justify="right")
    table.add_column("prefill vs fifo", justify="right")
    table.add_column("load-aware vs fifo", justify="right")
    for mode in KvMode:
        ttft = compare(
            kv_mode=mode,
            seeds=args.seeds,
            requests=args.requests,
            rate_per_s=args.rate,
            max_concurrency=args.slots,
        )
        fifo = ttft["fifo"]
        table.add_row(
            str(mode),
            *(f"{ttft[order]:.3f}" for order in ORDERS),
            f"{ttft['prefill'] / fifo - 1:+.0%}",
            f"{ttft['load-aware'] / fifo - 1:+.0%}",
        )
    Console().print(table)


if __name__ == "__main__":
    main()
