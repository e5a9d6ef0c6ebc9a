"""``FrontService``: a host's daemon in front of a shared scheduler (``hermes serve --scheduler
redis://...``).

The host's processes talk to the daemon over its Unix socket exactly as to any daemon (the
same protocol, sessions, leases and answers: ``SessionService``); the daemon hands each
session's runs and calls to one ``Scheduler`` through the public interface (``start_run``,
``move_run``, ``submit(ticket)``, ``release``, ``withdraw``, ``finish_run``, ...), so the order
is that scheduler's: with a ``RedisScheduler``, the cluster's.

Answers come on the tickets, from any thread (a Redis grant is heard by a link's thread): each
one is queued and the server's loop is woken (``serving``) to route it to the session that owns
the call, as a ``grant``, a ``withdrawn`` or an error telling the client to run it unscheduled.
Every call gets exactly one such answer, as the ticket does. A session that ends withdraws
what it queued and gives back what it held (``Scheduler.withdraw``), and its runs end as
partial runs (not learned). A client's ``release`` of a call still waiting withdraws it.

What stays in the fronted scheduler: ranks, learning and profiles (with Redis, the shared
Redis profile store, so every host ranks from the same models) and prewarming (one warm-up per
backend and moment across hosts). The daemon keeps only its sessions and the counts its
``status`` shows (``front_snapshot``).
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import count
from typing import Any

from hermes_agents.scheduling.daemon.front_snapshot import front_snapshot
from hermes_agents.scheduling.daemon.profiles import graph_answer, prior_of
from hermes_agents.scheduling.daemon.protocol import encode
from hermes_agents.scheduling.daemon.sessions import (
    Session,
    grant_line,
    unscheduled_line,
    withdrawn_line,
)
from hermes_agents.scheduling.daemon.sessionservice import SessionService
from hermes_agents.scheduling.interface import Scheduler
from hermes_agents.scheduling.state import BackendLimits, Usage
from hermes_agents.scheduling.ticket import Answer, Ticket

__all__ = ["FrontRun", "FrontService", "FrontTicket"]


class FrontTicket(Ticket):
    """A client's call in the fronted scheduler; its one answer is handed to ``answered``
    (from whichever thread gives it)."""

    def __init__(
        self,
        number: int,
        answered: Callable[[FrontTicket], None],
        backend: str,
        run_id: str | None,
        message: Mapping[str, Any],
    ) -> None:
        super().__init__(
            backend,
            run_id,
            message.get("stage"),
            message.get("visit"),
            float(message.get("estimate_s", 0.0)),
            message.get("tokens", 0),
        )
        self.number = number
        """The service's id for it (the key of ``SessionService._owners``)."""
        self._answered = answered

    def settle(self, answer: Answer, reason: str = "", rank: float | None = None) -> bool:
        """Answer it (see ``Ticket.settle``) and hand it to the service."""
        if not super().settle(answer, reason, rank):
            return False
        self._answered(self)
        return True


@dataclass(eq=False)
class FrontRun:
    """What the daemon knows of one client run (for ``status``)."""

    app: str
    started_s: float
    stage: str | None = None
    rank: float | None = None
    """Its rank at its last grant (the scheduler ranks it; None: no grant yet)."""


