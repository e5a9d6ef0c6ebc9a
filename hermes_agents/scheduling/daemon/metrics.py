"""Prometheus metrics of the daemon: the ``status`` snapshot in the text exposition format.

``hermes serve --metrics-port 9464`` serves them at ``http://127.0.0.1:9464/metrics`` (loopback
only). Names and meanings:

===================================  =======  =================================================
metric                               type     meaning
===================================  =======  =================================================
``hermes_backend_running``           gauge    calls running on the backend (label ``backend``)
``hermes_backend_waiting``           gauge    calls queued for the backend
``hermes_backend_capacity``          gauge    its ``max_concurrency`` (absent when unlimited)
``hermes_backend_tokens_running``    gauge    prompt + output tokens admitted and running
``hermes_backend_grants_total``      counter  calls admitted since the daemon started
``hermes_app_runs``                  gauge    active runs of the app class (label ``app``)
``hermes_app_best_rank``             gauge    best (lowest) Gittins rank among them, seconds
``hermes_clients``                   gauge    connected client processes
``hermes_unscheduled_calls_total``   counter  calls clients ran unscheduled (fail-open)
``hermes_protocol_errors_total``     counter  malformed or refused messages
``hermes_leases_expired_total``      counter  silent clients whose slots were reclaimed
``hermes_slots_reclaimed_total``     counter  slots given back by clients that vanished
===================================  =======  =================================================

``hermes_backend_capacity_changes_total`` (counter, label ``backend``) counts the times an
``auto`` window moved the backend's capacity (``hermes_backend_capacity`` is the window now).

With prewarming on (a ``[backends.NAME.prewarm]`` table), per prewarmed backend (label
``backend``), from the prewarm ledger:

============================================  =======  ========================================
metric                                        type     meaning
============================================  =======  ========================================
``hermes_prewarm_hints_total``                counter  hints applied (wakes and keep-awakes)
``hermes_prewarm_hits_total``                 counter  hints that had the backend warm in time
``hermes_prewarm_late_total``                 counter  wakes still running when the app came
``hermes_prewarm_unused_total``               counter  hints no app used before it slept
``hermes_prewarm_hidden_seconds_total``       counter  cold-start seconds apps did not wait
``hermes_prewarm_hint_waste_seconds_total``   counter  warm idle seconds caused by hints
``hermes_prewarm_warm_failures_total``        counter  warm-ups that failed (no label)
============================================  =======  ========================================
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from hermes_agents.errors import HermesError
from hermes_agents.scheduling.prometheus import header, sample

if TYPE_CHECKING:
    from hermes_agents.scheduling.daemon.sessionservice import SessionService

logger = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MAX_REQUEST_HEAD_BYTES = 8192

_BACKEND_GAUGES = {
    "running": ("hermes_backend_running", "gauge", "Calls running on the backend."),
    "waiting": ("hermes_backend_waiting", "gauge", "Calls queued for the backend."),
    "max_concurrency": ("hermes_backend_capacity", "gauge", "Calls the backend may run at once."),
    "tokens_running": ("hermes_backend_tokens_running", "gauge", "Tokens admitted and running."),
    "grants": ("hermes_backend_grants_total", "counter", "Calls admitted since start."),
    "capacity_changes": (
        "hermes_backend_capacity_changes_total",
        "counter",
        "Times an auto window moved the backend's capacity.",
    ),
}
_APP_GAUGES = {
    "runs": ("hermes_app_runs", "gauge", "Active runs of the app class."),
    "best_rank": ("hermes_app_best_rank", "gauge", "Lowest Gittins rank among them (s)."),
}
_PREWARM_COUNTERS = {
    "hints": ("hermes_prewarm_hints_total", "Prewarm hints applied."),
    "hits": ("hermes_prewarm_hits_total", "Prewarm hints that had the backend warm in time."),
    "late": ("hermes_prewarm_late_total", "Prewarm wakes still running when the app came."),
    "unused": ("hermes_prewarm_unused_total", "Prewarm hints no app used before it slept."),
    "cold_wait_hidden_s": (
        "hermes_prewarm_hidden_seconds_total",
        "Cold-start seconds apps did not wait thanks to prewarming.",
    ),
    "hint_waste_s": (
        "hermes_prewarm_hint_waste_seconds_total",
        "Seconds backends were warm and unused because of prewarm hints.",
    ),
}
_COUNTERS = {
    "unscheduled_calls": ("hermes_unscheduled_calls_total", "Calls clients ran unscheduled."),
    "protocol_errors": ("hermes_protocol_errors_total", "Malformed or refused messages."),
    "leases_expired": ("hermes_leases_expired_total", "Silent clients whose slots were reclaimed."),
    "slots_reclaimed": ("hermes_slots_reclaimed_total", "Slots given back by vanished clients."),
}


def render(state: Mapping[str, Any], *, app_names: bool = True) -> str:
    """The snapshot ``state`` in the Prometheus text format (``app_names=False``: without the
    per-app series, which name the apps)."""
    return "".join(_lines(state, app_names))


def _lines(state: Mapping[str, Any], app_names: bool) -> Iterator[str]:
    sections = [(state["backends"], "backend", _BACKEND_GAUGES)]
    if app_names:
        sections.append((state["apps"], "app", _APP_GAUGES))
    for rows, label, gauges in sections:
        for key, (name, kind, help_text) in gauges.items():
            yield header(name, kind, help_text)
            for row in rows:
                if row.get(key) is not None:
                    yield sample(name, row[key], **{label: row[label]})
    yield header("hermes_clients", "gauge", "Connected client processes.")
    yield sample("hermes_clients", state["clients"])
    for key, (name, help_text) in _COUNTERS.items():
        yield header(name, "counter", help_text)
        yield sample(name, state["counters"][key])
    prewarm = state.get("prewarm")
    if prewarm:
        yield from _prewarm_lines(prewarm)


def _prewarm_lines(prewarm: Mapping[str, Any]) -> Iterator[str]:
    for key, (name, help_text) in _PREWARM_COUNTERS.items():
        yield header(name, "counter", help_text)
        for row in prewarm["backends"]:
            yield sample(name, row[key], backend=row["backend"])
    name = "hermes_prewarm_warm_failures_total"
    yield header(name, "counter", "Prewarm warm-ups that failed.")
    yield sample(name, prewarm["total"]["warm_failures"])


def _authorized(head: bytes, token: str | None) -> bool:
    if token is None:
        return True
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"authorization":
            given = value.strip().removeprefix(b"Bearer ").strip()
            return hmac.compare_digest(given, token.encode())
    return False


async def serve_metrics(
    service: SessionService, port: int, *, app_names: bool = True
) -> asyncio.Server:
    """Serve ``GET /metrics`` on 127.0.0.1:``port``.

    When the daemon has a token (TCP is on, so other local users may connect), a scrape must
    send it (``Authorization: Bearer TOKEN``; Prometheus: ``authorization.credentials_file``);
    ``app_names=False`` leaves out the series that name apps.
    """

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5):
                head = await reader.readuntil(b"\r\n\r\n")
            request = head.split(b"\r\n", 1)[0].split()
            if not _authorized(head, service.token):
                status, body = "401 Unauthorized", b"send the daemon's token: Bearer TOKEN\n"
            elif len(request) >= 2 and request[0] == b"GET" and request[1] == b"/metrics":
                state = service.snapshot()  # read on the loop: the core is the loop's
                text = await asyncio.get_running_loop().run_in_executor(
                    None, lambda: render(state, app_names=app_names)
                )
                status, body = "200 OK", text.encode()  # rendered off it
            else:
                status, body = "404 Not Found", b"only GET /metrics is served here\n"
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {CONTENT_TYPE}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        writer.close()

    try:
        server = await asyncio.start_server(
            answer, host="127.0.0.1", port=port, limit=MAX_REQUEST_HEAD_BYTES
        )
    except OSError as error:
        raise HermesError(f"cannot serve metrics on 127.0.0.1:{port}: {error.strerror}") from error
    bound = server.sockets[0].getsockname()[1]
    logger.info("metrics at http://127.0.0.1:%d/metrics", bound)
    return server
