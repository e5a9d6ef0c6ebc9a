"""Tiers under a burst: does a flood of sheddable batch apps leave the critical tier alone?

The scenario: a stream of paper-mix apps in the ``critical`` tier (Poisson, the workload's
rate times ``load``), and, in a second run on the same apps, a burst of ``burst`` sheddable
batch apps (classes ``BATCH_CLASSES``) that all arrive at ``burst_at_s``. The figure is the
critical tier's P95 ACT with the burst against its P95 without it, under each policy. With
tiers (``gittins+tiers``) the burst waits behind every critical call, but admission is not
preemptive: a batch call admitted while no critical call waited keeps its slot until it ends.
The headroom rule (``scheduling.reserve``: sheddable calls hold at most ``sheddable_share`` of
a backend's slots while critical work is about) is what keeps the burst from filling every
slot; ``sheddable_share=1`` turns it off.

>>> result = burst_effect("gittins+tiers", apps=30, burst=10, seed=0)
>>> result.critical_apps
30
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hermes_agents.cost import CostModel
from hermes_agents.pdgraph import Arrivals, Workload
from hermes_agents.scheduling.tiers import DEFAULT_SHEDDABLE_SHARE, Tier
from hermes_agents.sim.arrivals import ArrivalSpec
from hermes_agents.sim.deadlines import with_tiers
from hermes_agents.sim.demand import ProfiledModels
from hermes_agents.sim.enforce import Capacity
from hermes_agents.sim.plans import AppPlan, draw_plans
from hermes_agents.sim.servers import EngineShape
from hermes_agents.sim.simulator import SimConfig, Simulation, scheduler_cost
from hermes_agents.workloads import builtin

BATCH_CLASSES = ("langchain_mapreduce", "got_docmerge", "factool_kbqa")
"""The burst's classes: the batch-like, fan-out-heavy apps of paper-mix."""


@dataclass(frozen=True)
class BurstEffect:
    """The critical tier's ACT without and with the burst (same critical apps, same seed)."""

    policy: str
    critical_apps: int
    quiet_p95_s: float
    burst_p95_s: float
    quiet_mean_s: float
    burst_mean_s: float
    sheddable_mean_s: float

    @property
    def p95_change(self) -> float:
        """How much higher the critical P95 is with the burst (0.1 = 10% higher)."""
        return self.burst_p95_s / self.quiet_p95_s - 1.0


@dataclass(frozen=True)
class BurstScenario:
    """The apps of one seed: the critical stream and the burst (``burst_scenario``)."""

    workload: Workload
    models: ProfiledModels
    critical: Sequence[AppPlan]
    burst: Sequence[AppPlan]

    def simulation(self, config: SimConfig, *, with_burst: bool) -> Simulation:
        """A simulation of the critical stream, alone or with the burst."""
        plans = [*self.critical, *self.burst] if with_burst else self.critical
        return Simulation(self.workload, config, plans, self.models)


def burst_scenario(
    *,
    apps: int = 200,
    burst: int = 100,
    burst_at_s: float = 300.0,
    load: float = 1.0,
    seed: int = 0,
) -> BurstScenario:
    """``apps`` critical paper-mix apps and ``burst`` sheddable batch apps at ``burst_at_s``."""
    workload = _tiered(builtin("paper-mix"))
    cost = scheduler_cost(workload, "sum")
    models = ProfiledModels(workload.apps, cost)
    critical = draw_plans(workload, apps, seed, ArrivalSpec(), cost)
    rate = (workload.arrivals or Arrivals()).rate_per_s * load
    batch = _burst_plans(workload, cost, burst, seed, burst_at_s * rate, len(critical))
    return BurstScenario(workload, models, critical, batch)


def burst_effect(
    policy: str,
    *,
    apps: int = 200,
    burst: int = 100,
    burst_at_s: float = 300.0,
    load: float = 1.0,
    seed: int = 0,
    sheddable_share: float = DEFAULT_SHEDDABLE_SHARE,
    capacity: Capacity | None = None,
    engine: EngineShape | None = None,
) -> BurstEffect:
    """Simulate the critical stream alone and with the burst under ``policy``, every backend
    keeping ``sheddable_share`` of headroom (``BackendLimits``; 1: none); ``capacity`` and
    ``engine`` as in ``SimConfig`` (None: the workload's)."""
    scenario = burst_scenario(apps=apps, burst=burst, burst_at_s=burst_at_s, load=load, seed=seed)
    config = SimConfig(
        policy=policy,
        load=load,
        seed=seed,
        sheddable_share=sheddable_share,
        capacity=capacity or Capacity(),
        engine=engine or EngineShape(),
    )
    quiet = scenario.simulation(config, with_burst=False).run()
    loud = scenario.simulation(config, with_burst=True).run()
    critical = len(scenario.critical)
    quiet_act = quiet.act_s
    loud_act = loud.act_s[:critical]
    return BurstEffect(
        policy,
        critical,
        float(np.percentile(quiet_act, 95)),
        float(np.percentile(loud_act, 95)),
        float(quiet_act.mean()),
        float(loud_act.mean()),
        float(loud.act_s[critical:].mean()),
    )


def _tiered(workload: Workload) -> Workload:
    """Every class critical; the burst's plans are made sheddable one by one."""
    return with_tiers(workload, dict.fromkeys(workload.apps, Tier.CRITICAL))


def _burst_plans(
    workload: Workload, cost: CostModel, count: int, seed: int, unit_at: float, first_index: int
) -> Sequence[AppPlan]:
    """``count`` sheddable batch apps, all arriving at unit time ``unit_at``."""
    batch = {name: workload.apps[name] for name in BATCH_CLASSES}
    only_batch = dataclasses.replace(workload, apps=batch, service={})
    plans = draw_plans(only_batch, count, seed + 10_000, ArrivalSpec(), cost)
    return [
        dataclasses.replace(
            plan, index=first_index + plan.index, unit_arrival=unit_at, tier=Tier.SHEDDABLE
        )
        for plan in plans
    ]
