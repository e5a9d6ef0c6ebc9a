"""What happens to a run besides its calls: a human's wait (suspend and resume), being seen
only in part (``mark_partial``), a model that arrives late (``refresh_demand``), and the
simulator's oracle. A part of ``SchedulerCore`` (a mixin: it works on the core's own state).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from hermes_agents.scheduling.state import DemandModels, Run
from hermes_agents.scheduling.tiers import Tier


class RunChanges:
    """``SchedulerCore``'s run operations other than calls (see the module docstring)."""

    runs: dict[str, Run]
    suspended: dict[str, tuple[Run, float]]
    suspended_ttl_s: float
    partial_runs: int
    models: DemandModels | None
    clock: Callable[[], float]
    _unlearned: set[str]
    _plan_due: bool

    if TYPE_CHECKING:  # the core's own methods (stubs here would shadow them)

        def start_run(
            self,
            run_id: str,
            app: str,
            *,
            deadline: float | None = None,
            true_remaining_s: float | None = None,
            tier: Tier | None = None,
        ) -> None:  # SchedulerCore's
            ...

        def _drop_tasks(self, run: Run) -> None:  # RunEnd's
            ...

        def _run_moved(self, run: Run) -> None:  # SchedulerCore's
            ...

        def _run(self, run_id: str) -> Run:  # SchedulerCore's
            ...

    def refresh_demand(self, app: str) -> None:
        """``app``'s model arrived (loaded off the driver's loop): its runs in flight that
        started without one rank by it from now on."""
        if self.models is None:
            return
        demand = self.models.demand(app)
        if demand is None:
            return
        for run in self.runs.values():
            if run.app == app and run.demand is None:
                run.demand = demand
                self._run_moved(run)

    def set_true_remaining(self, run_id: str, seconds: float) -> None:
        """The simulator tells the ``oracle`` policy a run's true remaining work."""
        run = self._run(run_id)
        run.true_remaining_s = seconds
        self._run_moved(run)

    def suspend_run(self, run_id: str) -> None:
        """Park the run (it waits for a human): its calls are withdrawn or released, the
        prewarm planner and the queues no longer see it; ``resume_run`` brings it back."""
        run = self.runs.pop(run_id, None)
        if run is None:
            return
        self._plan_due = True
        self._drop_tasks(run)
        self.suspended[run_id] = (run, self.clock())

    def resume_run(self, run_id: str, app: str) -> bool:
        """Continue a suspended run (True), with its position, visits and attained service;
        the wait counts as nothing (its arrival moves by it). A run not suspended here (it
        expired, or this core never saw it) starts afresh as a run of ``app`` that is never
        learned, being only part of a run (False)."""
        self._expire_suspended()
        if run_id in self.runs:
            return True  # resumed twice: it is running already
        parked = self.suspended.pop(run_id, None)
        if parked is None:
            self.start_run(run_id, app)
            self._unlearned.add(run_id)
            return False
        run, since = parked
        run.arrived_at += self.clock() - since
        self.runs[run_id] = run
        self._run_moved(run)
        return True

    def mark_partial(self, run_id: str) -> None:
        """The run was seen only in part (a call ran unscheduled, it was registered again
        after a daemon restart): it will not be learned as a whole run (``partial_runs``)."""
        if run_id in self.runs and run_id not in self._unlearned:
            self._unlearned.add(run_id)
            self.partial_runs += 1

    def _expire_suspended(self) -> None:
        """Drop, unlearned, the suspended runs older than ``suspended_ttl_s``."""
        cutoff = self.clock() - self.suspended_ttl_s
        for run_id, (_, since) in list(self.suspended.items()):
            if since > cutoff:
                break  # oldest first: the rest are younger
            del self.suspended[run_id]
            self._unlearned.discard(run_id)