class FrontService(SessionService):
    """The daemon's sessions in front of ``scheduler`` (see the module docstring).

    Args:
        scheduler: the scheduler every call goes to (its maker closes it, after the server).
        name: what it is, for ``status`` (a Redis address without credentials).
        policy: its policy's name (told to clients in ``welcome``).
        limits: the backends' limits, for ``status``.
        lease_s, token: as for any daemon (``SessionService``).
    """

    def __init__(
        self,
        scheduler: Scheduler,
        *,
        name: str,
        policy: str,
        limits: Mapping[str, BackendLimits] | None = None,
        lease_s: float = 30.0,
        token: str | None = None,
    ) -> None:
        super().__init__(time.monotonic, lease_s=lease_s, token=token)
        self.scheduler = scheduler
        self.name = name
        self.limits = dict(limits or {})
        self._policy = policy
        self.tickets: dict[int, FrontTicket] = {}
        """Calls queued or running, by number."""
        self.runs: dict[str, FrontRun] = {}
        """Active client runs, by their id in the scheduler."""
        self.grants: Counter[str] = Counter()
        """Calls granted through this daemon, per backend."""
        self._answers: deque[FrontTicket] = deque()
        self._flush_soon: Callable[[], None] | None = None
        self._woken = False
        self._numbers = count(1)

    @property
    def policy_name(self) -> str:
        """The fronted scheduler's policy."""
        return self._policy

    def serving(self, flush_soon: Callable[[], None]) -> None:
        """Answers given off the loop wake it through ``flush_soon``."""
        self._flush_soon = flush_soon

    def step(self) -> None:
        """Route the answers given since the last step to the sessions owning the calls."""
        self._woken = False
        while self._answers:
            ticket = self._answers.popleft()
            owner = self._owners.get(ticket.number)
            if owner is None:
                continue  # released, or its session ended: settled with the scheduler there
            session, task = owner
            if ticket.answer is Answer.GRANTED:
                self.grants[ticket.backend] += 1
                run = self.runs.get(ticket.run_id) if ticket.run_id is not None else None
                if run is not None:
                    run.rank = ticket.rank
                session.outbox.append(grant_line(task, ticket.rank))
                continue
            self._drop(session, task)
            if ticket.answer is Answer.WITHDRAWN:
                session.outbox.append(withdrawn_line(task, ticket.reason))
            else:
                session.outbox.append(unscheduled_line(task, ticket.reason))

    def reclaim(self, session: Session) -> int:
        """Withdraw the session's calls (the held ones are released) and end its runs as
        partial runs; returns how many it held."""
        tickets = [self._drop(session, task) for task in list(session.tasks)]
        held = [t for t in tickets if t is not None and t.answer is Answer.GRANTED]
        # the waiting ones first, so that a slot freed below goes to another client's call
        for ticket in [t for t in tickets if t is not None and t not in held] + held:
            self.scheduler.withdraw(ticket)  # a granted one is released (without usage)
        for run_id in session.runs.values():
            self.runs.pop(run_id, None)
            self.scheduler.finish_run(run_id, complete=False)
        return len(held)

    def snapshot(self) -> dict[str, Any]:
        """This daemon's sessions, calls and runs, and what it fronts (``front_snapshot``)."""
        return front_snapshot(self)

    def throttled(self, backend: str, status: int, retry_after_s: float | None) -> None:
        """A client's 429/503 goes to the fronted scheduler (``Scheduler.throttled``)."""
        self.scheduler.throttled(backend, status, retry_after_s)

    # -- handlers -----------------------------------------------------------------------------

    def _run(self, session: Session, message: dict[str, Any]) -> None:
        now = time.monotonic()  # the interface's clock for deadlines
        new = self.new_run(session, message, now)
        if new is None:
            return
        self.scheduler.start_run(new.run_id, message["app"], deadline=new.deadline, tier=new.tier)
        session.runs[message["run"]] = new.run_id  # again after a restart: its end says partial
        self.runs[new.run_id] = FrontRun(message["app"], now)

    def _stage(self, session: Session, message: dict[str, Any]) -> None:
        run_id = self.run_id_of(session, message["run"], "stage")
        self.scheduler.move_run(run_id, message["stage"], visit=message.get("visit"))
        run = self.runs.get(run_id)
        if run is not None:
            run.stage = message["stage"]

    def _submit(self, session: Session, message: dict[str, Any]) -> None:
        task = self.new_task(session, message)
        run = message["run"]
        run_id = None if run is None else self.run_id_of(session, run, "submit", task)
        number = next(self._numbers)
        ticket = FrontTicket(number, self._answered, message["backend"], run_id, message)
        session.tasks[task] = number
        self._owners[number] = (session, task)
        self.tickets[number] = ticket
        try:
            self.scheduler.submit(ticket)  # answered now or later, on the ticket (fail-open)
        except BaseException:  # a bug: the client is told to run it unscheduled (``receive``)
            self._drop(session, task)
            raise

    def _release(self, session: Session, message: dict[str, Any]) -> None:
        ticket = self._drop(session, message["task"])
        if ticket is None:
            return  # unknown or already answered: harmless
        if ticket.answer is Answer.GRANTED:
            usage = message.get("usage")
            self.scheduler.release(ticket, Usage() if usage is None else Usage(**usage))
        else:
            self.scheduler.withdraw(ticket)  # it stopped waiting

    def _end(self, session: Session, message: dict[str, Any]) -> None:
        run_id = session.runs.pop(message["run"], None)
        if run_id is not None:
            self.runs.pop(run_id, None)
            self.scheduler.finish_run(run_id, complete=not message.get("partial"))

    def _suspend(self, session: Session, message: dict[str, Any]) -> None:
        run_id = session.runs.get(message["run"])  # kept: the session may resume it
        if run_id is not None:
            self.scheduler.suspend_run(run_id)

    def _resume(self, session: Session, message: dict[str, Any]) -> None:
        run = message["run"]
        self.check_new_run(session, run, "resume")
        run_id = session.runs.get(run, session.scoped_run_id(run))
        self.scheduler.resume_run(run_id, message["app"])  # one it lost: anew, unlearned
        session.runs[run] = run_id
        self.runs.setdefault(run_id, FrontRun(message["app"], time.monotonic()))

    def _prior(self, session: Session, message: dict[str, Any]) -> None:
        self.scheduler.add_prior(message["app"], prior_of(message))

    def _graph(self, session: Session, message: dict[str, Any]) -> None:
        graph = self.scheduler.learned_graph(message["app"])
        session.outbox.append(encode(graph_answer(message["app"], graph)))

    # -- helpers ------------------------------------------------------------------------------

    def _answered(self, ticket: FrontTicket) -> None:
        """A ticket was answered (any thread): route it at the next step, soon."""
        self._answers.append(ticket)
        flush_soon = self._flush_soon
        if not self._woken and flush_soon is not None:
            self._woken = True
            with contextlib.suppress(RuntimeError):  # the loop closed: the daemon is stopping
                flush_soon()

    def _drop(self, session: Session, task: int) -> FrontTicket | None:
        """Forget the client's ``task``; its ticket, if it had one."""
        number = session.tasks.pop(task, None)
        if number is None:
            return None
        self._owners.pop(number, None)
        return self.tickets.pop(number, None)
