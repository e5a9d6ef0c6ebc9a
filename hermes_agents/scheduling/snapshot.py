"""A scheduler's state as plain JSON data: what ``hermes status`` shows and the metrics export.

``core_snapshot`` gives the core's part (any scheduler); the daemon adds its own
(``daemon.snapshot``). Shape (every number finite; an infinite or unknown rank is ``null``)::

    {"server", "version", "policy", "uptime_s", "clients", "lease_s",
     "backends": [{"backend", "kind", "max_concurrency", "token_budget", "running", "waiting",
                   "tokens_running", "grants", "max_wait_s", "promoted", "max_hold_s",
                   "reclaimed", "capacity_reason", "capacity_changes"}],
     "apps": [{"app", "runs", "running", "waiting", "best_rank", "attained_s"}],
     "runs": [{"run", "app", "stage", "rank", "attained_s", "running", "waiting", "age_s"}],
     "counters": {"connections", "protocol_errors", "leases_expired", "slots_reclaimed",
                  "unscheduled_calls"},
     "prewarm": null | {"total": {"hints", "wake_hints", "keep_hints", "hits", "late", "unused",
                                  "covered", "open", "cold_wait_hidden_s", "hint_waste_s",
                                  "warm_failures"},
                        "backends": [{"backend", ...the same counters but warm_failures}]}}

``runs`` lists the best-ranked ``MAX_RUNS_IN_STATUS`` active runs; ``apps`` sums all of them.
``backends`` lists at most ``MAX_BACKENDS_IN_STATUS`` (the busiest; ``backends_omitted`` says
how many more there are), so that the answer always fits.
``capacity_reason`` says why an ``auto`` backend's ``max_concurrency`` is what it is (null: a
fixed cap), ``capacity_changes`` how often it moved (``hermes_agents.capacity``).
``prewarm`` is null when prewarming is off, else the prewarm ledger's counters
(``hermes_agents.prewarm.ledger``) in total and for every prewarmed backend.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

from hermes_agents.scheduling.core import SchedulerCore
from hermes_agents.scheduling.state import UNLIMITED, Run
from hermes_agents.version import VERSION

if TYPE_CHECKING:
    from hermes_agents.scheduling.prewarming import Prewarmer

logger = logging.getLogger(__name__)

MAX_RUNS_IN_STATUS = 50
MAX_BACKENDS_IN_STATUS = 200


def core_snapshot(core: SchedulerCore, *, started_at_s: float) -> dict[str, Any]:
    """The core's part of the state now: server, policy, uptime, backends, apps, runs."""
    now = core.clock()
    runs = sorted(core.runs.values(), key=lambda run: _sort_key(_rank(run)))
    return {
        "server": f"hermes-agents {VERSION}",
        "policy": core.policy.name,
        "uptime_s": round(now - started_at_s, 3),
        **_backends(core),
        "apps": _apps(core, runs),
        "runs": [_run(core, run, now) for run in runs[:MAX_RUNS_IN_STATUS]],
    }


def _backends(core: SchedulerCore) -> dict[str, Any]:
    """Every backend, by name; past ``MAX_BACKENDS_IN_STATUS``, the busiest that many (and
    how many were left out), so that a status always fits in one answer."""
    names = sorted(core.backends)
    omitted = max(0, len(names) - MAX_BACKENDS_IN_STATUS)
    if omitted:
        states = core.backends
        busiest = sorted(names, key=lambda n: -(len(states[n].running) + len(states[n].waiting)))
        names = sorted(busiest[:MAX_BACKENDS_IN_STATUS])
    return {
        "backends": [_backend(core, name) for name in names],
        "backends_omitted": omitted,
    }


def prewarm_snapshot(prewarmer: Prewarmer | None) -> dict[str, Any] | None:
    """The prewarm ledger's counters, in total and per prewarmed backend; None when off."""
    if prewarmer is None:
        return None
    try:
        counts = prewarmer.snapshot()
    except Exception:  # a status query never fails because of prewarming
        logger.warning("reading the prewarm counters failed", exc_info=True)
        return None
    total = counts.pop("total")
    zeros = {key: 0 for key in total if key != "warm_failures"}
    rows = [
        {"backend": name, **_rounded({**zeros, **counts.get(name, {})})}
        for name in sorted(set(prewarmer.adapters) | set(counts))
    ]
    return {"total": _rounded(total), "backends": rows}


def _rounded(counts: dict[str, Any]) -> dict[str, Any]:
    return {
        key: round(value, 6) if isinstance(value, float) else value for key, value in counts.items()
    }


def _backend(core: SchedulerCore, name: str) -> dict[str, Any]:
    state = core.backends[name]
    limits = state.limits
    return {
        "backend": name,
        "kind": limits.kind.value,
        "max_concurrency": None if limits == UNLIMITED else limits.max_concurrency,
        "token_budget": limits.token_budget,
        "running": len(state.running),
        "waiting": len(state.waiting),
        "tokens_running": state.tokens_running,
        "grants": state.granted,
        "max_wait_s": limits.max_wait_s,
        "promoted": state.promoted,
        "max_hold_s": limits.max_hold_s,
        "reclaimed": state.reclaimed,
        "capacity_reason": state.capacity_reason,
        "capacity_changes": state.capacity_changes,
    }


def _apps(core: SchedulerCore, runs: list[Run]) -> list[dict[str, Any]]:
    apps: dict[str, dict[str, Any]] = {}
    for run in runs:  # best rank first, so the first run seen holds the app's best rank
        running, waiting = _task_counts(core, run)
        entry = apps.setdefault(
            run.app,
            {"app": run.app, "runs": 0, "running": 0, "waiting": 0, "best_rank": _rank(run)},
        )
        entry["runs"] += 1
        entry["running"] += running
        entry["waiting"] += waiting
        entry["attained_s"] = round(entry.get("attained_s", 0.0) + run.attained_s, 6)
    return sorted(apps.values(), key=lambda app: str(app["app"]))


def _run(core: SchedulerCore, run: Run, now: float) -> dict[str, Any]:
    running, waiting = _task_counts(core, run)
    return {
        "run": run.run_id,
        "app": run.app,
        "stage": run.stage,
        "rank": _rank(run),
        "attained_s": round(run.attained_s, 6),
        "running": running,
        "waiting": waiting,
        "age_s": round(now - run.arrived_at, 3),
    }


def _task_counts(core: SchedulerCore, run: Run) -> tuple[int, int]:
    tasks = [core.tasks[task] for task in run.tasks if task in core.tasks]
    running = sum(1 for task in tasks if task.started_at is not None)
    return running, len(tasks) - running


def _rank(run: Run) -> float | None:
    rank = run.rank
    return round(rank, 6) if math.isfinite(rank) else None


def _sort_key(rank: float | None) -> float:
    return math.inf if rank is None else rank
