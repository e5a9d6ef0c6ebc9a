"""The status of a daemon that fronts a shared scheduler (``FrontService``): the shape of any
daemon's snapshot (``scheduling.snapshot``), from what this daemon knows, plus ``scheduler``,
the address it fronts (``hermes status`` says so).

``backends``: this host's calls through the daemon (``running``: granted and not yet released,
``waiting``: queued) and ``grants`` given through it, with the configured limits (enforced
across every host by the fronted scheduler). ``runs`` and ``apps``: the clients' active runs;
a run's ``rank`` is the one it had at its last grant. ``counters`` adds
``scheduler_unscheduled_calls``: calls the fronted scheduler let run unscheduled (Redis out),
which the clients count too. The whole cluster is ``hermes status --scheduler URL``.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import TYPE_CHECKING, Any

from hermes_agents.scheduling.daemon.protocol import PROTOCOL_VERSION
from hermes_agents.scheduling.snapshot import MAX_RUNS_IN_STATUS
from hermes_agents.scheduling.state import UNLIMITED
from hermes_agents.scheduling.ticket import Answer
from hermes_agents.version import VERSION

if TYPE_CHECKING:
    from hermes_agents.scheduling.daemon.front import FrontService, FrontTicket


def front_snapshot(service: FrontService) -> dict[str, Any]:
    """The daemon's state now (see the module docstring)."""
    now = service.clock()
    return {
        "server": f"hermes-agents {VERSION}",
        "version": PROTOCOL_VERSION,
        "policy": service.policy_name,
        "scheduler": service.name,
        "uptime_s": round(now - service.started_at_s, 3),
        "clients": len(service.sessions),
        "lease_s": service.lease_s,
        "backends": _backends(service),
        "backends_omitted": 0,
        **_runs(service, now),
        "counters": {
            **service.counters.status(),
            "unscheduled_calls": service.unscheduled_calls,
            "scheduler_unscheduled_calls": service.scheduler.unscheduled_calls,
        },
        "prewarm": None,
    }


def _backends(service: FrontService) -> list[dict[str, Any]]:
    running: Counter[str] = Counter()
    waiting: Counter[str] = Counter()
    for ticket in service.tickets.values():
        (running if ticket.answer is Answer.GRANTED else waiting)[ticket.backend] += 1
    names = sorted(set(service.limits) | set(running) | set(waiting) | set(service.grants))
    rows = []
    for name in names:
        limits = service.limits.get(name, UNLIMITED)
        rows.append(
            {
                "backend": name,
                "kind": limits.kind.value,
                "max_concurrency": None if limits == UNLIMITED else limits.max_concurrency,
                "token_budget": limits.token_budget,
                "running": running[name],
                "waiting": waiting[name],
                "grants": service.grants[name],
            }
        )
    return rows


def _runs(service: FrontService, now: float) -> dict[str, Any]:
    calls: dict[str, list[FrontTicket]] = {}
    for ticket in service.tickets.values():
        if ticket.run_id is not None:
            calls.setdefault(ticket.run_id, []).append(ticket)
    rows: list[dict[str, Any]] = []
    for run_id, run in service.runs.items():
        mine = calls.get(run_id, [])
        held = sum(1 for ticket in mine if ticket.answer is Answer.GRANTED)
        rank = run.rank if run.rank is not None and math.isfinite(run.rank) else None
        rows.append(
            {
                "run": run_id,
                "app": run.app,
                "stage": run.stage,
                "rank": None if rank is None else round(rank, 6),
                "running": held,
                "waiting": len(mine) - held,
                "age_s": round(now - run.started_s, 3),
            }
        )
    rows.sort(key=lambda row: math.inf if row["rank"] is None else row["rank"])
    apps: dict[str, dict[str, Any]] = {}
    for row in rows:  # best rank first: the first row of an app holds its best rank
        entry = apps.setdefault(
            row["app"],
            {"app": row["app"], "runs": 0, "running": 0, "waiting": 0, "best_rank": row["rank"]},
        )
        entry["runs"] += 1
        entry["running"] += row["running"]
        entry["waiting"] += row["waiting"]
    return {
        "apps": sorted(apps.values(), key=lambda app: str(app["app"])),
        "runs": rows[:MAX_RUNS_IN_STATUS],
    }
