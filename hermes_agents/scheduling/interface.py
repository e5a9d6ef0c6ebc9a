"""The scheduler interface: what every drop-in uses, and what every scheduler implements.

Like httpx's ``BaseTransport``: one small protocol, several implementations
(``LocalScheduler`` in this process, ``DaemonScheduler`` for a shared ``hermes serve``), and
no drop-in ever looks at which one it holds. An implementation provides:

==========================================  =================================================
``start_run(run_id, app, deadline, tier)``   an app run of class ``app`` starts
``move_run(run_id, stage, visit=None)``      the run starts a (new) visit of ``stage``
``finish_run(run_id)``                       the run ended (its trace is learned)
``suspend_run(run_id)``                      the run waits for a human (an interrupt)
``resume_run(run_id, app)``                  a suspended run continues
``submit(ticket)``                           queue one call; its answer comes on the ticket
``release(ticket, usage)``                   the call ended: free its slot, report its usage
``withdraw(ticket)``                         the caller stopped waiting (timeout, cancel)
``has_run(run_id)``                          whether the run is active here
``add_prior(app, prior)``                    the app's structural PDGraph (before any run)
``learned_graph(app)``                       the app's current PDGraph, or None
``snapshot()``                               the state as JSON data (``hermes status``)
``throttled(backend, status, retry_after)``  a call was refused with 429/503 (optional)
``close()``                                  free sockets, threads, workers
==========================================  =================================================

Every method is fail-open: none raises because scheduling broke. A ticket is answered exactly
once (``Ticket``): granted, withdrawn with a reason (its run ended while it waited), or failed
open (it runs unscheduled, counted in ``unscheduled_calls`` with one warning per outage, through
``Scheduler.fail_open``). What users call (``slot``, ``run``, ``enter_stage``) is built on
these, here, once.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import math
import sys
import time
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

from hermes_agents.bounds import checked_name
from hermes_agents.errors import ValidationError
from hermes_agents.scheduling.state import Usage
from hermes_agents.scheduling.ticket import Answer, Ticket
from hermes_agents.scheduling.tiers import Tier, checked_deadline_s, checked_tier

if TYPE_CHECKING:
    from hermes_agents.pdgraph import PDGraph
    from hermes_agents.scheduling.slot import Slot

logger = logging.getLogger(__name__)

__all__ = [
    "SUSPENDED_RUN_TTL_S",
    "Answer",
    "RunContext",
    "RunScope",
    "Scheduler",
    "Ticket",
    "current_run",
]

SUSPENDED_RUN_TTL_S = 24 * 3600.0
"""How long a suspended run can be resumed; after that it is dropped, and never learned."""


@dataclass(frozen=True)
class RunContext:
    """The app run that calls in this context belong to."""

    scheduler: Scheduler
    run_id: str


current_run: contextvars.ContextVar[RunContext | None] = contextvars.ContextVar(
    "hermes_current_run", default=None
)


class Scheduler(ABC):
    """Slots and run scopes over some scheduler (see the module docstring).

    >>> from hermes_agents.scheduling import BackendLimits, LocalScheduler
    >>> scheduler = LocalScheduler.in_process({"llm": BackendLimits(max_concurrency=2)})
    >>> with scheduler.run("qa"):
    ...     with scheduler.slot("llm", stage="answer"):
    ...         pass  # call the backend here
    """

    def __init__(self) -> None:
        self.unscheduled_calls = 0
        """Calls that ran without a slot because scheduling failed (each counted once)."""
        self._warned = False

    # -- what users call ----------------------------------------------------------------------

    def slot(
        self,
        backend: str,
        *,
        stage: str | None = None,
        estimate_s: float = 0.0,
        tokens: int = 0,
        timeout: float | None = None,
        visit: str | None = None,
    ) -> Slot:
        """A slot on ``backend``: use with ``with`` or ``async with`` (see ``Slot``).

        ``stage``: the app stage making the call (default: the LangGraph node running here);
        ``visit``: names the stage visit (calls of parallel branches each find their own);
        ``estimate_s``: expected service seconds; ``tokens``: prompt + output tokens (for
        token budgets); ``timeout``: seconds to wait for admission before ``TimeoutError``.
        """
        return (_SLOT or _slot_type())(
            self,
            backend,
            stage=stage,
            visit=visit,
            estimate_s=estimate_s,
            tokens=tokens,
            timeout=timeout,
        )

    def run(
        self,
        app: str,
        *,
        deadline: float | None = None,
        deadline_s: float | None = None,
        tier: str | None = None,
    ) -> RunScope:
        """Scope an app run of class ``app``; calls inside it share the run's rank.

        ``deadline_s``: the run should end this many seconds after it starts (deadline
        policies: ``hermes-ddl``, ``edf``, ``least-slack``); ``deadline``: the same as a time
        on the ``time.monotonic()`` clock (give one or the other). ``tier``: ``critical``,
        ``standard`` or ``sheddable`` (``+tiers`` policies); None takes the class's from the
        configuration (``[apps.NAME]``), as does a missing deadline (its ``slo_s``). Bad values
        raise a ``ValidationError`` here, before the run starts.
        """
        return RunScope(self, app, deadline, deadline_s=deadline_s, tier=tier)

    def enter_stage(self, stage: str, *, visit: str | None = None) -> None:
        """The current run starts a (new) visit of ``stage`` (a loop iteration counts).

        A named ``visit`` is entered once, however often it is named.
        """
        run_id = self.current_run_id()
        if run_id is not None:
            self.move_run(run_id, stage, visit=visit)

    def current_run_id(self) -> str | None:
        """The run of this scheduler that the calling context belongs to (None: none)."""
        context = current_run.get()
        if context is not None and context.scheduler is self and self.has_run(context.run_id):
            return context.run_id
        return None

    def fail_open(self, ticket: Ticket, reason: str) -> None:
        """Answer ``ticket``: run unscheduled; count it once and warn once per outage."""
        if ticket.fail_open(reason):
            self.count_unscheduled(1, reason)

    def count_unscheduled(self, calls: int, reason: str) -> None:
        """Count ``calls`` that run unscheduled; warn the first time (until ``recovered``)."""
        self.unscheduled_calls += calls
        if not self._warned:
            self._warned = True
            failing = logger.isEnabledFor(logging.DEBUG) and sys.exc_info()[0] is not None
            logger.warning("%s; calls continue unscheduled", reason, exc_info=failing)

    def recovered(self, message: str | None = None) -> None:
        """Scheduling works again: the next failure warns again (``message`` says so)."""
        if self._warned and message is not None:
            logger.warning(message)
        self._warned = False

    # -- what an implementation provides ------------------------------------------------------

    @abstractmethod
    def start_run(
        self, run_id: str, app: str, *, deadline: float | None = None, tier: Tier | None = None
    ) -> None:
        """An app run of class ``app`` starts (``deadline``: on ``time.monotonic()``; ``tier``:
        None takes the class's)."""

    @abstractmethod
    def move_run(self, run_id: str, stage: str, *, visit: str | None = None) -> None:
        """The run starts a (new) visit of ``stage``; a named ``visit`` is entered once."""

    @abstractmethod
    def finish_run(self, run_id: str, *, complete: bool = True) -> None:
        """The run ended: its waiting calls are withdrawn, its trace is learned; with
        ``complete=False`` (it raised or was cancelled) it is a partial run: not learned, and
        counted. A run some of whose calls ran unscheduled is partial too."""

    def suspend_run(self, run_id: str) -> None:  # noqa: B027 (optional: see below)
        """The run waits for a human (a LangGraph interrupt): until ``resume_run`` it holds no
        slot (its waiting calls are withdrawn), has no rank and gets no warm-up; its position,
        visits and attained service are kept. A run not resumed within
        ``SUSPENDED_RUN_TTL_S`` is dropped without being learned.

        The default keeps the run active: right for a scheduler that neither ranks nor warms.
        """

    def resume_run(self, run_id: str, app: str) -> None:
        """The suspended run ``run_id`` continues where it stopped. If it is gone (expired, or
        this scheduler never saw it: a resume in another process, a restarted daemon), a run
        of class ``app`` starts under that id from here on, and is not learned: it is not a
        whole run.

        The default starts the run if it is not active (see ``suspend_run``).
        """
        if not self.has_run(run_id):
            self.start_run(run_id, app)

    @abstractmethod
    def submit(self, ticket: Ticket) -> None:
        """Queue ``ticket``'s call; answer it (now or later) on the ticket, exactly once."""

    @abstractmethod
    def release(self, ticket: Ticket, usage: Usage) -> None:
        """``ticket``'s call ended (or never ran): free its slot, report ``usage``."""

    @abstractmethod
    def withdraw(self, ticket: Ticket) -> None:
        """The caller stopped waiting: withdraw the task, or release it if granted."""

    @abstractmethod
    def has_run(self, run_id: str) -> bool:
        """Whether ``run_id`` is an active run of this scheduler."""

    @abstractmethod
    def add_prior(self, app: str, prior: PDGraph) -> None:
        """``app``'s structural PDGraph, to rank its runs before any was observed."""

    @abstractmethod
    def learned_graph(self, app: str) -> PDGraph | None:
        """``app``'s current PDGraph (prior and observed runs), or None if unknown."""

    @abstractmethod
    def snapshot(self) -> dict[str, Any]:
        """The scheduler's state as JSON data (the shape of ``hermes status --json``)."""

    def throttled(  # noqa: B027 (optional: only schedulers with ``auto`` backends listen)
        self, backend: str, status: int, retry_after_s: float | None = None
    ) -> None:
        """A call on ``backend`` was refused with ``status`` 429 or 503 (and ``Retry-After``):
        an ``auto`` window shrinks (``hermes_agents.capacity``). Never blocks or raises. The
        default ignores it."""

    def close(self) -> None:  # noqa: B027 (optional hook: most schedulers hold nothing)
        """Free what the scheduler holds (sockets, threads, prewarm workers)."""


def _slot_type() -> type[Slot]:
    """``Slot`` (imported on first use: it imports this module)."""
    global _SLOT
    if _SLOT is None:
        from hermes_agents.scheduling.slot import Slot

        _SLOT = Slot
    return _SLOT


_SLOT: type[Slot] | None = None


class RunScope:
    """One app run: ``with scheduler.run("app"):`` or ``async with``; calls inside share it."""

    def __init__(
        self,
        scheduler: Scheduler,
        app: str,
        deadline: float | None,
        *,
        deadline_s: float | None = None,
        tier: str | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.app = checked_name(app, "app")
        if deadline is not None and not (
            isinstance(deadline, int | float)
            and not isinstance(deadline, bool)
            and math.isfinite(deadline)
        ):
            raise ValidationError(f"must be a finite time, got {deadline!r}", "field 'deadline'")
        if deadline is not None and deadline_s is not None:
            raise ValidationError("give deadline or deadline_s, not both", "field 'deadline_s'")
        self.deadline = deadline
        self.deadline_s = None if deadline_s is None else checked_deadline_s(deadline_s)
        self.tier = None if tier is None else checked_tier(tier)
        self.run_id = f"{app}-{uuid.uuid4().hex[:12]}"
        self._token: contextvars.Token[RunContext | None] | None = None

    def enter_stage(self, stage: str, *, visit: str | None = None) -> None:
        """This run starts a (new) visit of ``stage``; a named ``visit`` is entered once."""
        self.scheduler.move_run(self.run_id, stage, visit=visit)

    def __enter__(self) -> RunScope:
        deadline = self.deadline
        if self.deadline_s is not None:
            deadline = time.monotonic() + self.deadline_s  # the run starts now
        if self.tier is None:  # implementations that predate tiers keep working
            self.scheduler.start_run(self.run_id, self.app, deadline=deadline)
        else:
            self.scheduler.start_run(self.run_id, self.app, deadline=deadline, tier=self.tier)
        self._token = current_run.set(RunContext(self.scheduler, self.run_id))
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._token is not None:
            # exited in another context (a generator closed elsewhere): nothing to reset
            with contextlib.suppress(ValueError):
                current_run.reset(self._token)
        # a run that raised or was cancelled was seen only in part: not learned as whole
        self.scheduler.finish_run(self.run_id, complete=kind is None)

    async def __aenter__(self) -> RunScope:
        return self.__enter__()

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(kind, error, tb)
