"""Demand models for the simulator: what the scheduling core knows about each app class.

The paper profiles each application offline and schedules with the profile; the simulator does
the same. ``ProfiledModels`` is the core's ``DemandModels``: for each class it builds one
``RemainingDemand`` from the workload's PDGraph (the class's profile, known up front) and keeps
it; finished runs teach it nothing (``observe`` is a no-op), so every policy sees the same
fixed model and results do not depend on learning speed.

Units: remaining demand is seconds of *service* by the cost model, with a visit's parallel calls
summed (``CostModel(fanout="sum")``: the work the app still puts on shared backends) or maxed
(``"max"``: its critical path). See docs/benchmarks.md for why ``sum`` is the default. Given a
``wall`` cost model (``sim.wall_cost``), the remaining *durations* that deadlines are judged by
(``RemainingDemand.durations_s``) are wall seconds on the simulated engines instead
(``WallClockDemand``); the ranks stay as they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from hermes_agents.cost import CostModel
from hermes_agents.pdgraph import PDGraph, RemainingDemand, StageKind, Visit


class WallClockDemand(RemainingDemand):
    """A class's remaining demand whose durations are priced with ``wall`` (wall seconds on
    the simulated engines); samples, ranks and first passages are ``cost``'s, as before."""

    def __init__(self, graph: PDGraph, cost: CostModel, wall: CostModel, *, seed: int) -> None:
        super().__init__(graph, cost, seed=seed)
        self.wall = wall
        self._durations: RemainingDemand | None = None  # built on first use

    def durations_s(
        self, stage: str, visits: Mapping[str, int] | None = None
    ) -> NDArray[np.float64]:
        """Per walk, the remaining duration on the critical path in wall seconds."""
        if self._durations is None:
            self._durations = RemainingDemand(self.graph, self.wall, seed=self.seed)
        return self._durations.durations_s(stage, visits)


class ProfiledModels:
    """``DemandModels`` from fixed per-class PDGraphs (offline profiles); no learning.

    >>> from hermes_agents.workloads import builtin
    >>> mix = builtin("paper-mix")
    >>> models = ProfiledModels(mix.apps, mix.cost_model())
    >>> models.demand("react_fever") is models.demand("react_fever")
    True
    """

    def __init__(
        self,
        apps: Mapping[str, PDGraph],
        cost: CostModel,
        *,
        seed: int = 0,
        wall: CostModel | None = None,
    ) -> None:
        self.apps = dict(apps)
        self.cost = cost
        self.seed = seed
        self.wall = wall
        """Prices remaining durations in wall seconds (None: ``cost`` prices them too)."""
        self._demand: dict[str, RemainingDemand] = {}
        self._stage_mean: dict[tuple[str, str], float] = {}

    def demand(self, app: str) -> RemainingDemand | None:
        """The class's remaining-demand sampler (built on first use, then reused)."""
        demand = self._demand.get(app)
        if demand is None:
            graph = self.apps.get(app)
            if graph is None:
                return None
            demand = self._demand[app] = (
                RemainingDemand(graph, self.cost, seed=self.seed)
                if self.wall is None
                else WallClockDemand(graph, self.cost, self.wall, seed=self.seed)
            )
        return demand

    def observe(self, app: str, run: Sequence[Visit]) -> None:
        """Profiles are fixed in the simulator: finished runs are not learned from."""

    def add(self, app: str, prior: PDGraph | None = None) -> None:
        """Profiles are fixed: a prior changes nothing."""

    def graph(self, app: str) -> PDGraph | None:
        """The class's fixed profile."""
        return self.apps.get(app)

    def class_rank(self, app: str, attained_s: float = 0.0) -> float:
        """Gittins rank of the class's whole-run demand after ``attained_s`` of service.

        The position in the graph is ignored: this is what a scheduler with one demand
        histogram per class (and no PDGraph) can compute.
        """
        demand = self.demand(app)
        assert demand is not None
        return demand.rank(demand.graph.entry, {}, attained_s)

    def stage_mean_s(self, app: str, stage: str) -> float:
        """Mean service seconds of one call of ``stage`` (the class-level estimate)."""
        key = (app, stage)
        mean = self._stage_mean.get(key)
        if mean is None:
            mean = self._stage_mean[key] = self._call_mean(self.apps[app], stage)
        return mean

    def _call_mean(self, graph: PDGraph, name: str) -> float:
        stage = graph.stages[name]
        if stage.kind != StageKind.LLM:
            return stage.seconds.mean if stage.seconds is not None else 0.0
        assert stage.prompt_tokens is not None
        assert stage.output_tokens is not None
        prefix = stage.prefix_tokens.mean if stage.prefix_tokens is not None else 0.0
        # The cost is linear in the tokens, so the mean cost is the cost of the means.
        return float(
            self.cost.llm_seconds(
                stage.backend,
                stage.prompt_tokens.mean,
                stage.output_tokens.mean,
                min(prefix, stage.prompt_tokens.mean),
            )
        )
