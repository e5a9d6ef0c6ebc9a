"""What limits deadline satisfaction: the share of deadlines any order could meet, measured.

Deadline satisfaction (the share of the apps with a deadline that finish by it) is judged on
Hermes's setup (``sim.deadlines``: a share of the apps with a deadline of 1.2 / 1.5 / 2 x
``scale`` x its class's longest run alone). Whether a target is reachable does not depend on
the order alone; this module measures what bounds it, on the same apps as ``run_bench`` (one
draw of apps and deadlines per seed, whatever the policy or load):

- **served alone**: each app on the idle engine with nothing else in the system (the load
  divided by ``ALONE_DIVISOR``): an app that misses its deadline alone misses it under every
  order, so the share met alone is the most any order can reach (every policy here gives a
  run's calls one priority, so an app's own calls go in the same order alone as shared);
- **served alone at full-batch speed**: the same with every decode step as long as a full
  batch's (the admission window's ``max_concurrency`` sequences): while the engine is
  saturated its batch is full and every token costs that step, whatever the order; not a
  strict bound (an order can leave the engine less than full), the bound under saturation;
- **a clairvoyant deadline oracle** (``DeadlineOracle``) under the same engine and window:
  least slack on each run's *true* remaining duration (its sampled calls priced in wall
  seconds with the window full, ``sim.wall_cost``, critical path), runs that can no longer
  make it demoted, with ``hermes-ddl``'s admission headroom for runs with a deadline; also
  without the headroom, without demotion, and with the engine ordering and preempting
  (``enforce = "engine"``: every call in the engine's queue, the oracle's exact priority, a
  full batch preempted for a better waiting call at no cost);
- **the deadline apps only**: the oracle and ``hermes-ddl`` on the same apps with those
  without a deadline removed: what the deadline-free apps cost the others, though they rank
  after them (the client window does not preempt, and every sequence they add to the batch
  slows every step);
- the policies of ``hermes bench`` on the same runs, and ``hermes-ddl`` without its headroom.

``DeadlineLimit.by_class`` says which classes carry the gap between them.

>>> limit = measure_deadline_limit(DeadlineLimitSpec(apps=12, seeds=(0,), load=1.0,
...     policies=("fcfs",), engine_oracle=False))
>>> limit.rows["served alone"].met >= limit.rows["fcfs"].met
True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from hermes_agents.cost import CostModel
from hermes_agents.errors import ValidationError
from hermes_agents.pdgraph import Arrivals, StageKind, Workload
from hermes_agents.pdgraph.service_levels import HERMES_SCALE
from hermes_agents.scheduling.core import SchedulerCore
from hermes_agents.scheduling.policies import NO_DEADLINE, HermesDdl, Policy, RunView, TaskView
from hermes_agents.scheduling.tiers import DEFAULT_SHEDDABLE_SHARE
from hermes_agents.sim.arrivals import ArrivalSpec
from hermes_agents.sim.bench import load_workload
from hermes_agents.sim.deadlines import with_deadlines
from hermes_agents.sim.demand import ProfiledModels
from hermes_agents.sim.enforce import Capacity
from hermes_agents.sim.lone import lone_base
from hermes_agents.sim.metrics import padded_deadlines
from hermes_agents.sim.plans import AppPlan, VisitPlan, draw_plans
from hermes_agents.sim.priority_limit import ALONE_DIVISOR, PriorityLimitSpec
from hermes_agents.sim.servers import EngineShape
from hermes_agents.sim.simulator import (
    SimConfig,
    SimResult,
    Simulation,
    scheduler_cost,
    simulate,
)
from hermes_agents.sim.wall_cost import wall_cost

__all__ = [
    "ALONE",
    "ALONE_FULL",
    "DDL_NO_HEADROOM",
    "ONLY_DDL",
    "ONLY_ORACLE",
    "ORACLE",
    "ORACLE_ENGINE",
    "ORACLE_KEEP",
    "ORACLE_NO_HEADROOM",
    "DeadlineLimit",
    "DeadlineLimitSpec",
    "DeadlineOracle",
    "Outcome",
    "deadline_apps_only",
    "full_batch_workload",
    "measure_deadline_limit",
    "seed_plans",
    "true_remaining_s",
    "wall_plans",
]

ALONE = "served alone"
ALONE_FULL = "alone, full-batch steps"
ORACLE = "deadline oracle"
ORACLE_KEEP = "deadline oracle, late kept"
ORACLE_ENGINE = "deadline oracle, engine preempts"
ONLY_ORACLE = "deadline oracle, deadline apps only"
ONLY_DDL = "hermes-ddl, deadline apps only"
DDL_NO_HEADROOM = "hermes-ddl, no headroom"
ORACLE_NO_HEADROOM = "deadline oracle, no headroom"


class LatestStart:
    """The clairvoyant orders' shared part (simulator only): a run's priority is its latest
    start, ``deadline - true remaining duration`` (least slack plus the clock: the same order
    in the core, and comparable across grant times in an engine's queue), ``order`` when a
    subclass orders the runs still on time otherwise; a run without a deadline, or one ``late``
    says is given up, goes after all of them by true remaining duration, and the head of a
    queue that became late while it waited is demoted (``recheck``). ``RunView.true_remaining_s``
    must be the run's true remaining *duration* in wall seconds on its critical path
    (``wall_plans`` with ``fanout="max"``)."""

    name: str

    def priority(self, task: TaskView, run: RunView, now: float) -> float:
        remaining = true_remaining_s(run, self.name)
        deadline = run.deadline
        at = max(now, task.submitted_at)
        if deadline is None or self.late(run, deadline - at, remaining, at):
            return NO_DEADLINE + remaining
        return self.order(deadline, remaining)

    def recheck(self, task: TaskView, run: RunView, now: float, priority: float) -> float | None:
        """Demote the head of a queue that became late while it waited (None: keep it)."""
        deadline = run.deadline
        if deadline is None or priority >= NO_DEADLINE:
            return None
        remaining = true_remaining_s(run, self.name)
        return NO_DEADLINE + remaining if self.late(run, deadline - now, remaining, now) else None

    def late(self, run: RunView, left_s: float, remaining_s: float, now: float) -> bool:
        """Whether ``run``, with ``left_s`` to its deadline and ``remaining_s`` of work at
        ``now``, is given up (ranked with the runs without a deadline)."""
        return left_s < remaining_s

    def order(self, deadline: float, remaining_s: float) -> float:
        """The priority of a run still on time."""
        return deadline - remaining_s


@dataclass(frozen=True)
class DeadlineOracle(LatestStart):
    """Clairvoyant least slack (``LatestStart``). With ``demote``, a run whose true remaining
    duration no longer fits before its deadline ranks after the others, as ``hermes-ddl``
    demotes. With ``deadline_headroom``, admission keeps the same headroom as ``hermes-ddl``'s
    (``scheduling.reserve``).
    """

    demote: bool = True
    deadline_headroom: bool = True
    name: str = "deadline-oracle"
    order_stable: ClassVar[bool] = True

    def late(self, run: RunView, left_s: float, remaining_s: float, now: float) -> bool:
        return self.demote and left_s < remaining_s


def true_remaining_s(run: RunView, policy: str) -> float:
    """``run``'s true remaining duration, for the clairvoyant order ``policy`` (named in the
    error when the core was not handed one: run it with ``SimConfig(policy="oracle")``)."""
    if run.true_remaining_s is None:
        raise ValidationError("needs each run's true remaining duration", f"policy {policy!r}")
    return run.true_remaining_s


@dataclass(frozen=True)
class DeadlineLimitSpec:
    """What to measure: a built-in workload with Hermes's deadline setup at one load."""

    workload: str = "paper-mix"
    load: float = 2.0
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    share: float = 0.5
    """Share of the apps with a deadline."""
    scale: float = HERMES_SCALE
    apps: int | None = None
    """Apps per run (None: the workload's)."""
    policies: tuple[str, ...] = ("fcfs", "vtc", "edf", "hermes-ddl", "hermes-edf")
    engine_oracle: bool = True
    """Also run the oracle with the engine ordering and preempting (``ORACLE_ENGINE``)."""
    max_num_seqs: int = 16
    """The engine's batch in the ``ORACLE_ENGINE`` row."""
    sheddable_share: float = DEFAULT_SHEDDABLE_SHARE
    """Every backend's headroom share (``BackendLimits.sheddable_share``; 1: none)."""

    def workload_of(self, seed: int) -> Workload:
        """The workload (materialised with ``seed``) with the deadline setup."""
        return with_deadlines(load_workload(self.workload, seed=seed), self.share, self.scale)


