"""The prewarm planner's place in the core's step: plan when a run started, moved or ended
since the last plan, or when the time the planner asked for has come; a planner that fails is
logged once and gives no hints. A part of ``SchedulerCore`` (a mixin over its state).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from hermes_agents.prewarm import PlanStep, PrewarmPlanner
from hermes_agents.scheduling.state import Run

logger = logging.getLogger(__name__)


class WarmupPlanning:
    """``SchedulerCore``'s prewarm planning (see the module docstring)."""

    planner: PrewarmPlanner | None
    runs: dict[str, Run]
    clock: Callable[[], float]
    _planner_failed: bool
    _plan_due: bool
    _next_check_s: float | None

    def plan_warmups(self, awake: Mapping[str, bool | None] | None = None) -> PlanStep:
        """Run the prewarm planner over the active runs at ``clock()`` (no planner: no hints;
        ``step`` calls it when planning is due).

        Fails open: a planner error is logged once and yields no hints.
        """
        if self.planner is None:
            return PlanStep()
        try:
            return self.planner.plan(self.runs.values(), self.clock(), awake or {})
        except Exception:  # fail open: prewarming must never break scheduling
            if not self._planner_failed:
                self._planner_failed = True
                logger.warning("prewarm planning failed; no hints this time", exc_info=True)
            return PlanStep()

    def _planning_due(self) -> bool:
        due = self._plan_due or (
            self._next_check_s is not None and self.clock() >= self._next_check_s
        )
        self._plan_due = False
        return due
