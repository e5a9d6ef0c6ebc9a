"""The queues' upkeep: fresh heap entries for the waiting tasks of runs that moved, slots
held past their backend's hold bound (``max_hold_s``) taken back, every waiting task dropped
when the driver failed their callers open, and when the driver must ask again (the record of a
step with nothing to do).

A part of ``SchedulerCore`` (a mixin over the core's own state); admission itself (``submit``,
``step``) is in ``core``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from hermes_agents.scheduling.decisions import NOTHING, Decisions, Grant
from hermes_agents.scheduling.ordering import QueueOrder
from hermes_agents.scheduling.queues import Queues
from hermes_agents.scheduling.state import QueueState, Run, Task, Usage

logger = logging.getLogger(__name__)


class QueueUpkeep:
    """``SchedulerCore``'s queue upkeep (see the module docstring)."""

    backends: dict[str, QueueState]
    queues: Queues
    order: QueueOrder
    tasks: dict[int, Task]
    clock: Callable[[], float]
    _dirty: set[str]
    _moved: dict[str, Run]
    _grants: list[Grant]
    _hold_check_s: float
    _next_check_s: float | None
    _idle: Decisions
    _idle_hold_s: float

    if TYPE_CHECKING:  # the core's own methods (stubs here would shadow them)

        def release(self, task_id: int, usage: Usage | None = None) -> None:  # SchedulerCore's
            ...

    def _reindex_moved(self) -> None:
        """Give the waiting tasks of runs that moved fresh heap entries."""
        for run in self._moved.values():
            for task_id in run.tasks:
                task = self.tasks[task_id]
                if task.started_at is None:
                    state = self.backends[task.backend]
                    self.order.index(state, task)
                    self._dirty.add(task.backend)
        self._moved.clear()
        for state in self.backends.values():
            self.order.compact(state)

    def _reclaim_overdue(self) -> None:
        """Take back every slot held past its backend's hold bound (the caller's later release
        finds nothing); then note when the next one may overstay."""
        now = self.clock()
        overdue, self._hold_check_s = self.queues.overdue(now)
        for task in overdue:
            assert task.started_at is not None
            logger.warning(
                "a call of run %s held its slot on %r for %.0f s (the hold bound); the slot "
                "is taken back, the call goes on unscheduled",
                task.run.run_id,
                task.backend,
                now - task.started_at,
            )
            self.backends[task.backend].reclaimed += 1
            self.release(task.task_id)

    def drop_waiting(self) -> None:
        """Take every waiting task out of its queue (their callers were failed open)."""
        for task_id in [task for state in self.backends.values() for task in state.waiting]:
            self.release(task_id)

    def _asking_again(self) -> Decisions:
        """The record of a step with nothing to do: when to ask again (planner or hold bound),
        or ``NOTHING``."""
        next_check_s, hold_check_s = self._next_check_s, self._hold_check_s
        self._idle_hold_s = hold_check_s
        if hold_check_s != math.inf and (next_check_s is None or hold_check_s < next_check_s):
            next_check_s = hold_check_s
        if next_check_s is None:
            return NOTHING
        if self._idle.next_check_s == next_check_s:
            return self._idle
        return Decisions(next_check_s=next_check_s)
