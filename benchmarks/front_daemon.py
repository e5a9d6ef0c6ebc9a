"""A host's daemon in front of Redis (``hermes serve --scheduler redis://...``): its speed.

Run: ``.venv/bin/python benchmarks/front_daemon.py [--calls 2000] [--clients 8] [--seconds 5]``

Starts a real ``redis-server`` (Debian's package, on a free port, no persistence) and a real
``hermes serve --scheduler redis://...`` process, then measures:

1. the round trip of one uncontended ``with scheduler.slot(...)`` from one client through the
   daemon (Unix socket, then one admission script in Redis), and the same from a process on
   Redis directly (no daemon);
2. grants per second with ``--clients`` client processes through the daemon on a backend with
   4 slots, and the daemon's CPU time per grant.

and the admission scripts per grant (``INFO commandstats``). The daemon's event loop never waits
on Redis: its calls are posted, and a thread of its Redis scheduler sends those that come
together in one script (``scheduling/redis/combiner.py``). Never a pass/fail test.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import tempfile
from pathlib import Path

from _loadgen import load_arguments, script_calls, slot_round_trips_us, start_redis
from daemon import grants_per_s, round_trips
from rich.console import Console
from rich.table import Table

from hermes_agents.scheduling.daemon.process import DaemonProcess
from hermes_agents.scheduling.redis.factory import redis_scheduler


def direct_round_trips(url: str, calls: int) -> list[float]:
    """Microseconds per uncontended acquire + release of a process on Redis directly."""
    return slot_round_trips_us(redis_scheduler(url, None), calls)


def main() -> None:
    args = load_arguments(__doc__, 2000)
    directory = Path(tempfile.mkdtemp(prefix="hermes-bench-", dir="/tmp"))
    config = directory / "hermes.toml"
    config.write_text('[backends.llm]\nkind = "llm"\nmax_concurrency = 4\n')
    redis, url = start_redis(directory)
    daemon = DaemonProcess(directory / "hermes.sock", config=config, args=["--scheduler", url])
    console = Console()
    try:
        daemon.start()
        with console.status("round trips from one client through the daemon..."):
            fronted = round_trips(daemon.address, args.calls)
        with console.status("round trips of a process on Redis directly..."):
            direct = direct_round_trips(url, args.calls)
        with console.status(f"{args.clients} client processes for {args.seconds} s..."):
            scripts_before, _ = script_calls(url)
            rate, cpu_us, unscheduled = grants_per_s(daemon, args.clients, args.seconds)
            scripts = (script_calls(url)[0] - scripts_before) / max(rate * args.seconds, 1.0)
    finally:
        daemon.stop()
        redis.kill()
        redis.wait(10)
        shutil.rmtree(directory, ignore_errors=True)
    table = Table(title=f"hermes serve in front of Redis on loopback ({os.cpu_count()} CPUs)")
    for column in ("measurement", "median", "p99"):
        table.add_column(column)
    for name, times in (("through the daemon", fronted), ("on Redis directly", direct)):
        p99 = statistics.quantiles(times, n=100)[98]
        table.add_row(
            f"acquire + release, {name}", f"{statistics.median(times):.0f} µs", f"{p99:.0f} µs"
        )
    table.add_row(f"grants/s, {args.clients} clients through the daemon", f"{rate:,.0f}", "")
    table.add_row("  daemon CPU per grant", f"{cpu_us:.0f} µs", "")
    table.add_row("  admission scripts per grant", f"{scripts:.2f}", "")
    table.add_row("  calls that ran unscheduled", str(unscheduled), "")
    console.print(table)
    print(
        json.dumps(
            {
                "fronted_round_trip_median_us": statistics.median(fronted),
                "direct_round_trip_median_us": statistics.median(direct),
                "grants_per_s": rate,
                "daemon_cpu_us_per_grant": cpu_us,
                "scripts_per_grant": scripts,
                "unscheduled": unscheduled,
            }
        )
    )


if __name__ == "__main__":
    main()
