"""Orders beyond least slack for the *number* of deadlines met, measured (issue 17's ideas).

Least slack and EDF are not optimal for the count of deadlines met under overload; on one
machine Moore-Hodgson is (``1 || sum U_j``). This module runs the orders that could do better
on the same apps as ``sim.deadline_limit`` (Hermes's deadline setup, one draw of apps and
deadlines per seed), clairvoyant versions first (each run's true remaining duration in wall
seconds with the window full, critical path: ``deadline_limit.wall_plans``), then the
realistic ones (``HermesDdl`` over the PDGraph's quantiles):

- **blend** (``BlendOracle``, ``SlackSrpt``): the latest start plus ``srpt_weight`` x the
  remaining duration (0: least slack; ``inf``: shortest remaining first among the runs that
  can still make it), and a late rule that demotes a run when ``late_margin`` x its remaining
  duration no longer fits (above 1: earlier; below 1: later, as a smaller batch runs faster
  than the full one the durations are priced at);
- **Moore-Hodgson sacrifice** (``SacrificeOracle``): the live runs with a deadline, in
  deadline order, list-scheduled on ``machines`` parallel machines; while one would finish
  after its deadline, the run with the most remaining work among it and those before it is
  demoted (``sacrificed``);
- **a smaller window** (``Variant.window``): a smaller batch, faster tokens, less throughput;
- **urgent headroom** (``Variant.urgent_slack_s``, ``OracleUrgent``; realistic:
  ``hermes-ddl-urgent``, ``reserve.UrgentRule``): the headroom holds back every run but the
  urgent ones (on time, at most that much slack), so the batch stays small while a deadline
  is near;
- **the deadline apps only**: the apps without a deadline removed.

Every row keeps ``hermes-ddl``'s admission headroom for the runs with a deadline.

>>> rows = measure_deadline_ideas(DeadlineIdeasSpec(apps=12, seeds=(0,), load=1.0),
...     {"oracle": Variant(BlendOracle(), oracle=True)})
>>> 0.0 <= rows["oracle"].met <= 1.0
True
"""

from __future__ import annotations

import dataclasses
import heapq
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from hermes_agents.pdgraph import Workload
from hermes_agents.scheduling.policies import (
    NO_DEADLINE,
    HermesDdl,
    Policy,
    RunView,
    TaskView,
    policy_named,
)
from hermes_agents.scheduling.state import Run
from hermes_agents.sim.deadline_limit import (
    DeadlineLimitSpec,
    LatestStart,
    Outcome,
    PolicySimulation,
    deadline_apps_only,
    seed_plans,
    true_remaining_s,
    wall_plans,
)
from hermes_agents.sim.demand import ProfiledModels
from hermes_agents.sim.enforce import Capacity
from hermes_agents.sim.plans import AppPlan
from hermes_agents.sim.servers import EngineShape
from hermes_agents.sim.simulator import SimConfig, SimResult, scheduler_cost
from hermes_agents.sim.wall_cost import wall_cost

__all__ = [
    "BlendOracle",
    "DeadlineIdeasSpec",
    "OracleUrgent",
    "SacrificeOracle",
    "SlackSrpt",
    "Variant",
    "default_variants",
    "measure_deadline_ideas",
    "sacrificed",
]


@dataclass(frozen=True)
class BlendOracle(LatestStart):
    """Clairvoyant (``LatestStart``): latest start + ``srpt_weight`` x true remaining duration,
    runs that can no longer make it (``late_margin`` x remaining does not fit) demoted.

    ``srpt_weight=0, late_margin=1`` is ``deadline_limit.DeadlineOracle``; ``inf`` orders the
    runs that can still make it by remaining duration alone.
    """

    srpt_weight: float = 0.0
    late_margin: float = 1.0
    deadline_headroom: bool = True
    name: str = "blend-oracle"
    order_stable: ClassVar[bool] = True

    def late(self, run: RunView, left_s: float, remaining_s: float, now: float) -> bool:
        return left_s < self.late_margin * remaining_s

    def order(self, deadline: float, remaining_s: float) -> float:
        if math.isinf(self.srpt_weight):
            return remaining_s
        return deadline - remaining_s + self.srpt_weight * remaining_s


def sacrificed(runs: Iterable[Run], now: float, machines: int) -> set[str]:
    """Moore-Hodgson on ``machines`` parallel machines: the ids of the runs to give up.

    The runs with a deadline and work left go in deadline order, each to the machine that
    frees first; while one would finish after its deadline, the run with the most remaining
    work among it and those placed before it is dropped and the schedule made again.

    >>> a = Run("a", "x", 0.0, None, deadline=3.0, true_remaining_s=3.0)
    >>> b = Run("b", "x", 0.0, None, deadline=3.5, true_remaining_s=1.0)
    >>> c = Run("c", "x", 0.0, None, deadline=4.0, true_remaining_s=2.0)
    >>> sorted(sacrificed([a, b, c], 0.0, 1))  # EDF meets only a; dropping a meets b and c
    ['a']
    """
    live = sorted(
        (run.deadline, run.true_remaining_s, run.run_id)
        for run in runs
        if run.deadline is not None and run.true_remaining_s
    )
    dropped: set[str] = set()
    while True:
        free = [now] * max(1, machines)
        placed: list[tuple[float, str]] = []
        late = False
        for deadline, remaining, run_id in live:
            if run_id in dropped:
                continue
            finish = heapq.heappop(free) + remaining
            heapq.heappush(free, finish)
            placed.append((remaining, run_id))
            if finish > deadline:
                late = True
                break
        if not late:
            return dropped
        dropped.add(max(placed)[1])


