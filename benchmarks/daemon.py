"""Daemon speed over the Unix socket: acquire + release round trip, and grants per second.

Run: ``.venv/bin/python benchmarks/daemon.py [--calls 5000] [--clients 8] [--seconds 5]``

Starts a real ``hermes serve`` process, then measures:

1. the round trip of one uncontended ``with scheduler.slot(...)`` from one client (a ``submit``
   answered by a ``grant``; the ``release`` is sent without waiting);
2. grants per second with ``--clients`` client processes looping on a backend with 4 slots;
3. what bounds them: the daemon's CPU time per grant (from /proc) and the cost of the same
   messages through ``DaemonService`` with no socket at all.

Prints one table with each figure next to its goal (issues 3 and 12). Never a pass/fail test.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from _loadgen import cpu_s, load_arguments, slot_round_trips_us
from rich.console import Console
from rich.table import Table

from hermes_agents.scheduling.core import SchedulerCore
from hermes_agents.scheduling.daemon.client import DaemonScheduler, query_status
from hermes_agents.scheduling.daemon.process import DaemonProcess
from hermes_agents.scheduling.daemon.service import DaemonService
from hermes_agents.scheduling.policies import policy_named
from hermes_agents.scheduling.state import UNLIMITED

CLIENT = textwrap.dedent(
    """
    import sys, time
    from hermes_agents.scheduling.daemon.client import DaemonScheduler
    scheduler = DaemonScheduler(sys.argv[1])
    start_at, stop_at = float(sys.argv[2]), float(sys.argv[3])
    while time.time() < start_at:
        time.sleep(0.001)
    calls = 0
    with scheduler.run("bench"):
        while time.time() < stop_at:
            with scheduler.slot("llm", stage="step"):
                calls += 1
    print(calls, scheduler.unscheduled_calls)
    """
)


def round_trips(address: str, calls: int) -> list[float]:
    """Microseconds per uncontended acquire + release from one client, inside one app run."""
    return slot_round_trips_us(DaemonScheduler(address), calls)


def grants_per_s(daemon: DaemonProcess, clients: int, seconds: float) -> tuple[float, float, int]:
    """(grants/s, daemon CPU µs per grant, unscheduled calls) with ``clients`` processes."""
    start_at = time.time() + 2.0  # every client connected and waiting before the clock starts
    stop_at = start_at + seconds
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", CLIENT, daemon.address, str(start_at), str(stop_at)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(clients)
    ]
    while time.time() < start_at:
        time.sleep(0.001)
    grants_before = _grants(daemon.address)
    cpu_before = cpu_s(daemon.pid)
    time.sleep(max(0.0, stop_at - time.time()))
    grants = _grants(daemon.address) - grants_before
    cpu = cpu_s(daemon.pid) - cpu_before
    unscheduled = 0
    for process in processes:
        out, _ = process.communicate(timeout=60)
        unscheduled += int(out.split()[1])
    return grants / seconds, cpu / max(grants, 1) * 1e6, unscheduled


def service_only_us(calls: int) -> float:
    """µs per submit + grant + release through ``DaemonService`` with no socket."""
    core = SchedulerCore({}, policy_named("gittins"), time.monotonic, default_limits=UNLIMITED)
    service = DaemonService(core)
    session = service.open(lambda data: None, lambda: None, needs_token=False)
    service.receive(session, b'{"op":"hello","version":1}')
    service.receive(session, b'{"op":"run","run":"r","app":"bench"}')
    start = time.perf_counter()
    for task in range(1, calls + 1):
        service.receive(
            session, b'{"op":"submit","task":%d,"run":"r","backend":"llm","stage":"s"}' % task
        )
        service.flush()
        service.receive(session, b'{"op":"release","task":%d,"usage":{"seconds":0.001}}' % task)
        service.flush()
    return (time.perf_counter() - start) / calls * 1e6


def _grants(address: str) -> int:
    backends = query_status(address)["backends"]
    return sum(int(b["grants"]) for b in backends if b["backend"] == "llm")


def main() -> None:
    args = load_arguments(__doc__, 5000)
    directory = Path(tempfile.mkdtemp(prefix="hermes-bench-", dir="/tmp"))
    config = directory / "hermes.toml"
    config.write_text('[backends.llm]\nkind = "llm"\nmax_concurrency = 4\n')
    # a store of its own: the user's profiles stay untouched, and every run starts cold
    store = ["--store", str(directory / "profiles.sqlite3")]
    daemon = DaemonProcess(directory / "hermes.sock", config=config, args=store).start()
    console = Console()
    try:
        with console.status("round trips from one client..."):
            times = round_trips(daemon.address, args.calls)
        with console.status(f"{args.clients} client processes for {args.seconds} s..."):
            rate, cpu_us, unscheduled = grants_per_s(daemon, args.clients, args.seconds)
        with console.status("the same messages without a socket..."):
            service_us = service_only_us(args.calls)
    finally:
        daemon.stop()
        shutil.rmtree(directory, ignore_errors=True)
    quantiles = statistics.quantiles(times, n=100)
    table = Table(title=f"hermes daemon over a Unix socket ({os.cpu_count()} CPUs)")
    for column in ("measurement", "result", "goal"):
        table.add_column(column)
    table.add_row(
        "acquire + release round trip, median", f"{statistics.median(times):.0f} µs", "<= 150 µs"
    )
    table.add_row("  p90 / p99", f"{quantiles[89]:.0f} / {quantiles[98]:.0f} µs", "")
    table.add_row(f"grants/s, {args.clients} client processes, 4 slots", f"{rate:,.0f}", ">= 5,000")
    table.add_row("  daemon CPU per grant", f"{cpu_us:.0f} µs", "")
    table.add_row("  calls that ran unscheduled", str(unscheduled), "0")
    table.add_row("DaemonService alone per grant (no socket)", f"{service_us:.1f} µs", "")
    console.print(table)
    print(
        json.dumps(
            {
                "round_trip_median_us": statistics.median(times),
                "grants_per_s": rate,
                "daemon_cpu_us_per_grant": cpu_us,
                "service_us_per_grant": service_us,
            }
        )
    )


if __name__ == "__main__":
    main()
