"""The cluster's state (``cluster_snapshot``) in the Prometheus text format.

``hermes status --scheduler redis://... --metrics`` prints it (for a textfile collector or a
scrape job that runs the command). The same names as the daemon's metrics where they mean the
same, summed over every host, plus per-host and per-process series:

============================================  =======  ========================================
metric                                        type     meaning
============================================  =======  ========================================
``hermes_backend_running``                    gauge    calls running (label ``backend``)
``hermes_backend_waiting``                    gauge    calls queued
``hermes_backend_capacity``                   gauge    its ``max_concurrency``
``hermes_backend_tokens_running``             gauge    prompt + output tokens running
``hermes_backend_sheddable_running``          gauge    sheddable calls running (``+tiers``)
``hermes_backend_grants_total``               counter  calls admitted
``hermes_backend_leases_expired_total``       counter  slots of processes whose lease expired
``hermes_backend_slots_reclaimed_total``      counter  slots taken back by the hold bound
``hermes_backend_corrupt_tickets_total``      counter  unreadable tickets dropped
``hermes_host_running``                       gauge    per backend and process (``process``)
``hermes_host_waiting``                       gauge    per backend and process
``hermes_app_waiting``                        gauge    waiting calls of the app class (``app``)
``hermes_app_best_rank``                      gauge    the best (lowest) rank among them, s
``hermes_process_unscheduled_calls_total``    counter  calls the process ran unscheduled
``hermes_unscheduled_calls_total``            counter  the same over every process
============================================  =======  ========================================
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from hermes_agents.scheduling.prometheus import header, sample

_BACKEND = {
    "running": ("hermes_backend_running", "gauge", "Calls running on the backend, all hosts."),
    "waiting": ("hermes_backend_waiting", "gauge", "Calls queued for the backend, all hosts."),
    "max_concurrency": ("hermes_backend_capacity", "gauge", "Calls the backend may run at once."),
    "tokens_running": ("hermes_backend_tokens_running", "gauge", "Tokens admitted and running."),
    "sheddable_running": (
        "hermes_backend_sheddable_running",
        "gauge",
        "Sheddable calls running (kept while the backend keeps headroom for higher tiers).",
    ),
    "grants": ("hermes_backend_grants_total", "counter", "Calls admitted."),
    "expired": (
        "hermes_backend_leases_expired_total",
        "counter",
        "Slots of processes whose lease expired.",
    ),
    "reclaimed": (
        "hermes_backend_slots_reclaimed_total",
        "counter",
        "Slots taken back by the hold bound.",
    ),
    "corrupt": ("hermes_backend_corrupt_tickets_total", "counter", "Unreadable tickets dropped."),
}
_HOST = {
    "running": ("hermes_host_running", "Calls of the process running on the backend."),
    "waiting": ("hermes_host_waiting", "Calls of the process queued for the backend."),
}
_APP = {
    "waiting": ("hermes_app_waiting", "Waiting calls of the app class, all hosts."),
    "best_rank": ("hermes_app_best_rank", "Lowest Gittins rank among them (s)."),
}


def render(state: Mapping[str, Any], *, app_names: bool = True) -> str:
    """``state`` in the Prometheus text format (``app_names=False``: no per-app series)."""
    return "".join(_lines(state, app_names))


def _lines(state: Mapping[str, Any], app_names: bool) -> Iterator[str]:
    backends = {name: b for name, b in state["backends"].items() if "error" not in b}
    for key, (name, kind, text) in _BACKEND.items():
        yield header(name, kind, text)
        for backend, row in backends.items():
            if row.get(key) is not None:
                yield sample(name, row[key], backend=backend)
    for key, (name, text) in _HOST.items():
        yield header(name, "gauge", text)
        for backend, row in backends.items():
            for process, counts in row.get("hosts", {}).items():
                yield sample(name, counts[key], backend=backend, process=process)
    if app_names:
        for key, (name, text) in _APP.items():
            yield header(name, "gauge", text)
            for app, row in state["apps"].items():
                if row.get(key) is not None:
                    yield sample(name, row[key], app=app)
    name = "hermes_process_unscheduled_calls_total"
    yield header(name, "counter", "Calls the process ran unscheduled.")
    for process, row in state["hosts"].items():
        yield sample(name, row["unscheduled_calls"], process=process, host=row["host"])
    name = "hermes_unscheduled_calls_total"
    yield header(name, "counter", "Calls run unscheduled, all processes.")
    yield sample(name, state["counters"]["unscheduled_calls"])
