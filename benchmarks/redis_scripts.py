"""Redis's own cost of each admission script, contended, without any client process in the way.

Run: ``.venv/bin/python benchmarks/redis_scripts.py [--grants 3000] [--share 1.0]``

Starts a private ``redis-server`` (no persistence) and drives the real scripts
(``hermes_agents/scheduling/redis/lua``) from this one process as 8 processes would on a
backend of 4 slots with the wait bound on: each grant is one ``release`` (an ``exchange`` that
ends one ticket and admits a queued one, pushed to its process's list) and one ``submit`` (an
``exchange`` that queues one). Prints, per script:

1. Redis's µs per call from ``INFO commandstats`` (nothing else logged);
2. from a second pass with ``SLOWLOG`` logging every command: the median and mean µs per call,
   and how many commands each one ran inside (``SLOWLOG`` adds a little to each).

Never a pass/fail test: the figures depend on the machine and on what else runs on it (the
load average is printed beside them).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from pathlib import Path
from typing import Any

from _loadgen import start_redis

from hermes_agents.scheduling.redis.keys import BackendKeys
from hermes_agents.scheduling.redis.scripts import Scripts

PROCESSES = 8
SLOTS = 4


class Backend:
    """The scripts of one backend, called as ``PROCESSES`` processes would (see the docstring)."""

    def __init__(self, client: Any, share: str = "1.0") -> None:
        self.scripts = Scripts(client)
        self.share = share
        self.keys = BackendKeys("llm")
        self.epoch = ""
        self.running: list[tuple[int, str]] = []
        for process in range(PROCESSES):
            self.submit(process)

    def args(self, process: int) -> list[str]:
        """The scripts' common arguments: 10 s lease, the slots, a 30 s wait bound, the
        tiers' headroom (``--share``; 30 s window)."""
        lease = [f"bench-{process}", "10000", str(SLOTS), "0", "30000", "600000"]
        return [*lease, self.share, "30000", self.epoch]

    def submit(self, process: int) -> None:
        """Queue a ticket of ``process`` (granted at once while a slot is free)."""
        reply = self.scripts.submit(
            self.keys.script_keys, [*self.args(process), "1.0", "0", "standard", "b"]
        )
        self.epoch = reply.epoch
        self.running += [(process, member) for member in reply.mine]

    def grant(self) -> None:
        """One grant: the oldest running ticket is released (admitting the head of the queue,
        pushed to its process), and its process queues its next ticket."""
        process, member = self.running.pop(0)
        reply = self.scripts.release(self.keys.script_keys, [*self.args(process), member])
        self.running += [(process, mine) for mine in reply.mine]
        client = self.scripts.client
        for other in range(PROCESSES):  # what the listener threads would pop
            pushed = client.lpop(self.keys.grants(f"bench-{other}"))
            if pushed:
                self.running.append((other, str(pushed)))
        self.submit(process)


def commandstats(client: Any, backend: Backend, grants: int) -> dict[str, float]:
    """µs per call of each script (and of the pops) from ``INFO commandstats``."""
    client.config_resetstat()
    for _ in range(grants):
        backend.grant()
    stats = client.info("commandstats")
    return {
        "evalsha_us": float(stats["cmdstat_evalsha"]["usec_per_call"]),
        "lpop_us": float(stats["cmdstat_lpop"]["usec_per_call"]),
    }


def slowlog(client: Any, backend: Backend, grants: int) -> dict[str, dict[str, float]]:
    """Per script: median and mean µs, and the commands it ran, from ``SLOWLOG``."""
    client.config_set("slowlog-log-slower-than", 0)
    client.config_set("slowlog-max-len", 40 * grants)
    client.slowlog_reset()
    for _ in range(grants):
        backend.grant()
    log = client.slowlog_get(40 * grants)
    client.config_set("slowlog-log-slower-than", 10_000)
    exchange = backend.scripts._exchange.sha  # ARGV 10 (words[19]): how many tickets end
    durations: dict[str, list[int]] = {"submit": [], "release": []}
    inside = dict.fromkeys(durations, 0)
    pending = 0
    for entry in reversed(log):  # oldest first: a script's own commands are logged before it
        words = _text(entry["command"]).split()
        if _text(entry["client_address"]) == "?:0":  # run from inside a script
            pending += 1
            continue
        name = None
        if words[0] == "EVALSHA" and words[1] == exchange:
            name = "submit" if words[19] == "0" else "release"
        if name is not None:
            durations[name].append(int(entry["duration"]))
            inside[name] += pending
        pending = 0
    return {
        name: {
            "median_us": statistics.median(values),
            "mean_us": statistics.mean(values),
            "commands": inside[name] / len(values),
        }
        for name, values in durations.items()
        if values
    }


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grants", type=int, default=3000)
    parser.add_argument(
        "--share",
        default="1.0",
        help="the sheddable_share written (below 1: the headroom of +tiers is kept; every "
        "ticket is standard, so each submit also notes higher-tier work)",
    )
    options = parser.parse_args()
    grants = options.grants
    with tempfile.TemporaryDirectory(prefix="hermes-bench-scripts-") as directory:
        server, url = start_redis(Path(directory))
        try:
            import redis

            client = redis.Redis.from_url(url, decode_responses=True)
            backend = Backend(client, options.share)
            results: dict[str, Any] = {"commandstats": commandstats(client, backend, grants)}
            results["slowlog"] = slowlog(client, backend, grants)
        finally:
            server.kill()
            server.wait(10)
    results["load_average"] = os.getloadavg()
    stats = results["commandstats"]
    print(f"{grants} grants, {PROCESSES} processes on {SLOTS} slots, load {os.getloadavg()[0]:.1f}")
    print(f"  INFO commandstats: {stats['evalsha_us']:.1f} µs per script (submit and release)")
    for name, row in results["slowlog"].items():
        print(
            f"  SLOWLOG {name:7s}: median {row['median_us']:.0f} µs, mean {row['mean_us']:.1f} µs,"
            f" {row['commands']:.1f} commands inside"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
