"""The in-process scheduler: one ``SchedulerCore`` behind a lock, for asyncio code and threads.

``with scheduler.slot("llm"):`` and ``async with scheduler.slot("llm"):`` wait for admission,
woken by the grant itself (no polling). Calls made inside ``scheduler.run("my-app")`` belong to
that app run; calls outside any run are one-call apps.

Every change takes the lock, changes the core, then runs the one driver step
(``driver.Driver``): grants and withdrawals answer their tickets, the prewarmer hears of them,
one timer is armed for the next check. Learning from finished runs (which writes the profile
store) happens after the lock is released, in the thread that ended the run.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from itertools import count
from typing import TYPE_CHECKING, Any

from hermes_agents.cost import CostModel
from hermes_agents.pdgraph import PDGraph
from hermes_agents.scheduling.core import SchedulerCore
from hermes_agents.scheduling.decisions import FinishedRun, Grant, Withdrawal
from hermes_agents.scheduling.driver import Driver
from hermes_agents.scheduling.interface import Scheduler, Ticket, current_run
from hermes_agents.scheduling.models import AppModels
from hermes_agents.scheduling.policies import Policy, policy_named
from hermes_agents.scheduling.prewarming import Prewarmer, PrewarmSetup
from hermes_agents.scheduling.snapshot import core_snapshot, prewarm_snapshot
from hermes_agents.scheduling.state import UNLIMITED, BackendLimits, Usage
from hermes_agents.scheduling.ticket import Answer
from hermes_agents.scheduling.tiers import Tier

if TYPE_CHECKING:
    from hermes_agents.capacity.runtime import CapacityRuntime

SCHEDULER_ERROR = "hermes scheduler error"


class LocalScheduler(Scheduler):
    """Thread-safe front of a ``SchedulerCore`` in this process."""

    def __init__(self, core: SchedulerCore, *, prewarmer: Prewarmer | None = None) -> None:
        super().__init__()
        self.core = core
        self.prewarmer = prewarmer
        """Carries the core's prewarm hints to backends (needs a core with a planner)."""
        self.capacity: CapacityRuntime | None = None
        """Moves the windows of ``auto`` backends (``capacity.build.run_in_process``)."""
        self._lock = threading.Lock()
        self._waiting: dict[int, Ticket] = {}
        self._one_call_ids = count(1)
        self._alarm = ThreadAlarm(core.clock, self._on_alarm)
        self.driver = Driver(
            core,
            _TicketAnswers(self),
            warmups=prewarmer,
            alarm=self._alarm,
            learning=self._learn,
        )
        self.started_at_s = core.clock()

    @classmethod
    def in_process(
        cls,
        backends: Mapping[str, BackendLimits] | None = None,
        *,
        policy: str | Policy = "gittins",
        models: AppModels | None = None,
        cost: CostModel | None = None,
        prewarm: PrewarmSetup | None = None,
    ) -> LocalScheduler:
        """A scheduler on the monotonic clock; unconfigured backends are unlimited.

        ``prewarm`` (adapters and warm-up specs per backend) turns prewarming on.
        """
        cost = cost or CostModel()
        core = SchedulerCore(
            backends or {},
            policy_named(policy) if isinstance(policy, str) else policy,
            time.monotonic,
            models=models or AppModels(cost),
            cost=cost,
            default_limits=UNLIMITED,
            planner=prewarm.planner() if prewarm is not None else None,
        )
        prewarmer = prewarm.prewarmer(core.clock) if prewarm is not None else None
        return cls(core, prewarmer=prewarmer)

    # -- the scheduler interface --------------------------------------------------------------

    def start_run(
        self, run_id: str, app: str, *, deadline: float | None = None, tier: Tier | None = None
    ) -> None:
        self._act(lambda: self.core.start_run(run_id, app, deadline=deadline, tier=tier))

    def move_run(self, run_id: str, stage: str, *, visit: str | None = None) -> None:
        self._act(lambda: self.core.enter_stage(run_id, stage, visit=visit))

    def finish_run(self, run_id: str, *, complete: bool = True) -> None:
        self._act(lambda: self.core.finish_run(run_id, learn=complete, partial=not complete))

    def fail_open(self, ticket: Ticket, reason: str) -> None:
        """Answer ``ticket`` unscheduled (under the lock); its run becomes partial: one of its
        calls was not seen, so it is not learned as a whole run."""
        super().fail_open(ticket, reason)
        if ticket.run_id is not None:
            self.core.mark_partial(ticket.run_id)

    def suspend_run(self, run_id: str) -> None:
        self._act(lambda: self.core.suspend_run(run_id))

    def resume_run(self, run_id: str, app: str) -> None:
        self._act(lambda: self.core.resume_run(run_id, app))

    def submit(self, ticket: Ticket) -> None:
        with self._lock:  # _act, unrolled: this is the hot path
            try:
                run_id = ticket.run_id
                if run_id is None:  # a one-call app: its run ends with the slot
                    run_id = f"call-{next(self._one_call_ids)}"
                    self.core.start_run(run_id, f"call:{ticket.backend}")
                    ticket.handle = run_id
                task = ticket.task = self.core.submit(  # positional: the hot path
                    run_id,
                    ticket.backend,
                    ticket.stage,
                    ticket.estimate_s,
                    ticket.tokens,
                    ticket.visit,
                )
                self._waiting[task] = ticket
            except Exception:
                self._drop(ticket)
                self.fail_open(ticket, SCHEDULER_ERROR)
            decisions = self.driver.step()  # a queued call is always news
        if decisions.finished:
            self.driver.learn(decisions)

    def release(self, ticket: Ticket, usage: Usage) -> None:
        task = ticket.task
        if task is None:
            return  # never queued, failed open or withdrawn: the core holds nothing
        ticket.task = None  # released once, whoever calls again
        with self._lock:  # _act, unrolled: this is the hot path
            try:
                self.core.release(task, usage)
            except Exception:
                self.count_unscheduled(0, SCHEDULER_ERROR)
            if isinstance(ticket.handle, str):  # a one-call app: nothing to learn
                self._finish_quietly(ticket.handle)
            if not self.core.needs_step():
                return  # driver.step_on_change(), written out: nothing new, nothing to learn
            decisions = self.driver.step()
        if decisions.finished:
            self.driver.learn(decisions)

    def withdraw(self, ticket: Ticket) -> None:
        if ticket.task is not None:  # a grant that raced the withdrawal is released too
            self._act(lambda: self._drop(ticket))

    def has_run(self, run_id: str) -> bool:
        return run_id in self.core.runs

    def current_run_id(self) -> str | None:
        context = current_run.get()  # Scheduler.current_run_id, written out: the hot path
        if context is not None and context.scheduler is self and context.run_id in self.core.runs:
            return context.run_id
        return None

    def add_prior(self, app: str, prior: PDGraph) -> None:
        models = self.core.models
        if models is not None:
            models.add(app, prior)

    def learned_graph(self, app: str) -> PDGraph | None:
        models = self.core.models
        return models.graph(app) if models is not None else None

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            state = core_snapshot(self.core, started_at_s=self.started_at_s)
        state["counters"] = {
            "unscheduled_calls": self.unscheduled_calls,
            "partial_runs": self.core.partial_runs,
        }
        state["prewarm"] = prewarm_snapshot(self.prewarmer)
        return state

    def close(self) -> None:
        """Stop prewarming (timer and worker threads); queued calls are unaffected."""
        self._alarm.cancel()
        if self.capacity is not None:
            self.capacity.close()
        if self.prewarmer is not None:
            self.prewarmer.close()

    def throttled(self, backend: str, status: int, retry_after_s: float | None = None) -> None:
        if self.capacity is not None:
            from hermes_agents.capacity.window import Throttle  # auto backends only

            self.capacity.throttled(backend, Throttle(status, retry_after_s))

    def apply(self, change: Callable[[SchedulerCore], object]) -> None:
        """Run ``change(core)`` under the lock, then one driver step, then learn: for drivers
        that batch several changes into one step (a replay of recorded events)."""
        self._act(lambda: change(self.core))

    # -- the driver loop ----------------------------------------------------------------------

    def _act(self, change: Callable[[], object]) -> None:
        """Change the core, then run the driver step, under the lock; learn after it.

        Fails open: a change that raises is logged (once per outage); the step runs anyway, so
        a slot freed before the failure is still granted. (``submit`` and ``release`` are this,
        written out for the hot path.)
        """
        with self._lock:
            try:
                change()
            except Exception:
                self.count_unscheduled(0, SCHEDULER_ERROR)
            decisions = self.driver.step_on_change()
        self.driver.learn(decisions)

    def _drop(self, ticket: Ticket) -> None:
        """Take the ticket's task and one-call run out of the core (a withdrawal, or what a
        failed submit left; best effort)."""
        task, ticket.task = ticket.task, None
        try:
            if task is not None:
                self._waiting.pop(task, None)
                self.core.cancel(task)
            if isinstance(ticket.handle, str):
                self.core.finish_run(ticket.handle, learn=False)
        except Exception:
            self.count_unscheduled(0, SCHEDULER_ERROR)

    def _finish_quietly(self, run_id: str) -> None:
        try:
            self.core.finish_run(run_id, learn=False)
        except Exception:
            self.count_unscheduled(0, SCHEDULER_ERROR)

    def run_rank(self, run_id: str) -> float | None:
        """The active run's Gittins rank now (None: unknown run, or no finite rank)."""
        return self._rank_of(run_id)

    def queue_priority(self, task_id: int | None) -> float | None:
        """The policy's priority now of the call ``task_id`` (held or waiting here): the order
        a queue shared with other processes (Redis) keeps it in; None: unknown call, or no
        finite priority."""
        with self._lock:
            task = self.core.tasks.get(task_id) if task_id is not None else None
            if task is None:
                return None
            return _finite(self.core.order.priority(task, self.core.clock()))

    def run_app(self, run_id: str) -> str | None:
        """The app class of the active run ``run_id`` (None: unknown run)."""
        run = self.core.runs.get(run_id)
        return run.app if run is not None else None

    def _ticket_rank(self, ticket: Ticket) -> float | None:
        """The rank of ``ticket``'s run now (its own one-call run if it has none)."""
        run_id = ticket.run_id if ticket.run_id is not None else ticket.handle
        return self._rank_of(run_id) if isinstance(run_id, str) else None

    def _rank_of(self, run_id: str) -> float | None:
        """The run's rank now (read by a drop-in right after the grant, for a priority hint)."""
        with self._lock:
            run = self.core.runs.get(run_id)
            return _finite(run.rank) if run is not None else None

    def _learn(self, finished: Sequence[FinishedRun]) -> None:
        models = self.core.models
        if models is not None:
            for run in finished:
                models.observe(run.app, run.visits)

    def _on_alarm(self) -> None:
        with self._lock:  # a check time came: always step (``_act`` steps only on changes)
            decisions = self.driver.step()
        self.driver.learn(decisions)


