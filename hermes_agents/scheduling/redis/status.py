"""``cluster_snapshot``: the whole cluster's state, read from Redis (``hermes status
--scheduler redis://...``): per backend its limits, running and waiting calls across hosts
and per host, its counters; the apps waiting with their best ranks; each process's counters.

Read-only, and checked: a record that is not this scheduler's is counted in
``unreadable_tickets``, never trusted. At most ``MAX_TICKETS`` tickets per backend are read.
"""

from __future__ import annotations

import json
import math
import time
from typing import TYPE_CHECKING, Any

from hermes_agents.scheduling.redis.keys import PREFIX, SCHEMA, BackendKeys, backends_key, hosts_key

if TYPE_CHECKING:
    import redis

MAX_TICKETS = 10_000
"""Tickets per backend read for a snapshot (the counts beyond come from the sorted sets)."""
_COUNTERS = ("granted", "reclaimed", "expired", "promoted", "corrupt")


def cluster_snapshot(
    client: redis.Redis, scheduler: str, *, prefix: str = PREFIX
) -> dict[str, Any]:
    """The state of every backend in Redis (see the module docstring); raises
    ``redis.RedisError`` when Redis does not answer."""
    names = sorted(str(name) for name in client.smembers(backends_key(prefix)))
    backends: dict[str, Any] = {}
    apps: dict[str, dict[str, Any]] = {}
    for name in names:
        backends[name] = _backend(client, BackendKeys(name, prefix), apps)
    hosts = _hosts(client, prefix)
    return {
        "scheduler": scheduler,
        "backends": backends,
        "apps": dict(sorted(apps.items())),
        "hosts": hosts,
        "counters": {
            "unscheduled_calls": sum(host["unscheduled_calls"] for host in hosts.values()),
            "expired_leases": sum(b.get("expired", 0) for b in backends.values()),
        },
    }


def _backend(client: redis.Redis, keys: BackendKeys, apps: dict[str, dict[str, Any]]) -> Any:
    pipe = client.pipeline(transaction=True)
    pipe.hgetall(keys.meta)
    pipe.zrange(keys.queue, 0, MAX_TICKETS - 1, withscores=True)
    pipe.zrange(keys.leases, 0, MAX_TICKETS - 1)
    pipe.zcard(keys.queue)
    pipe.zcard(keys.leases)
    pipe.hgetall(keys.tickets)
    pipe.zcard(keys.shed)
    meta, queue, leases, waiting, running, tickets, sheddable = pipe.execute()
    if meta and meta.get("schema") != SCHEMA:
        return {"error": f"schema {meta.get('schema')!r}, this client reads {SCHEMA}"}
    state: dict[str, Any] = {
        "max_concurrency": _int(meta.get("max_concurrency")),
        "token_budget": _int(meta.get("token_budget")) or None,
        "running": int(running),
        "waiting": int(waiting),
        "tokens_running": _int(meta.get("tokens_running")),
        "sheddable_running": int(sheddable),  # the tiers' headroom (``headroom``)
        **{counter: _int(meta.get(counter)) for counter in _COUNTERS},
    }
    state["grants"] = state.pop("granted")
    hosts: dict[str, dict[str, int]] = {}
    unreadable = 0
    for member, rank in [(m, r) for m, r in queue] + [(m, None) for m in leases]:
        record = _record(tickets.get(member))
        if record is None:
            unreadable += 1
            continue
        process, app = record
        where = "waiting" if rank is not None else "running"
        per_host = hosts.setdefault(process, {"running": 0, "waiting": 0})
        per_host[where] += 1
        entry = apps.setdefault(app, {"running": 0, "waiting": 0, "best_rank": None})
        entry[where] += 1
        if rank is not None and math.isfinite(rank):
            best = entry["best_rank"]
            entry["best_rank"] = rank if best is None else min(best, rank)
    state["hosts"] = dict(sorted(hosts.items()))
    state["unreadable_tickets"] = unreadable
    return state


def _hosts(client: redis.Redis, prefix: str) -> dict[str, dict[str, Any]]:
    now = time.time()
    found: dict[str, dict[str, Any]] = {}
    for process, text in client.hgetall(hosts_key(prefix)).items():
        try:
            record = json.loads(text)
            found[str(process)] = {
                "host": str(record["host"]),
                "pid": int(record["pid"]),
                "unscheduled_calls": max(0, int(record["unscheduled_calls"])),
                "seen_s_ago": round(max(0.0, now - float(record["updated_unix_s"])), 1),
            }
        except (ValueError, KeyError, TypeError):
            continue  # not a record of ours: never shown as one
    return dict(sorted(found.items()))


def _record(text: object) -> tuple[str, str] | None:
    """(process, app) of a ticket record (``process|tokens|submitted_ms|tier|app``), or None
    when it is not one."""
    if not isinstance(text, str):
        return None
    parts = text.split("|", 4)
    if len(parts) != 5 or not parts[0] or not parts[1].isdigit() or not parts[2].isdigit():
        return None
    return parts[0], parts[4]


def _int(value: object) -> int:
    try:
        return int(str(value)) if value is not None else 0
    except ValueError:
        return 0