@dataclass
class Board:
    """The live runs a ``SacrificeOracle`` plans over (bound to a core's ``runs``), and the
    runs it gave up (a run once given up stays demoted)."""

    runs: Mapping[str, Run] = field(default_factory=dict)
    dropped: set[str] = field(default_factory=set)
    planned_at_s: float = -math.inf


@dataclass(frozen=True)
class SacrificeOracle(LatestStart):
    """Clairvoyant least slack (``LatestStart``) with Moore-Hodgson sacrifice (``sacrificed``),
    re-planned at most every ``period_s`` seconds (``board`` is bound to the core's runs)."""

    machines: int = 16
    period_s: float = 0.5
    board: Board = field(default_factory=Board, compare=False)
    deadline_headroom: bool = True
    name: str = "sacrifice-oracle"
    order_stable: ClassVar[bool] = True

    def late(self, run: RunView, left_s: float, remaining_s: float, now: float) -> bool:
        return left_s < remaining_s or self._given_up(run, now)

    def _given_up(self, run: RunView, now: float) -> bool:
        board = self.board
        if now - board.planned_at_s >= self.period_s:
            alive = (r for r in board.runs.values() if r.run_id not in board.dropped)
            board.dropped |= sacrificed(alive, now, self.machines)
            board.planned_at_s = now
        return getattr(run, "run_id", None) in board.dropped


@dataclass(frozen=True)
class SlackSrpt(HermesDdl):
    """``hermes-ddl`` plus ``srpt_weight`` x the median remaining duration (the realistic
    ``BlendOracle``)."""

    srpt_weight: float = 1.0
    name: str = "hermes-ddl+srpt"

    def priority(self, task: TaskView, run: RunView, now: float) -> float:
        base = super().priority(task, run, now)
        if base >= NO_DEADLINE:
            return base
        return base + self.srpt_weight * run.remaining_quantile_s(self.late_quantile)


@dataclass(frozen=True)
class OracleUrgent:
    """``reserve.UrgentRule`` on true remaining durations: held back unless the run has a
    deadline, is on time (``late_margin`` x its remaining duration fits, as ``BlendOracle``)
    and has at most ``slack_s`` of slack; the headroom lasts ``window_s`` after an urgent
    call."""

    clock: Callable[[], float]
    slack_s: float
    window_s: float
    late_margin: float = 1.0

    def __call__(self, run: Run) -> bool:
        if run.deadline is None:
            return True
        left_s, remaining = run.deadline - self.clock(), true_remaining_s(run, "oracle-urgent")
        return left_s < self.late_margin * remaining or left_s - remaining > self.slack_s


@dataclass(frozen=True)
class Variant:
    """One row: a policy object, on true durations (``oracle``) or not, with a client window
    for the LLM backends (None: the workload's), the deadline-free apps kept or removed, and
    (``oracle`` rows) the urgent headroom (``OracleUrgent``, its window ``urgent_window_s``)."""

    policy: Policy
    oracle: bool = False
    window: int | None = None
    deadline_only: bool = False
    urgent_slack_s: float | None = None
    urgent_window_s: float = 10.0
    sheddable_share: float | None = None
    """Every backend's headroom share (None: ``DeadlineLimitSpec``'s, 0.125)."""


@dataclass(frozen=True)
class DeadlineIdeasSpec:
    """The apps (as ``DeadlineLimitSpec``: workload, load, seeds, Hermes's deadline setup)."""

    workload: str = "paper-mix"
    load: float = 2.0
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    apps: int | None = None

    def limit_spec(self) -> DeadlineLimitSpec:
        """The same apps as ``deadline_limit`` measures."""
        return DeadlineLimitSpec(self.workload, self.load, self.seeds, apps=self.apps)


def default_variants() -> dict[str, Variant]:
    """The rows of ``benchmarks/deadline_ideas.py``: each idea, clairvoyant then realistic."""
    return _oracle_variants() | _realistic_variants()


