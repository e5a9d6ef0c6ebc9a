"""CALVO micro-benchmark: mean TTFT under FIFO, prefill-only and load-aware ordering, and TTFT
SLO attainment under FIFO, prefill-only SJF, EDF and load-aware least slack.

Run: ``.venv/bin/python benchmarks/calvo.py [--seeds 5] [--requests 1000] [--rate 3.5]
[--slots 4] [--slo-rates 2.5,3,3.5] [--slo-slots 1]``

The scenario and the orders are described in ``hermes_agents.sim.calvo``. The first table has
one row per KV mode (loading overlapped with compute, CALVO; or coupled load-then-compute); the
second one row per arrival rate (KV overlapped), with each request's SLO its interference-free
TTFT times 2, 4 or 8.
"""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from hermes_agents.sim.calvo import ORDERS, SLO_ORDERS, compare, compare_slo
from hermes_agents.sim.kv import KvMode


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=3.5, help="requests per second")
    parser.add_argument("--slots", type=int, default=4, help="the engine's max_concurrency")
    parser.add_argument("--slo-rates", default="2.5,3,3.5", help="SLO table: requests per s")
    parser.add_argument("--slo-slots", type=int, default=1, help="SLO table: max_concurrency")
    args = parser.parse_args()
    title = f"mean TTFT (s), {args.requests} requests at {args.rate:g}/s, "
    title += f"{args.slots} slots, {args.seeds} seeds"
    table = _table(title, "KV mode", (*ORDERS, "prefill vs fifo", "load-aware vs fifo"))
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
    Console().print(_slo_table(args))


def _slo_table(args: argparse.Namespace) -> Table:
    """TTFT SLO attainment per order, one row per arrival rate."""
    title = f"TTFT SLO attainment, {args.requests} requests, {args.slo_slots} slot(s), "
    title += f"{args.seeds} seeds; SLO = interference-free TTFT x 2, 4 or 8"
    columns = (*SLO_ORDERS, "least-slack - edf", "least-slack vs fifo")
    table = _table(title, "requests/s", columns)
    for rate in (float(part) for part in args.slo_rates.split(",")):
        met = compare_slo(
            seeds=args.seeds,
            requests=args.requests,
            rate_per_s=rate,
            max_concurrency=args.slo_slots,
        )
        table.add_row(
            f"{rate:g}",
            *(f"{met[order]:.1%}" for order in SLO_ORDERS),
            f"{(met['least-slack'] - met['edf']) * 100:+.1f} pts",
            f"{met['least-slack'] / met['fifo'] - 1:+.0%}",
        )
    return table


def _table(title: str, first: str, right: tuple[str, ...]) -> Table:
    """A table titled ``title``: the ``first`` column, then the ``right``-justified ones."""
    table = Table(title=title)
    table.add_column(first)
    for name in right:
        table.add_column(name, justify="right")
    return table


if __name__ == "__main__":
    main()
