"""The daemon's sessions and bookkeeping: one ``Session`` per client connection, the
``Counters`` it keeps, its limits and timeouts, and the driver's ``Answers`` and ``Alarm`` for
the daemon (answers go into the owning session's outbox; the alarm is the server's timer).
"""

from __future__ import annotations

import hmac
import math
import resource
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hermes_agents.scheduling.daemon.protocol import encode, error_message
from hermes_agents.scheduling.decisions import Grant, Withdrawal

if TYPE_CHECKING:
    from hermes_agents.scheduling.daemon.service import DaemonService

MAX_CONNECTIONS = min(1_024, resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 64)
"""Connections served at once (1,024, or fewer if the file descriptor limit is lower); more are
refused (a fatal error), so that no local user can exhaust the daemon's file descriptors."""
MAX_TASKS_PER_CLIENT = 10_000
"""Tasks one connection may have queued or running; more are refused (run unscheduled)."""
MAX_RUNS_PER_CLIENT = 10_000
"""App runs one connection may have open; more are refused (their calls run unscheduled), so
that no client can grow the daemon's memory without bound."""
HELLO_TIMEOUT_S = 5.0
"""A connection must say hello within this long."""
INTERNAL_ERROR_LOG_S = 10.0
"""At most one traceback per this many seconds for internal errors (a bug hit in a loop)."""
IDLE_LEASES = 3
"""A greeted connection silent for this many leases is closed (live clients ping every third
of a lease)."""


@dataclass(eq=False)
class Session:
    """One client connection: what it owns in the core, and how to reach it."""

    session_id: int
    send: Callable[[bytes], None]
    close: Callable[[], None]
    needs_token: bool
    last_heard_s: float
    opened_s: float = 0.0
    client: str = ""
    greeted: bool = False
    closed: bool = False
    unscheduled: int = 0
    runs: dict[str, str] = field(default_factory=dict)
    """Client run id -> core run id."""
    tasks: dict[int, int] = field(default_factory=dict)
    """Client task id -> core task id."""
    one_call_runs: dict[int, str] = field(default_factory=dict)
    """Client task id -> the core run of a one-call app (``submit`` with ``run`` null)."""
    outbox: list[bytes] = field(default_factory=list)

    def scoped_run_id(self, run: str) -> str:
        """The service's id for the client's ``run`` (the session's id keeps it apart from
        other clients' runs of the same name)."""
        return f"{self.session_id}:{run}"


@dataclass
class Counters:
    """What the daemon counts over its lifetime (``status`` and the metrics show them)."""

    connections: int = 0
    protocol_errors: int = 0
    leases_expired: int = 0
    slots_reclaimed: int = 0
    hello_timeouts: int = 0
    """Connections closed for saying nothing (no hello) within ``HELLO_TIMEOUT_S``."""
    idle_closed: int = 0
    """Greeted connections closed after ``IDLE_LEASES`` leases of silence (half-open)."""
    internal_errors: int = 0
    """Messages that hit a bug in the daemon (answered with an error, logged rarely)."""
    refused: int = 0
    """Connections refused past ``MAX_CONNECTIONS`` and tasks past ``MAX_TASKS_PER_CLIENT``."""
    unscheduled_closed: int = 0
    """Fail-open calls reported by clients that have since disconnected."""

    def status(self) -> dict[str, int]:
        """The counters every daemon's status snapshot shows, in its order."""
        return {
            "connections": self.connections,
            "protocol_errors": self.protocol_errors,
            "leases_expired": self.leases_expired,
            "slots_reclaimed": self.slots_reclaimed,
            "hello_timeouts": self.hello_timeouts,
            "idle_closed": self.idle_closed,
            "refused": self.refused,
        }


class SessionAnswers:
    """The driver's ``Answers`` for the daemon: each answer goes to the session owning the
    task, as a line in its outbox."""

    def __init__(self, service: DaemonService) -> None:
        self.service = service

    def granted(self, grant: Grant) -> None:
        owner = self.service._owners.get(grant.task_id)
        if owner is None:
            return
        session, task = owner
        run = self.service.core.runs.get(grant.run_id)
        session.outbox.append(grant_line(task, run.rank if run is not None else math.inf))

    def withdrawn(self, withdrawal: Withdrawal) -> None:
        owner = self.service._owners.pop(withdrawal.task_id, None)
        if owner is None:
            return
        session, task = owner
        session.tasks.pop(task, None)
        session.outbox.append(withdrawn_line(task, withdrawal.reason))

    def fail_all(self, reason: str) -> None:
        for session in self.service.sessions.values():
            for task, core_task in list(session.tasks.items()):
                pending = self.service.core.tasks.get(core_task)
                if pending is not None and pending.started_at is None:
                    session.tasks.pop(task)
                    self.service._owners.pop(core_task, None)
                    session.outbox.append(unscheduled_line(task, reason))


class CallbackAlarm:
    """The driver's ``Alarm``: whatever the server set as ``on_next_check`` (its loop timer)."""

    def __init__(self, service: DaemonService) -> None:
        self.service = service

    def set(self, when_s: float) -> None:
        target = self.service.on_next_check
        if target is not None:
            target(when_s)


def grant_line(task: int, rank: float | None) -> bytes:
    """The ``grant`` answer to the client's ``task`` (``rank``: its run's, when finite)."""
    if rank is not None and math.isfinite(rank):
        return b'{"op":"grant","task":%d,"rank":%r}\n' % (task, rank)
    return b'{"op":"grant","task":%d}\n' % task


def withdrawn_line(task: int, reason: str) -> bytes:
    """The ``withdrawn`` answer: ``task`` left its queue ungranted, for ``reason``."""
    return encode({"op": "withdrawn", "task": task, "reason": reason})


def unscheduled_line(task: int, reason: str) -> bytes:
    """The error that tells the client to run ``task`` unscheduled (scheduling failed)."""
    return encode(error_message(f"{reason}; run this call unscheduled", task=task))


def same_token(given: object, expected: str | None) -> bool:
    if expected is None or not isinstance(given, str):
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def task_of(message: dict[str, Any]) -> int | None:
    """The task id a refused message was about, so the client can fail that call open."""
    task = message.get("task")
    return task if isinstance(task, int) and not isinstance(task, bool) else None
