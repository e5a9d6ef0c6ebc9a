"""``hermes status --scheduler redis://...``: the whole cluster, read from Redis.

Per backend: its limits, running and waiting calls across hosts, its counters (grants, slots
reclaimed by the hold bound, leases expired, wait-bound promotions, corrupt tickets dropped);
per backend and host (process) its running and waiting calls; the apps waiting with their best
ranks; each process's fail-open count. ``--json`` prints ``cluster_snapshot``'s data as it is,
``--metrics`` the same in the Prometheus text format (``scheduling.redis.metrics``); neither
needs more than the ``redis`` extra. Exit status 1 when Redis does not answer.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from hermes_agents.errors import ValidationError
from hermes_agents.extras import require
from hermes_agents.scheduling.redis.address import RedisAddress

BACKEND_COLUMNS = (
    "backend",
    "max_concurrency",
    "running",
    "waiting",
    "tokens_running",
    "grants",
    "reclaimed",
    "expired",
    "promoted",
    "corrupt",
)
HOST_COLUMNS = ("backend", "process", "running", "waiting")
APP_COLUMNS = ("app", "running", "waiting", "best_rank")
PROCESS_COLUMNS = ("process", "host", "pid", "unscheduled_calls", "seen_s_ago")


def is_redis(address: str | None) -> bool:
    """Whether ``address`` names a Redis scheduler."""
    return address is not None and address.startswith(("redis://", "rediss://"))


def main(url: str, args: argparse.Namespace) -> int:
    """Show (``--json``: print) the cluster's state from Redis at ``url``; 1 when it does not
    answer."""
    if args.watch:
        raise ValidationError(
            "--watch reads a daemon; for Redis run 'watch hermes status --scheduler URL'",
            "--watch",
        )
    address = RedisAddress.parse(url)
    require("redis")
    import redis

    from hermes_agents.scheduling.redis.status import cluster_snapshot

    client = address.client()
    try:
        state = cluster_snapshot(client, address.display)
    except redis.RedisError as error:
        print(f"no Redis answered at {address.display}: {error}", file=sys.stderr)
        return 1
    finally:
        client.close()
    if args.json:
        print(json.dumps(state, indent=2, sort_keys=True))
        return 0
    if args.metrics:
        from hermes_agents.scheduling.redis.metrics import render as metrics

        print(metrics(state), end="")
        return 0
    require("cli")
    render(state)
    return 0


def render(state: dict[str, Any]) -> None:
    """Print the cluster snapshot as a header line and four tables."""
    from rich.text import Text

    from hermes_agents.commands.console import console
    from hermes_agents.commands.status import _table

    out = console()
    counters = state["counters"]
    out.print(
        Text(
            f"{state['scheduler']}  fail-open calls {counters['unscheduled_calls']}  "
            f"leases expired {counters['expired_leases']}"
        )
    )
    backends = [{"backend": name, **b} for name, b in state["backends"].items()]
    out.print(_table("Backends (all hosts)", BACKEND_COLUMNS, backends))
    per_host = [
        {"backend": name, "process": process, **counts}
        for name, backend in state["backends"].items()
        for process, counts in backend.get("hosts", {}).items()
    ]
    out.print(_table("Calls per host", HOST_COLUMNS, per_host))
    apps = [{"app": name, **app} for name, app in state["apps"].items()]
    out.print(_table("Apps (best rank: lowest waiting)", APP_COLUMNS, apps))
    processes = [{"process": name, **p} for name, p in state["hosts"].items()]
    out.print(_table("Processes", PROCESS_COLUMNS, processes))