@dataclass(frozen=True)
class Outcome:
    """One row: every app of every seed, pooled (deadlines NaN where an app has none)."""

    classes: tuple[str, ...]
    act_s: NDArray[np.float64]
    deadlines_s: NDArray[np.float64]

    @classmethod
    def of(cls, results: Sequence[SimResult]) -> Outcome:
        """Pool ``results`` (one per seed, in seed order)."""
        return cls(
            tuple(c for r in results for c in r.classes),
            np.concatenate([r.act_s for r in results]),
            np.concatenate([padded_deadlines(r.deadlines_s, r.act_s.size) for r in results]),
        )

    @property
    def met(self) -> float:
        """Deadline satisfaction: the share of the apps with a deadline that met it."""
        met, apps = self.counts(None)
        return met / apps if apps else float("nan")

    @property
    def free_mean_s(self) -> float | None:
        """Mean ACT of the apps without a deadline (None: every app has one)."""
        free = np.isnan(self.deadlines_s)
        return float(self.act_s[free].mean()) if free.any() else None

    def counts(self, app: str | None) -> tuple[int, int]:
        """(deadlines met, apps with a deadline) of class ``app`` (None: every class)."""
        has = ~np.isnan(self.deadlines_s)
        if app is not None:
            has &= np.asarray(self.classes) == app
        return int((self.act_s[has] <= self.deadlines_s[has]).sum()), int(has.sum())