class _TicketAnswers:
    """The driver's ``Answers`` for tickets waiting in this process (called under the lock)."""

    def __init__(self, scheduler: LocalScheduler) -> None:
        self.scheduler = scheduler
        self._waiting = scheduler._waiting
        self._ticket_rank = scheduler._ticket_rank

    def granted(self, grant: Grant) -> None:
        ticket = self._waiting.pop(grant.task_id, None)
        if ticket is not None:
            ticket.rank_of = self._ticket_rank  # read on demand
            ticket.settle(Answer.GRANTED)  # ticket.grant(), one call less: the hot path

    def withdrawn(self, withdrawal: Withdrawal) -> None:
        ticket = self.scheduler._waiting.pop(withdrawal.task_id, None)
        if ticket is not None:
            ticket.task = None
            ticket.withdraw(withdrawal.reason)

    def fail_all(self, reason: str) -> None:
        waiting = list(self.scheduler._waiting.values())
        self.scheduler._waiting.clear()
        for ticket in waiting:
            self.scheduler._drop(ticket)  # no task, no one-call run left behind
            self.scheduler.fail_open(ticket, reason)


class ThreadAlarm:
    """The driver's ``Alarm`` on a ``threading.Timer`` (one at a time)."""

    def __init__(self, clock: Callable[[], float], action: Callable[[], None]) -> None:
        self.clock, self.action = clock, action
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()

    def set(self, when_s: float) -> None:
        timer = threading.Timer(max(0.0, when_s - self.clock()), self.action)
        timer.daemon = True
        with self._lock:
            previous, self._timer = self._timer, timer
        if previous is not None:
            previous.cancel()
        timer.start()

    def cancel(self) -> None:
        with self._lock:
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()


def _finite(rank: float) -> float | None:
    return rank if math.isfinite(rank) else None
