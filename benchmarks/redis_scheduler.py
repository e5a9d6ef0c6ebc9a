"""Admission through Redis on loopback beside the Unix-socket daemon, in one run.

Run: ``.venv/bin/python benchmarks/redis_scheduler.py [--calls 3000] [--clients 8] [--seconds 5]``

Starts a private ``redis-server`` (no persistence) and a real ``hermes serve``, then measures
for each:

1. the admission round trip of one uncontended call from one client (``slot.enter()``: for
   Redis one ``submit`` script answered in its reply; for the daemon a ``submit`` answered by
   a ``grant``), and the whole ``with slot:`` (Redis also waits for its ``release`` script;
   the daemon's release is sent without waiting);
2. grants per second with ``--clients`` client processes looping on a backend with 4 slots
   (contended: most grants are pushed to a waiting process);
3. what bounds them: the server's CPU per grant (redis-server or the daemon, from /proc), the
   clients' CPU per grant, and Redis's own time per script (``INFO commandstats``).

The title and the JSON carry the machine's load average (1, 5, 15 minutes): on a shared
machine, compare figures measured under a like load.

Prints one table with each figure next to the issue's goal, then the figures as JSON. Never a
pass/fail test: the figures depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
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
from typing import Any

from _loadgen import cpu_s, load_arguments, start_redis

CLIENT = textwrap.dedent(
    """
    import sys, time
    kind, address = sys.argv[1], sys.argv[2]
    if kind == "redis":
        from hermes_agents.config import load_config
        from hermes_agents.scheduling.redis.factory import redis_scheduler
        scheduler = redis_scheduler(address, load_config(sys.argv[3]))
    else:
        from hermes_agents.scheduling.daemon.client import DaemonScheduler
        scheduler = DaemonScheduler(address)
    with scheduler.slot("llm"):
        pass
    print("ready", flush=True)
    start_at, stop_at = map(float, sys.stdin.readline().split())
    while time.time() < start_at:
        time.sleep(0.001)
    calls, cpu = 0, time.process_time()
    with scheduler.run("bench"):
        while time.time() < stop_at:
            with scheduler.slot("llm", stage="step"):
                calls += 1
    print(calls, scheduler.unscheduled_calls, time.process_time() - cpu)
    scheduler.close()
    """
)


def round_trips(scheduler: Any, calls: int) -> tuple[list[float], list[float]]:
    """µs per admission (``enter``) and per whole slot, uncontended, from one client."""
    admit, whole = [], []
    with scheduler.run("bench"):
        for _ in range(calls):
            start = time.perf_counter_ns()
            slot = scheduler.slot("fast", stage="step")
            slot.enter()
            admitted = time.perf_counter_ns()
            slot.release()
            done = time.perf_counter_ns()
            admit.append((admitted - start) / 1e3)
            whole.append((done - start) / 1e3)
    return admit, whole


def grants_per_s(
    kind: str, address: str, server_pid: int, clients: int, seconds: float, config: Path
) -> dict[str, float]:
    """Grants/s, server and client CPU µs per grant, unscheduled calls."""
    command = [sys.executable, "-c", CLIENT, kind, address, str(config)]
    processes = [
        subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(clients)
    ]
    for process in processes:  # every client started, connected and served once
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
    start_at = time.time() + 0.5
    stop_at = start_at + seconds
    for process in processes:
        assert process.stdin is not None
        process.stdin.write(f"{start_at} {stop_at}\n")
        process.stdin.flush()
    while time.time() < start_at:
        time.sleep(0.001)
    cpu_before = cpu_s(server_pid)
    time.sleep(max(0.0, stop_at - time.time()))
    server_cpu = cpu_s(server_pid) - cpu_before
    grants = unscheduled = 0
    client_cpu = 0.0
    for process in processes:
        out, _ = process.communicate(timeout=120)
        calls, lost, cpu = out.split()
        grants, unscheduled, client_cpu = (
            grants + int(calls),
            unscheduled + int(lost),
            client_cpu + float(cpu),
        )
    per = max(grants, 1)
    return {
        "grants_per_s": grants / seconds,
        "server_cpu_us_per_grant": server_cpu / per * 1e6,
        "client_cpu_us_per_grant": client_cpu / per * 1e6,
        "unscheduled": unscheduled,
    }


def script_us(url: str) -> float:
    """Redis's own µs per admission script (``INFO commandstats``, all scripts)."""
    import redis

    stats = redis.Redis.from_url(url).info("commandstats")
    calls, usec = 0, 0.0
    for name in ("cmdstat_evalsha", "cmdstat_eval"):
        if name in stats:
            calls += int(stats[name]["calls"])
            usec += float(stats[name]["usec"])
    return usec / max(calls, 1)


