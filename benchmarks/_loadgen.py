"""What the load benchmarks (``daemon.py``, ``redis_scheduler.py``, ``front_daemon.py``)
share: their flags, a process's CPU time from /proc, a private redis-server and the scripts it
ran, and the uncontended slot round trip. Imported by those scripts from their own folder."""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any


def load_arguments(doc: str, calls: int, **more: int) -> argparse.Namespace:
    """``--calls`` (default ``calls``), ``--clients``, ``--seconds`` and one integer flag per
    keyword of ``more`` (its value the default), parsed; the description is ``doc``'s first
    paragraph."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=calls)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    for name, default in more.items():
        parser.add_argument(f"--{name}", type=int, default=default)
    return parser.parse_args()


def cpu_s(pid: int) -> float:
    """User + system CPU seconds process ``pid`` has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_redis(directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A private redis-server (Debian's package) on a free loopback port, without persistence,
    answering PING; its process and URL."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--dir", str(directory)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return process, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.02)
    process.kill()
    raise RuntimeError("redis-server did not start")


def slot_round_trips_us(scheduler: Any, calls: int) -> list[float]:
    """Microseconds per uncontended ``with scheduler.slot(...)`` (acquire + release), ``calls``
    times inside one app run; closes ``scheduler``."""
    times = []
    with scheduler.run("bench"):
        for _ in range(calls):
            start = time.perf_counter_ns()
            with scheduler.slot("fast", stage="step"):
                pass
            times.append((time.perf_counter_ns() - start) / 1e3)
    scheduler.close()
    return times


def script_calls(url: str) -> tuple[int, float]:
    """Admission scripts Redis has run and its µs in them (``INFO commandstats``)."""
    import redis

    stats = redis.Redis.from_url(url).info("commandstats")
    calls, usec = 0, 0.0
    for name in ("cmdstat_evalsha", "cmdstat_eval"):
        if name in stats:
            calls += int(stats[name]["calls"])
            usec += float(stats[name]["usec"])
    return calls, usec
