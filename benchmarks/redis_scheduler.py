"""Admission through Redis on loopback beside the Unix-socket daemon, in one run.

Run: ``.venv/bin/python benchmarks/redis_scheduler.py [--calls 3000] [--clients 8] [--seconds 5]
[--threads 16] [--slots 64] [--run-calls 0]`` (about a minute)

Starts a private ``redis-server`` (no persistence) and a real ``hermes serve``, then measures
for each:

1. the admission round trip of one uncontended call from one client (``slot.enter()``: for
   Redis one ``submit`` script answered in its reply; for the daemon a ``submit`` answered by
   a ``grant``), and the whole ``with slot:`` (Redis also waits for its ``release`` script;
   the daemon's release is sent without waiting);
2. grants per second under four loads: ``--clients`` processes with one caller each on a
   backend with 4 slots (contended: most grants are pushed to a waiting process); the same
   processes with ``--threads`` callers each on a backend of ``--slots`` slots (a process's
   calls that arrive together go to Redis in one script: ``scheduling/redis/combiner.py``);
   those callers in one process; and the processes with ``--threads`` asyncio tasks each on one
   event loop (``async with``: the calls are posted, a thread of the link sends them). Each
   caller makes its calls in one app run, so that the figures are admission's (``--run-calls
   N``: in runs of N calls, each learned from and its profile written at its end, as in use);
3. what bounds them: the server's CPU per grant (redis-server or the daemon, from /proc) and
   the grants one server core could make at it, the clients' CPU per grant, the admission
   scripts per grant and Redis's own time per script (``INFO commandstats``).

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _loadgen import cpu_s, load_arguments, script_calls, start_redis

CLIENT = textwrap.dedent(
    """
    import asyncio, sys, threading, time
    kind, address, backend, threads = sys.argv[1], sys.argv[2], sys.argv[4], int(sys.argv[5])
    run_calls, on_loop = int(sys.argv[6]), sys.argv[7] == "asyncio"
    if kind == "redis":
        from hermes_agents.config import load_config
        from hermes_agents.scheduling.redis.factory import redis_scheduler
        scheduler = redis_scheduler(address, load_config(sys.argv[3]))
    else:
        from hermes_agents.scheduling.daemon.client import DaemonScheduler
        scheduler = DaemonScheduler(address)
    with scheduler.slot(backend):
        pass
    print("ready", flush=True)
    start_at, stop_at = map(float, sys.stdin.readline().split())
    counts = [0] * threads

    def caller(index):
        calls = 0
        while time.time() < stop_at:
            with scheduler.run("bench"):  # runs of run_calls calls (0: one run in all)
                for _ in range(run_calls or 1_000_000_000):
                    if time.time() >= stop_at:
                        break
                    with scheduler.slot(backend, stage="step"):
                        calls += 1
        counts[index] = calls

    async def task(index):  # the same loop as a task of one event loop
        calls = 0
        while time.time() < stop_at:
            async with scheduler.run("bench"):
                for _ in range(run_calls or 1_000_000_000):
                    if time.time() >= stop_at:
                        break
                    async with scheduler.slot(backend, stage="step"):
                        calls += 1
        counts[index] = calls

    async def tasks():
        await asyncio.gather(*(task(index) for index in range(threads)))

    while time.time() < start_at:
        time.sleep(0.001)
    cpu = time.process_time()
    if on_loop:
        asyncio.run(tasks())
    else:
        workers = [threading.Thread(target=caller, args=(i,)) for i in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    print(sum(counts), scheduler.unscheduled_calls, time.process_time() - cpu)
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


@dataclass(frozen=True)
class Load:
    """``clients`` processes, each with ``threads`` callers looping on ``backend``."""

    clients: int
    threads: int
    backend: str
    seconds: float
    run_calls: int = 0
    on_loop: bool = False
    """The callers are tasks of one asyncio event loop per process, not threads."""


def grants_per_s(
    kind: str, address: str, server_pid: int, load: Load, config: Path
) -> dict[str, float]:
    """Grants/s, server and client CPU µs per grant, unscheduled calls."""
    command = [sys.executable, "-c", CLIENT, kind, address, str(config), load.backend]
    command += [str(load.threads), str(load.run_calls), "asyncio" if load.on_loop else "threads"]
    clients, seconds = load.clients, load.seconds
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


def loads(args: argparse.Namespace) -> dict[str, Load]:
    """The four loads: one caller per process on 4 slots (most grants pushed to a waiting
    process), ``--threads`` callers per process on ``--slots`` slots (calls of one process
    arrive together: the scripts carry several), those callers in one process (no other
    client process competes for the cores), and ``--threads`` asyncio tasks per process."""
    return {
        "narrow": Load(args.clients, 1, "llm", args.seconds, args.run_calls),
        "wide": Load(args.clients, args.threads, "wide", args.seconds, args.run_calls),
        "one": Load(1, args.threads, "wide", args.seconds, args.run_calls),
        "tasks": Load(args.clients, args.threads, "wide", args.seconds, args.run_calls, True),
    }


def measure(args: argparse.Namespace, directory: Path) -> dict[str, dict[str, float]]:
    """Both schedulers, one after the other, on the same machine in the same run."""
    from hermes_agents.config import load_config
    from hermes_agents.scheduling.daemon.client import DaemonScheduler
    from hermes_agents.scheduling.daemon.process import DaemonProcess
    from hermes_agents.scheduling.redis.factory import redis_scheduler

    config = directory / "hermes.toml"
    config.write_text(
        '[backends.llm]\nkind = "llm"\nmax_concurrency = 4\n'
        f'[backends.wide]\nkind = "llm"\nmax_concurrency = {args.slots}\n'
    )
    results: dict[str, dict[str, float]] = {}
    redis_server, url = start_redis(directory)
    try:
        scheduler = redis_scheduler(url, load_config(config))
        admit, whole = round_trips(scheduler, args.calls)
        scheduler.close()
        results["redis"] = _summary(admit, whole)
        for name, load in loads(args).items():
            calls_before, usec_before = script_calls(url)
            rates = grants_per_s("redis", url, redis_server.pid, load, config)
            calls, usec = script_calls(url)
            grants = max(rates["grants_per_s"] * load.seconds, 1.0)
            rates["scripts_per_grant"] = (calls - calls_before) / grants
            rates["script_us"] = (usec - usec_before) / max(calls - calls_before, 1)
            results["redis"].update({f"{name}_{key}": value for key, value in rates.items()})
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
        for name, load in loads(args).items():
            rates = grants_per_s("daemon", daemon.address, daemon.pid, load, config)
            results["daemon"].update({f"{name}_{key}": value for key, value in rates.items()})
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


def report(results: dict[str, dict[str, float]], args: argparse.Namespace) -> None:
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
    ]
    shapes = {
        "narrow": f"{args.clients} processes x 1 caller, 4 slots",
        "wide": f"{args.clients} processes x {args.threads} callers, {args.slots} slots",
        "one": f"1 process x {args.threads} callers, {args.slots} slots",
        "tasks": f"{args.clients} processes x {args.threads} asyncio tasks, {args.slots} slots",
    }
    for name, shape in shapes.items():
        for kind in (r, d):  # what one server core could grant at this CPU per grant
            kind[f"{name}_ceiling"] = 1e6 / max(kind[f"{name}_server_cpu_us_per_grant"], 1e-9)
        rows += [
            (f"grants/s, {shape}", f"{name}_grants_per_s", "", ">= 20,000"),
            ("  server CPU per grant", f"{name}_server_cpu_us_per_grant", "µs", ""),
            ("  one server core's ceiling at that CPU", f"{name}_ceiling", "/s", ""),
            ("  client CPU per grant (all clients)", f"{name}_client_cpu_us_per_grant", "µs", ""),
            ("  admission scripts per grant", f"{name}_scripts_per_grant", "", ""),
            ("  Redis time per script", f"{name}_script_us", "µs", ""),
            ("  calls that ran unscheduled", f"{name}_unscheduled", "", "0"),
        ]
    for label, key, unit, goal in rows:
        table.add_row(label, _fmt(r.get(key), unit), _fmt(d.get(key), unit), goal)
    Console().print(table)
    print(json.dumps({**results, "load_average": os.getloadavg()}))


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f} {unit}".strip() if value >= 10 else f"{value:.1f} {unit}".strip()


def main() -> None:
    args = load_arguments(__doc__, 3000, threads=16, slots=64, **{"run-calls": 0})
    directory = Path(tempfile.mkdtemp(prefix="hermes-bench-redis-", dir="/tmp"))
    try:
        results = measure(args, directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    report(results, args)


if __name__ == "__main__":
    main()
