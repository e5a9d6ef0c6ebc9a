"""The one driver loop: ask the core for its ``Decisions`` and carry them out.

Every way of running the scheduler (the in-process ``LocalScheduler``, the daemon's
``DaemonService``, the simulator) changes the core (a run starts, a call is queued or
released, a run ends) and then calls ``Driver.step``, which:

1. asks ``core.step`` for one ``Decisions`` record, fed the prewarmer's awake beliefs;
2. answers the waiters (``Answers``): each grant, each withdrawal with its reason;
3. tells the prewarmer (``Warmups``) of each grant (an arrival) and each freed slot, and hands
   it the hints due now;
4. arms the one timer (``Alarm``) for the next time the core asked to be asked again;
5. hands the finished runs' traces to the learner (``Learning``); the in-process scheduler
   does that after its lock is released (``learn``), the daemon on a worker thread.

If the core itself raises (a bug, a broken model), nobody may be left waiting: every waiter
is answered through ``Answers.fail_all`` (its call runs unscheduled) and the failure is
logged once until a step works again.

::

    changes ──▶ core ──step(awake)──▶ Decisions ──▶ Driver ──▶ waiters (grant / withdrawn)
                                                          ├──▶ prewarmer (arrivals, freed, hints)
                                                          ├──▶ alarm (next_check_s)
                                                          └──▶ learner (finished traces)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from hermes_agents.prewarm import WarmHint
from hermes_agents.scheduling.core import SchedulerCore
from hermes_agents.scheduling.decisions import NOTHING, Decisions, FinishedRun, Grant, Withdrawal

logger = logging.getLogger(__name__)


class Answers(Protocol):
    """Whoever waits for tasks: the driver answers every one of them exactly once."""

    def granted(self, grant: Grant) -> None:
        """``grant.task_id`` may run now."""

    def withdrawn(self, withdrawal: Withdrawal) -> None:
        """``withdrawal.task_id`` left its queue without a grant (tell its caller why)."""

    def fail_all(self, reason: str) -> None:
        """The core failed: every task still waiting goes ahead unscheduled."""


class Warmups(Protocol):
    """The runtime half of prewarming: beliefs about backends, and hints carried out."""

    def awake(self) -> Mapping[str, bool | None]:
        """Per backend: awake (True), asleep (False), unknown (None or missing)."""

    def arrived(self, backend: str, run_id: str) -> None:
        """A call of ``run_id`` was admitted to ``backend``."""

    def released(self, backend: str) -> None:
        """A call on ``backend`` gave its slot back."""

    def apply(self, hints: Sequence[WarmHint]) -> None:
        """Start the hints due now (never blocks, never raises)."""


class Alarm(Protocol):
    """One timer: ``set(when_s)`` calls the driver back at ``when_s`` on the core's clock."""

    def set(self, when_s: float) -> None:
        """Replace any pending alarm with one at ``when_s``."""


Learning = Callable[[Sequence[FinishedRun]], None]
"""Takes the finished runs to learn from (may do I/O; never called under the lock)."""


class Driver:
    """Applies each ``Decisions`` of ``core`` (see the module docstring).

    Args:
        core: the scheduling core.
        answers: delivers grants and withdrawals to the callers.
        warmups: the prewarmer, if prewarming is on.
        alarm: the timer for ``next_check_s`` (needed with a planner).
        learning: where finished traces go; ``learn`` calls it.
    """

    def __init__(
        self,
        core: SchedulerCore,
        answers: Answers,
        *,
        warmups: Warmups | None = None,
        alarm: Alarm | None = None,
        learning: Learning | None = None,
    ) -> None:
        self.core = core
        self.answers = answers
        self.warmups = warmups
        self.alarm = alarm
        self.learning = learning
        self.failures = 0
        """Steps in which the core raised (each one failed every waiter open)."""
        self._alarm_at: float | None = None
        self._failing = False
        self._warmups_failing = False

    def step(self) -> Decisions:
        """Ask the core and carry out its decisions, except learning (see ``learn``)."""
        core = self.core
        warmups = self.warmups
        try:
            decisions = core.step(self._awake() if warmups is not None and core.planner else None)
        except Exception:
            self._core_failed()
            return NOTHING
        if self._failing:
            self._failing = False
        if decisions is NOTHING:
            return decisions
        if decisions.grants:
            granted = self.answers.granted
            for grant in decisions.grants:
                if warmups is not None:
                    try:
                        warmups.arrived(grant.backend, grant.run_id)
                    except Exception:
                        self._warmups_failed()
                granted(grant)
        if decisions.withdrawn:
            for withdrawal in decisions.withdrawn:
                self.answers.withdrawn(withdrawal)
        if warmups is not None:
            try:
                for backend in decisions.freed:
                    warmups.released(backend)
                if decisions.hints:
                    warmups.apply(decisions.hints)
            except Exception:
                self._warmups_failed()
        when_s = decisions.next_check_s
        if when_s is not None and when_s != self._alarm_at and self.alarm is not None:
            self._arm(when_s)
        return decisions

    def step_on_change(self) -> Decisions:
        """``step``, skipped (``NOTHING``) when the core has nothing new to say
        (``core.needs_step``): what drivers call after each change; the alarm calls ``step``."""
        if self.core.needs_step():
            return self.step()
        return NOTHING

    def learn(self, decisions: Decisions) -> None:
        """Hand ``decisions.finished`` to the learner (off any lock; never raises)."""
        if not decisions.finished or self.learning is None:
            return
        try:
            self.learning(decisions.finished)
        except Exception:  # fail open: learning must never break the app
            logger.warning("learning from finished runs failed", exc_info=True)

    def run(self) -> Decisions:
        """``step`` then ``learn``: for drivers without a lock (the simulator)."""
        decisions = self.step()
        self.learn(decisions)
        return decisions

    def _awake(self) -> Mapping[str, bool | None]:
        assert self.warmups is not None
        try:
            return self.warmups.awake()
        except Exception:
            self._warmups_failed()
            return {}

    def _warmups_failed(self) -> None:
        if not self._warmups_failing:
            self._warmups_failing = True
            logger.warning("prewarming failed; scheduling goes on unaffected", exc_info=True)

    def _arm(self, when_s: float) -> None:
        """One alarm, at the earliest time asked for that is still to come (an alarm whose
        time has passed has fired)."""
        assert self.alarm is not None
        pending = self._alarm_at
        if pending is not None and pending <= when_s and pending > self.core.clock():
            return
        self._alarm_at = when_s
        self.alarm.set(when_s)

    def _core_failed(self) -> None:
        self.failures += 1
        if not self._failing:
            self._failing = True
            logger.warning(
                "the scheduling core failed; waiting calls go ahead unscheduled", exc_info=True
            )
        self.answers.fail_all("the scheduling core failed")
        try:  # nobody waits for them any more: no task may stay queued
            self.core.drop_waiting()
        except Exception:
            logger.debug("dropping the waiting tasks failed too", exc_info=True)
