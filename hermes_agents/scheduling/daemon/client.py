"""``DaemonScheduler``: the scheduler of a process whose slots come from a shared daemon.

One connection per process, shared by every thread and event loop in it. Callers send their
requests on it directly; one background thread reads the daemon's answers and answers the
waiting tickets (grant, withdrawn, refused), and sends a heartbeat (a third of the lease).

Failing open: when the daemon cannot be reached, or goes away, calls run unscheduled with one
warning per outage and a count in ``unscheduled_calls``; tickets waiting at that moment go
ahead at once. At most every ``retry_s`` the next call tries to reconnect; once it succeeds,
the process's active runs (and the priors it gave) are registered again, scheduling resumes,
and a warning says so.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from dataclasses import dataclass
from itertools import count
from typing import Any

from hermes_agents.bounds import MAX_RETRY_AFTER_S, THROTTLE_STATUSES
from hermes_agents.pdgraph import PDGraph
from hermes_agents.scheduling.daemon.client_connection import SILENT_DAEMON_S, Connection
from hermes_agents.scheduling.daemon.connection import (
    DEFAULT_CONNECT_TIMEOUT_S,
    DaemonUnavailableError,
    listening,
    open_connection,
    query,
    query_status,
)
from hermes_agents.scheduling.daemon.protocol import encode
from hermes_agents.scheduling.interface import SUSPENDED_RUN_TTL_S, Scheduler, Ticket
from hermes_agents.scheduling.state import Usage
from hermes_agents.scheduling.tiers import MIN_DEADLINE_S, Tier

logger = logging.getLogger(__name__)

DEFAULT_RETRY_S = 1.0

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT_S",
    "DEFAULT_RETRY_S",
    "SILENT_DAEMON_S",
    "DaemonScheduler",
    "DaemonUnavailableError",
    "listening",
    "open_connection",
    "query_status",
]


@dataclass
class _RunRecord:
    """What re-registers a run with a daemon that restarted."""

    app: str
    deadline: float | None
    stage: str | None = None
    suspended_at: float = 0.0
    """When it was suspended (``time.monotonic()``), if it is."""
    partial: bool = False
    """Some of its calls ran unscheduled, or the daemon restarted under it: not learned."""
    tier: Tier | None = None
    """Its tier, if the run was given one (else the daemon's configuration decides)."""


class DaemonScheduler(Scheduler):
    """Slots from the shared daemon at ``address`` (``unix:///path`` or ``tcp://host:port``)."""

    def __init__(
        self,
        address: str,
        *,
        token: str | None = None,
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
        retry_s: float = DEFAULT_RETRY_S,
    ) -> None:
        super().__init__()
        self.address = address
        self.connect_timeout_s = connect_timeout_s
        self.retry_s = retry_s
        self._token = token
        self._lock = threading.Lock()
        self._connection: Connection | None = None
        self._next_attempt_s = 0.0
        self._outage = False
        self._task_ids = count(1)
        self._runs: dict[str, _RunRecord] = {}
        self._suspended: dict[str, _RunRecord] = {}
        """Runs waiting for a human (not re-registered with a restarted daemon: a resume
        there starts them anew, unlearned), oldest first."""
        self._priors: dict[str, dict[str, Any]] = {}

    @property
    def connected(self) -> bool:
        """Whether a connection to the daemon is open now."""
        connection = self._connection
        return connection is not None and connection.alive and connection.pid == os.getpid()

    def close(self) -> None:
        with self._lock:
            connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    # -- the scheduler interface --------------------------------------------------------------

    def submit(self, ticket: Ticket) -> None:
        connection = self._live()
        if connection is None:
            self.fail_open(ticket, f"the hermes daemon at {self.address} is unreachable")
            return
        task = next(self._task_ids)
        message: dict[str, Any] = {
            "op": "submit",
            "task": task,
            "run": ticket.run_id,
            "backend": ticket.backend,
        }
        if ticket.stage is not None:
            message["stage"] = ticket.stage
        if ticket.visit is not None:
            message["visit"] = ticket.visit
        if ticket.estimate_s:
            message["estimate_s"] = ticket.estimate_s
        if ticket.tokens:
            message["tokens"] = ticket.tokens
        try:
            line = encode(message)
        except ValueError as error:  # NaN or infinity: never raise into the caller
            self.fail_open(ticket, f"a call could not be sent to the hermes daemon ({error})")
            return
        ticket.task, ticket.handle = task, connection
        if not connection.add_pending(task, ticket):
            ticket.task = None
            self.fail_open(ticket, f"the hermes daemon at {self.address} went away")
            return
        connection.send(line)  # on failure, lost() has already answered this ticket

    def release(self, ticket: Ticket, usage: Usage) -> None:
        self._tell_release(ticket, {"usage": _usage(usage)})

    def withdraw(self, ticket: Ticket) -> None:
        self._tell_release(ticket, {})

    def throttled(self, backend: str, status: int, retry_after_s: float | None = None) -> None:
        """Tell the daemon (its ``auto`` window for ``backend`` halves); dropped while it is
        unreachable. ``Retry-After`` is sent within the protocol's bounds; never raises."""
        connection = self._connection
        if status not in THROTTLE_STATUSES or connection is None or not self.connected:
            return
        try:  # a status of 429.0 goes as 429; a Retry-After that is no number, as none
            message: dict[str, Any] = {"op": "throttle", "backend": backend, "status": int(status)}
            if isinstance(retry_after_s, int | float) and math.isfinite(retry_after_s):
                message["retry_after_s"] = min(max(float(retry_after_s), 0.0), MAX_RETRY_AFTER_S)
            connection.send(message)
        except Exception:  # fail open: a throttle is a hint, never the caller's problem
            logger.debug("telling the daemon of a throttle on %r failed", backend, exc_info=True)

    def start_run(
        self, run_id: str, app: str, *, deadline: float | None = None, tier: Tier | None = None
    ) -> None:
        connection = self._live()  # connects first: this run is no re-registration
        record = self._runs[run_id] = _RunRecord(app, deadline, tier=tier)
        if connection is not None:
            connection.send(_run_message(run_id, record))

    def finish_run(self, run_id: str, *, complete: bool = True) -> None:
        connection = self._connection
        known = self._runs.pop(run_id, None) or self._suspended.pop(run_id, None)
        if known is not None and connection is not None:
            message: dict[str, Any] = {"op": "end", "run": run_id}
            if known.partial or not complete:
                message["partial"] = True
            connection.send(message)

    def fail_open(self, ticket: Ticket, reason: str) -> None:
        """Answer ``ticket`` unscheduled; its run becomes partial (see ``finish_run``)."""
        super().fail_open(ticket, reason)
        record = self._runs.get(ticket.run_id) if ticket.run_id is not None else None
        if record is not None:
            record.partial = True

    def suspend_run(self, run_id: str) -> None:
        record = self._runs.pop(run_id, None)
        if record is None:
            return
        now = time.monotonic()
        for old, parked in list(self._suspended.items()):  # forget what the daemon dropped
            if now - parked.suspended_at < SUSPENDED_RUN_TTL_S:
                break
            del self._suspended[old]
        record.suspended_at = now
        self._suspended[run_id] = record
        connection = self._connection
        if connection is not None:
            connection.send({"op": "suspend", "run": run_id})

    def resume_run(self, run_id: str, app: str) -> None:
        record = self._suspended.pop(run_id, None) or _RunRecord(app, None)
        self._runs[run_id] = record
        connection = self._live()
        if connection is not None:
            connection.send({"op": "resume", "run": run_id, "app": app})

    def move_run(self, run_id: str, stage: str, *, visit: str | None = None) -> None:
        record = self._runs.get(run_id)
        if record is None:
            return
        record.stage = stage
        connection = self._live()
        if connection is not None:
            message = {"op": "stage", "run": run_id, "stage": stage}
            if visit is not None:
                message["visit"] = visit
            connection.send(message)

    def has_run(self, run_id: str) -> bool:
        return run_id in self._runs

    def add_prior(self, app: str, prior: PDGraph) -> None:
        message = {"op": "prior", "app": app, "graph": prior.to_dict()}
        self._priors[app] = message  # a restarted daemon hears it again
        connection = self._live()
        if connection is not None:
            connection.send(message)

    def learned_graph(self, app: str) -> PDGraph | None:
        """The daemon's graph of ``app`` (asked on a connection of its own); None when the
        daemon does not know it or cannot be reached (logged)."""
        try:
            reply = query(
                self.address,
                {"op": "graph", "app": app},
                token=self._token,
                timeout_s=max(self.connect_timeout_s, 5.0),
            )
            graph, version = reply.get("graph"), reply.get("version")
            if not isinstance(graph, dict):
                return None
            learned = PDGraph.from_dict(graph)
            return learned.with_version(version) if isinstance(version, int) else learned
        except (DaemonUnavailableError, ValueError) as error:
            logger.warning("cannot read the learned graph of %r from the daemon: %s", app, error)
            return None

    def snapshot(self) -> dict[str, Any]:
        """The daemon's status (``hermes status --json``); raises ``DaemonUnavailableError``
        when it cannot be reached (an inspection, not a call)."""
        return query_status(self.address, token=self._token)

    # -- the connection's life ----------------------------------------------------------------

    def _tell_release(self, ticket: Ticket, extra: dict[str, Any]) -> None:
        connection, task = ticket.handle, ticket.task
        ticket.task = None
        if task is None or not isinstance(connection, Connection):
            return
        if connection.drop(task):
            connection.send({"op": "release", "task": task, **extra})

    def _live(self) -> Connection | None:
        """The open connection, or a new one if a retry is due; None while unreachable."""
        connection = self._connection
        if connection is not None and connection.alive and connection.pid == os.getpid():
            return connection
        with self._lock:
            connection = self._connection
            if connection is not None and connection.alive and connection.pid == os.getpid():
                return connection
            if time.monotonic() < self._next_attempt_s:
                return None
            return self._connect()

    def _connect(self) -> Connection | None:
        try:
            sock, welcome, rest = open_connection(
                self.address, token=self._token, timeout_s=self.connect_timeout_s
            )
        except DaemonUnavailableError as error:
            self._next_attempt_s = time.monotonic() + self.retry_s
            if not self._outage:
                self._outage = True
                self.count_unscheduled(0, f"the hermes daemon is unreachable ({error})")
            return None
        connection = Connection(self, sock, welcome, rest)
        for message in list(self._priors.values()):  # a restarted daemon knows nothing
            connection.send(message)
        for run_id, record in list(self._runs.items()):
            record.partial = True  # begun on a daemon now gone: this one sees only the rest
            connection.send(_run_message(run_id, record))
            if record.stage is not None:
                connection.send({"op": "stage", "run": run_id, "stage": record.stage})
        connection.start()
        self._connection = connection
        was_out, self._outage = self._outage, False
        back = f"the hermes daemon at {self.address} is back; scheduling resumed"
        self.recovered(back if was_out else None)
        return connection

    def _connection_lost(self, connection: Connection, waiting: list[Ticket]) -> None:
        reason = f"lost the hermes daemon at {self.address}"
        if self._connection is connection:
            self._connection = None
            if connection.pid == os.getpid():
                self._outage = True
                if not waiting:
                    self.count_unscheduled(0, reason)
        for ticket in waiting:
            ticket.task = None
            self.fail_open(ticket, reason)


def _run_message(run_id: str, record: _RunRecord) -> dict[str, Any]:
    message: dict[str, Any] = {"op": "run", "run": run_id, "app": record.app}
    if record.partial:
        message["partial"] = True
    if record.deadline is not None:
        # seconds from now; a deadline already past is sent as (almost) now: it is late
        message["deadline_s"] = max(record.deadline - time.monotonic(), MIN_DEADLINE_S)
    if record.tier is not None:
        message["tier"] = record.tier.value
    return message


def _usage(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "output_tokens": usage.output_tokens,
        "cached_tokens": usage.cached_tokens,
        "seconds": max(0.0, usage.seconds),
    }
