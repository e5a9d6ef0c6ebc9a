"""An app in flight: where it is in its pre-sampled run and how much work it has left."""

from __future__ import annotations

from hermes_agents.cost import FanoutMode
from hermes_agents.sim.plans import AppPlan, CallPlan, VisitPlan


def _combine(costs: list[float], fanout: FanoutMode) -> float:
    if not costs:
        return 0.0
    return sum(costs) if fanout == "sum" else max(costs)


class AppRun:
    """One app's progress: the current visit, its calls still out, its true remaining work.

    ``remaining_s()`` is the true remaining service by the cost model: the calls of the current
    visit not yet released, plus every later visit, each visit's calls combined like the demand
    model's (``fanout``: sum or max). The oracle policy reads it.
    """

    __slots__ = (
        "_left",
        "_suffix",
        "arrival_s",
        "cold_wait_s",
        "fanout",
        "outstanding",
        "plan",
        "run_id",
        "visit",
        "visit_cold_s",
    )

    def __init__(self, plan: AppPlan, arrival_s: float, fanout: FanoutMode) -> None:
        self.plan = plan
        self.run_id = f"app{plan.index}"
        self.arrival_s = arrival_s
        self.fanout: FanoutMode = fanout
        self.visit = -1
        self.outstanding = 0
        self.cold_wait_s = 0.0
        self.visit_cold_s = 0.0
        self._left: list[float] = []
        suffix = [0.0]
        for visit in reversed(plan.visits):
            suffix.append(suffix[-1] + _combine([c.cost_s for c in visit.calls], fanout))
        self._suffix = suffix[::-1]  # _suffix[i]: work of visits i, i+1, ...

    @property
    def done(self) -> bool:
        """True when the last visit has finished."""
        return self.visit >= len(self.plan.visits)

    def next_visit(self) -> VisitPlan | None:
        """Move to the next visit and return it (None: the run is over)."""
        self.cold_wait_s += self.visit_cold_s
        self.visit += 1
        self.visit_cold_s = 0.0
        if self.done:
            self._left = []
            return None
        visit = self.plan.visits[self.visit]
        self.outstanding = len(visit.calls)
        self._left = [call.cost_s for call in visit.calls]
        return visit

    def call_done(self, call: CallPlan, cold_wait_s: float) -> bool:
        """A call of the current visit finished; True when the whole visit has."""
        self.outstanding -= 1
        self._left.remove(call.cost_s)
        # Parallel calls wait for a wake-up together: the visit is delayed by the longest wait.
        self.visit_cold_s = max(self.visit_cold_s, cold_wait_s)
        return self.outstanding == 0

    def remaining_s(self) -> float:
        """True remaining service from now (see the class docstring)."""
        if self.done:
            return 0.0
        return self._suffix[self.visit + 1] + _combine(self._left, self.fanout)

    @property
    def total_s(self) -> float:
        """True service of the whole run."""
        return self._suffix[0]