def measure(args: argparse.Namespace, directory: Path) -> dict[str, dict[str, float]]:
    """Both schedulers, one after the other, on the same machine in the same run."""
    from hermes_agents.config import load_config
    from hermes_agents.scheduling.daemon.client import DaemonScheduler
    from hermes_agents.scheduling.daemon.process import DaemonProcess
    from hermes_agents.scheduling.redis.factory import redis_scheduler

    config = directory / "hermes.toml"
    config.write_text('[backends.llm]\nkind = "llm"\nmax_concurrency = 4\n')
    results: dict[str, dict[str, float]] = {}
    redis_server, url = start_redis(directory)
    try:
        scheduler = redis_scheduler(url, load_config(config))
        admit, whole = round_trips(scheduler, args.calls)
        scheduler.close()
        results["redis"] = _summary(admit, whole)
        rates = grants_per_s("redis", url, redis_server.pid, args.clients, args.seconds, config)
        results["redis"].update(rates, script_us=script_us(url))
    finally:
        redis_server.kill()
        redis_server.wait(10)
    # a store of its own: the user's profiles stay untouched, and every run starts cold
    store = ["--store", str(directory / "profiles.sqlite3")]
    daemon = DaemonProcess(directory / "hermes.sock", config=config, args=store).start()
    try:
        client = DaemonScheduler(daemon.address)
        admit, whole = round_trips(client, args.calls)
        client.close()
        results["daemon"] = _summary(admit, whole)
        rates = grants_per_s(
            "daemon", daemon.address, daemon.pid, args.clients, args.seconds, config
        )
        results["daemon"].update(rates)
    finally:
        daemon.stop()
    return results


def _summary(admit: list[float], whole: list[float]) -> dict[str, float]:
    qa, qw = statistics.quantiles(admit, n=100), statistics.quantiles(whole, n=100)
    return {
        "admit_median_us": statistics.median(admit),
        "admit_p99_us": qa[98],
        "slot_median_us": statistics.median(whole),
        "slot_p99_us": qw[98],
    }


def report(results: dict[str, dict[str, float]], clients: int) -> None:
    """The table: each figure beside the goal, Redis and the daemon side by side."""
    from rich.console import Console
    from rich.table import Table

    r, d = results["redis"], results["daemon"]
    load = "/".join(f"{value:.1f}" for value in os.getloadavg())  # the machine may be shared
    title = f"Redis on loopback beside the Unix-socket daemon ({os.cpu_count()} CPUs, load {load})"
    table = Table(title=title)
    for column in ("measurement", "Redis", "daemon", "goal (Redis)"):
        table.add_column(column)
    rows = [
        ("admission round trip, median", "admit_median_us", "µs", "<= 500 µs"),
        ("admission round trip, p99", "admit_p99_us", "µs", "<= 2,000 µs"),
        ("whole slot (admit + release), median", "slot_median_us", "µs", ""),
        ("whole slot, p99", "slot_p99_us", "µs", ""),
        (f"grants/s, {clients} processes, 4 slots", "grants_per_s", "", ">= 20,000"),
        ("  server CPU per grant", "server_cpu_us_per_grant", "µs", ""),
        ("  client CPU per grant (all clients)", "client_cpu_us_per_grant", "µs", ""),
        ("  calls that ran unscheduled", "unscheduled", "", "0"),
    ]
    for label, key, unit, goal in rows:
        table.add_row(label, _fmt(r.get(key), unit), _fmt(d.get(key), unit), goal)
    table.add_row("  Redis time per admission script", _fmt(r["script_us"], "µs"), "-", "")
    Console().print(table)
    print(json.dumps({**results, "load_average": os.getloadavg()}))


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f} {unit}".strip() if value >= 10 else f"{value:.1f} {unit}".strip()


def main() -> None:
    args = load_arguments(__doc__, 3000)
    directory = Path(tempfile.mkdtemp(prefix="hermes-bench-redis-", dir="/tmp"))
    try:
        results = measure(args, directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    report(results, args.clients)


if __name__ == "__main__":
    main()