@dataclass(frozen=True)
class DeadlineLimit:
    """The measured rows (``measure_deadline_limit``): ``ALONE``, ``ALONE_FULL``, ``ORACLE``,
    ``ORACLE_KEEP``, ``ORACLE_ENGINE`` (if asked) and each policy, on the same apps."""

    rows: dict[str, Outcome]

    def class_names(self) -> list[str]:
        """Classes with at least one deadline, most deadlines lost alone-to-best-policy first."""
        alone = self.rows[ALONE]
        names = [n for n in dict.fromkeys(alone.classes) if alone.counts(n)[1] > 0]
        return sorted(names, key=lambda n: -self.lost(n))

    def lost(self, app: str | None, policy: str = "hermes-ddl") -> int:
        """Deadlines of ``app`` met alone but missed by ``policy`` (net count)."""
        row = self.rows.get(policy) or next(iter(self.rows.values()))
        return self.rows[ALONE].counts(app)[0] - row.counts(app)[0]

    def by_class(self) -> dict[str, dict[str, tuple[int, int]]]:
        """Per class (and ``all``), per row, (met, apps with a deadline)."""
        names: list[str | None] = [*self.class_names(), None]
        return {
            name or "all": {row: outcome.counts(name) for row, outcome in self.rows.items()}
            for name in names
        }


def measure_deadline_limit(spec: DeadlineLimitSpec) -> DeadlineLimit:
    """Run the bounds, the oracles and the policies of ``spec`` on the same apps."""
    profile = spec.workload_of(0)
    cost = scheduler_cost(profile, "sum")
    models = ProfiledModels(profile.apps, cost, wall=wall_cost(profile, EngineShape()))
    per_row: dict[str, list[SimResult]] = {}
    for seed in spec.seeds:
        plans = seed_plans(spec, seed, cost)
        for name, result in _seed_rows(spec, profile, models, plans, seed).items():
            per_row.setdefault(name, []).append(result)
    return DeadlineLimit({name: Outcome.of(results) for name, results in per_row.items()})


def seed_plans(spec: DeadlineLimitSpec, seed: int, cost: CostModel) -> list[AppPlan]:
    """The apps of one seed, as ``run_bench`` draws them: from an independent materialisation
    of the workload (``seed + 1``), each app's base measured alone, priced by ``cost``."""
    truth = spec.workload_of(seed + 1)
    base_of = lone_base(truth, seed, EngineShape())
    count = spec.apps or (truth.arrivals or Arrivals()).count
    return draw_plans(truth, count, seed, ArrivalSpec(), cost, base_of=base_of)


def _seed_rows(
    spec: DeadlineLimitSpec,
    profile: Workload,
    models: ProfiledModels,
    plans: Sequence[AppPlan],
    seed: int,
) -> dict[str, SimResult]:
    """Every row of one seed, on ``plans``."""
    shape = EngineShape()
    config = SimConfig(
        policy="fcfs", load=spec.load, seed=seed, sheddable_share=spec.sheddable_share
    )
    alone = dataclasses.replace(config, load=spec.load / ALONE_DIVISOR)
    full = dataclasses.replace(alone, engine=dataclasses.replace(shape, fixed_share=1.0))
    rows = {
        ALONE: simulate(profile, alone, plans=plans, models=models),
        ALONE_FULL: simulate(full_batch_workload(profile, shape), full, plans=plans),
    }
    for policy in spec.policies:
        chosen = dataclasses.replace(config, policy=policy)
        rows[policy] = simulate(profile, chosen, plans=plans, models=models)
    ddl = dataclasses.replace(config, policy="hermes-ddl")
    bare_ddl = HermesDdl(deadline_headroom=False)
    rows[DDL_NO_HEADROOM] = _simulate_with(bare_ddl, profile, ddl, plans, models)
    rows |= _oracle_rows(spec, profile, models, plans, config)
    only = deadline_apps_only(plans)
    rows[ONLY_DDL] = simulate(profile, ddl, plans=only, models=models)
    return rows


