"""Demand models per app class: a learner each, and its current remaining-demand sampler."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

from hermes_agents.cost import CostModel
from hermes_agents.pdgraph import Learner, PDGraph, RemainingDemand, Visit


class AppModels:
    """Learners and ``RemainingDemand`` models per app class (the core's ``DemandModels``).

    The sampler is rebuilt from the learner's graph once ``refresh_every`` runs were observed
    since the last build and at least ``min_refresh_s`` (on ``clock``) went by, so its caches
    (walks, Gittins tables) stay warm between refreshes and a busy class does not rebuild them
    many times a second.
    """

    def __init__(
        self,
        cost: CostModel | None = None,
        *,
        refresh_every: int = 10,
        min_refresh_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        seed: int = 0,
    ) -> None:
        self.cost = cost or CostModel()
        self.refresh_every = refresh_every
        self.min_refresh_s = min_refresh_s
        self.clock = clock
        self.seed = seed
        self._learners: dict[str, Learner] = {}
        self._demand: dict[str, RemainingDemand] = {}
        self._built_s: dict[str, float] = {}

    def add(self, app: str, prior: PDGraph | None = None) -> Learner:
        """Start learning ``app`` (from ``prior`` if given); returns its learner."""
        learner = self._learners.get(app)
        if learner is None or (prior is not None and learner.runs_observed == 0):
            learner = self._learners[app] = Learner(app, prior)
            self._demand.pop(app, None)
        return learner

    def graph(self, app: str) -> PDGraph | None:
        """The current PDGraph of ``app`` (None before any prior or run)."""
        learner = self._learners.get(app)
        if learner is None or (learner.prior is None and learner.runs_observed == 0):
            return None
        return learner.graph()

    def demand(self, app: str) -> RemainingDemand | None:
        """The remaining-demand model of ``app``, refreshed every ``refresh_every`` runs."""
        current = self._demand.get(app)
        learner = self._learners.get(app)
        if learner is None:
            return None
        if current is None or self._stale(app, current, learner):
            graph = self.graph(app)
            if graph is None:
                return None
            current = self._demand[app] = RemainingDemand(graph, self.cost, seed=self.seed)
            self._built_s[app] = self.clock()
        return current

    def observe(self, app: str, run: Sequence[Visit]) -> None:
        """Learn from one finished run of ``app``."""
        self.add(app).observe(run)

    def _stale(self, app: str, current: RemainingDemand, learner: Learner) -> bool:
        if learner.runs_observed - self._built_at(current) < self.refresh_every:
            return False
        return self.clock() - self._built_s.get(app, -math.inf) >= self.min_refresh_s

    def _built_at(self, demand: RemainingDemand) -> int:
        prior = self._learners[demand.graph.name].prior
        return demand.graph.version - (prior.version if prior is not None else 0)
