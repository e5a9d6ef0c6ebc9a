"""In-process scheduler speed: acquire + release round trip, and grants per second.

Run: ``.venv/bin/python benchmarks/scheduler.py [--calls 20000]``

Prints one table with each figure next to its goal (issues 3 and 12). Medians on whatever
machine runs it; never a pass/fail test.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from _loadgen import slot_round_trips_us
from rich.console import Console
from rich.table import Table

from hermes_agents.scheduling import BackendLimits
from hermes_agents.scheduling.runtime import LocalScheduler


def sync_round_trips(calls: int) -> list[float]:
    """Microseconds per uncontended ``with scheduler.slot(...)`` inside one app run."""
    return slot_round_trips_us(LocalScheduler.in_process({"fast": BackendLimits(4)}), calls)


def contended_grants_per_s(apps: int, calls_per_app: int) -> float:
    """Grants per second with ``apps`` asyncio apps contending for 4 slots."""
    scheduler = LocalScheduler.in_process({"llm": BackendLimits(4)})

    async def app(index: int) -> None:
        async with scheduler.run(f"app{index % 9}"):
            for _ in range(calls_per_app):
                async with scheduler.slot("llm", stage="step"):
                    await asyncio.sleep(0)

    async def main() -> None:
        await asyncio.gather(*(app(i) for i in range(apps)))

    start = time.perf_counter()
    asyncio.run(main())
    return apps * calls_per_app / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args()
    console = Console()
    with console.status("uncontended round trips"):
        times = sync_round_trips(args.calls)
    with console.status("contended asyncio grants"):
        rate = contended_grants_per_s(200, max(1, args.calls // 200))
    table = Table(title="hermes-agents in-process scheduler")
    table.add_column("what")
    table.add_column("measured", justify="right")
    table.add_column("goal", justify="right")
    median = statistics.median(times)
    table.add_row("acquire + release, in-process (median)", f"{median:.1f} us", "<= 10 us")
    table.add_row("grants/s, one thread, uncontended", f"{1e6 / median:,.0f}", ">= 20,000")
    table.add_row("grants/s, 200 asyncio apps on 4 slots", f"{rate:,.0f}", "-")
    console.print(table)


if __name__ == "__main__":
    main()