def _oracle_variants() -> dict[str, Variant]:
    def oracle(
        policy: Policy, window: int | None = None, deadline_only: bool = False, urgent: bool = False
    ) -> Variant:
        return Variant(policy, True, window, deadline_only, 10.0 if urgent else None)

    blend = BlendOracle()
    return {
        "oracle: least slack (deadline_limit's)": oracle(blend),
        "oracle: latest start + 1x remaining": oracle(BlendOracle(1.0)),
        "oracle: latest start + 2x remaining": oracle(BlendOracle(2.0)),
        "oracle: shortest remaining among feasible": oracle(BlendOracle(math.inf)),
        "oracle: demoted at 0.8x remaining": oracle(BlendOracle(0.0, 0.8)),
        "oracle: demoted at 1.2x remaining": oracle(BlendOracle(0.0, 1.2)),
        "oracle: Moore-Hodgson, 1 machine": oracle(SacrificeOracle(1)),
        "oracle: Moore-Hodgson, 16 machines": oracle(SacrificeOracle(16)),
        "oracle: window 10": oracle(blend, window=10),
        "oracle: window 12": oracle(blend, window=12),
        "oracle: deadline apps only": oracle(blend, deadline_only=True),
        "oracle: deadline apps only, window 10": oracle(blend, window=10, deadline_only=True),
        "oracle: urgent headroom (10 s)": oracle(blend, urgent=True),
        "oracle: urgent headroom, demoted at 0.7x": oracle(BlendOracle(0.0, 0.7), urgent=True),
        "oracle: urgent headroom, 0.7x, deadline apps only": oracle(
            BlendOracle(0.0, 0.7), deadline_only=True, urgent=True
        ),
    }


def _realistic_variants() -> dict[str, Variant]:
    return {
        "hermes-ddl (now)": Variant(HermesDdl()),
        "hermes-ddl + 1x median remaining": Variant(SlackSrpt(srpt_weight=1.0)),
        "hermes-ddl + 3x median remaining": Variant(SlackSrpt(srpt_weight=3.0)),
        "hermes-ddl, late at the p30": Variant(HermesDdl(late_quantile=0.3)),
        "hermes-ddl, late at the p70": Variant(HermesDdl(late_quantile=0.7)),
        "hermes-ddl, slack over the p80, late at the p10": Variant(
            HermesDdl(quantile=0.8, late_quantile=0.1)
        ),
        "hermes-ddl, window 10": Variant(HermesDdl(), window=10),
        "urgent headroom, hermes-ddl's quantiles": Variant(
            HermesDdl(urgent_slack_s=10, reserve_window_s=10)
        ),
        "hermes-ddl-urgent": Variant(policy_named("hermes-ddl-urgent")),
    }


def measure_deadline_ideas(
    spec: DeadlineIdeasSpec, variants: Mapping[str, Variant] | None = None
) -> dict[str, Outcome]:
    """Each variant (default: ``default_variants``) on the apps of ``spec``, seeds pooled."""
    chosen = default_variants() if variants is None else variants
    limit = spec.limit_spec()
    profile = limit.workload_of(0)
    cost = scheduler_cost(profile, "sum")
    wall = wall_cost(profile, EngineShape())
    models = ProfiledModels(profile.apps, cost, wall=wall)
    results: dict[str, list[SimResult]] = {name: [] for name in chosen}
    for seed in spec.seeds:
        plans = seed_plans(limit, seed, cost)  # as run_bench and deadline_limit
        timed = wall_plans(plans, wall)
        for name, variant in chosen.items():
            runs = timed if variant.oracle else plans
            runs = deadline_apps_only(runs) if variant.deadline_only else runs
            config = _config(variant, limit, seed)
            results[name].append(_run(variant, profile, config, runs, models))
    return {name: Outcome.of(pooled) for name, pooled in results.items()}


def _config(variant: Variant, limit: DeadlineLimitSpec, seed: int) -> SimConfig:
    config = SimConfig(
        policy="fcfs", load=limit.load, seed=seed, sheddable_share=limit.sheddable_share
    )
    if variant.oracle:  # the core hands the policy each run's true remaining duration
        config = dataclasses.replace(config, policy="oracle", fanout="max")
    if variant.sheddable_share is not None:
        config = dataclasses.replace(config, sheddable_share=variant.sheddable_share)
    if variant.window is not None:
        config = dataclasses.replace(config, capacity=Capacity(max_concurrency=variant.window))
    return config


class _VariantSimulation(PolicySimulation):
    """A simulation whose core runs ``variant.policy`` (one the registry does not name); a
    ``SacrificeOracle`` gets a fresh board bound to this core's runs."""

    def __init__(
        self,
        variant: Variant,
        workload: Workload,
        config: SimConfig,
        plans: Sequence[AppPlan],
        models: ProfiledModels,
    ) -> None:
        policy = variant.policy
        if isinstance(policy, SacrificeOracle):
            policy = dataclasses.replace(policy, board=Board())
        super().__init__(policy, workload, config, plans, models)
        if isinstance(policy, SacrificeOracle):
            policy.board.runs = self.core.runs
        if variant.urgent_slack_s is not None:
            clock = self.core.clock
            margin = getattr(policy, "late_margin", 1.0)
            urgent = OracleUrgent(clock, variant.urgent_slack_s, variant.urgent_window_s, margin)
            self.core.held_back = urgent


def _run(
    variant: Variant,
    workload: Workload,
    config: SimConfig,
    plans: Sequence[AppPlan],
    models: ProfiledModels,
) -> SimResult:
    return _VariantSimulation(variant, workload, config, plans, models).run()