def _oracle_rows(
    spec: DeadlineLimitSpec,
    profile: Workload,
    models: ProfiledModels,
    plans: Sequence[AppPlan],
    config: SimConfig,
) -> dict[str, SimResult]:
    """The oracle's rows: on ``plans`` with their true durations, critical path."""
    timed = wall_plans(plans, wall_cost(profile, EngineShape()))
    oracle = dataclasses.replace(config, policy="oracle", fanout="max")
    variants = {
        ORACLE: DeadlineOracle(),
        ORACLE_NO_HEADROOM: DeadlineOracle(deadline_headroom=False),
        ORACLE_KEEP: DeadlineOracle(demote=False),
    }
    rows = {
        name: _simulate_with(policy, profile, oracle, timed, models)
        for name, policy in variants.items()
    }
    if spec.engine_oracle:
        strongest = PriorityLimitSpec(max_num_seqs=spec.max_num_seqs).engine(True)
        engine = dataclasses.replace(
            oracle, engine=strongest, capacity=Capacity("engine", exact_priorities=True)
        )
        rows[ORACLE_ENGINE] = _simulate_with(DeadlineOracle(), profile, engine, timed, models)
    timed_only = deadline_apps_only(timed)
    rows[ONLY_ORACLE] = _simulate_with(DeadlineOracle(), profile, oracle, timed_only, models)
    return rows


def deadline_apps_only(plans: Sequence[AppPlan]) -> list[AppPlan]:
    """The apps of ``plans`` with a deadline, re-indexed, arrivals kept."""
    kept = [plan for plan in plans if plan.deadline_s is not None]
    return [dataclasses.replace(plan, index=index) for index, plan in enumerate(kept)]


def full_batch_workload(workload: Workload, shape: EngineShape) -> Workload:
    """``workload`` with each LLM backend's decode step at its admission window's (run it
    with ``fixed_share=1``: every step then lasts that long, whatever the batch)."""
    wall = wall_cost(workload, shape)
    backends = {
        name: dataclasses.replace(spec, cost=wall.for_backend(name))
        if spec.kind == StageKind.LLM
        else spec
        for name, spec in workload.backends.items()
    }
    return dataclasses.replace(workload, backends=backends)


def wall_plans(plans: Sequence[AppPlan], wall: CostModel) -> list[AppPlan]:
    """``plans`` with every LLM call's ``cost_s`` in wall seconds (``wall``), so a run's true
    remaining work with ``fanout="max"`` is its true remaining duration on the critical path
    (tool calls keep their seconds). Only the oracle reads ``cost_s``; the engines run the
    tokens."""
    return [
        dataclasses.replace(plan, visits=tuple(_wall_visit(v, wall) for v in plan.visits))
        for plan in plans
    ]


def _wall_visit(visit: VisitPlan, wall: CostModel) -> VisitPlan:
    if visit.kind != StageKind.LLM:
        return visit
    profile = wall.for_backend(visit.backend)
    calls = tuple(
        dataclasses.replace(
            call,
            cost_s=profile.seconds_one(call.prompt_tokens, call.output_tokens, call.cached_tokens),
        )
        for call in visit.calls
    )
    return dataclasses.replace(visit, calls=calls)


class PolicySimulation(Simulation):
    """A simulation whose core runs ``policy`` (a policy the registry does not name)."""

    def __init__(
        self,
        policy: Policy,
        workload: Workload,
        config: SimConfig,
        plans: Sequence[AppPlan],
        models: ProfiledModels,
    ) -> None:
        self._policy = policy
        super().__init__(workload, config, plans, models)

    def _core(self, policy: Policy, cost: CostModel) -> SchedulerCore:
        return super()._core(self._policy, cost)


def _simulate_with(
    policy: Policy,
    workload: Workload,
    config: SimConfig,
    plans: Sequence[AppPlan],
    models: ProfiledModels,
) -> SimResult:
    return PolicySimulation(policy, workload, config, plans, models).run()
