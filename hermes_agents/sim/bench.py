"""Policy comparison: every (seed, load, policy, prewarm) combination of a workload.

``run_bench`` simulates them all and returns the ``SimResult`` of each; ``record`` turns one
into the JSON entry of ``hermes bench --json`` (DESIGN.md)::

    {"policy", "prewarm", "load", "seed", "apps", "mean_s", "p50_s", "p95_s", "p99_s",
     "cold_start_wait_s", "warm_waste_s", ...}

``cold_start_wait_s`` is the mean per app of the time its calls waited for a backend to wake
(once per stage visit); ``warm_waste_s`` the seconds cold backends spent awake and idle;
``prewarm_hints`` the ``PrewarmLedger`` totals (hits, late, unused, hidden and wasted seconds).

Fairness between policies: for one seed, every load and policy serves the *same* apps (class,
run, arrival order; ``plans``), and the demand models are built once from the workload's
profile. The runs are drawn from an independent materialisation of the workload's
distributions (seeded ``seed + 1``): the model knows the distributions, not the draws.

>>> spec = BenchSpec("paper-mix", ("fcfs", "gittins"), apps=10)
>>> [(r.config.policy, r.act_s.size) for r in run_bench(spec)]
[('fcfs', 10), ('gittins', 10)]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hermes_agents.cost import FanoutMode
from hermes_agents.errors import ValidationError
from hermes_agents.pdgraph import Arrivals, Workload
from hermes_agents.prewarm import DEFAULT_THRESHOLD
from hermes_agents.sim.arrivals import ArrivalSpec
from hermes_agents.sim.deadline_metrics import DeadlineSummary, by_tier
from hermes_agents.sim.deadlines import with_deadlines
from hermes_agents.sim.demand import ProfiledModels
from hermes_agents.sim.lone import lone_base
from hermes_agents.sim.metrics import ActSummary, by_class
from hermes_agents.sim.plans import draw_plans
from hermes_agents.sim.prewarming import LRU_KEEPALIVE_S
from hermes_agents.sim.servers import EngineShape
from hermes_agents.sim.simulator import SimConfig, SimResult, scheduler_cost, simulate
from hermes_agents.sim.wall_cost import wall_cost
from hermes_agents.workloads import BUILTIN, builtin

Progress = Callable[[int], None]
"""Called with the number of apps simulated since the last call."""


@dataclass(frozen=True)
class BenchSpec:
    """What to compare.

    Attributes:
        workload: a built-in workload's name (``paper-mix``) or a workload file's path.
        policies: policy names (``hermes_agents.sim.POLICY_NAMES``); ``fcfs`` is the baseline.
        loads: arrival-rate multipliers.
        seeds: one simulation per seed and combination.
        prewarm: prewarming modes (``hermes_agents.sim.prewarming.PREWARM_MODES``).
        apps: apps per simulation (None: the workload's ``arrivals.count``).
        arrivals: Poisson or bursty.
        fanout: fan-out combination in ranks and the oracle ("sum" or "max").
        engine: LLM engine shape and KV mode.
        prewarm_k: the planner's threshold K (``hermes`` modes).
        keepalive_s: the ``lru`` mode's extra TTL.
    """

    workload: str
    policies: tuple[str, ...]
    loads: tuple[float, ...] = (1.0,)
    seeds: tuple[int, ...] = (0,)
    prewarm: tuple[str, ...] = ("off",)
    apps: int | None = None
    arrivals: ArrivalSpec = field(default_factory=ArrivalSpec)
    fanout: FanoutMode = "sum"
    engine: EngineShape = field(default_factory=EngineShape)
    prewarm_k: float = DEFAULT_THRESHOLD
    keepalive_s: float = LRU_KEEPALIVE_S
    deadlines: float | None = None
    """Hermes's deadline setup on every class for this share of the runs (None: the
    workload's own service levels; ``sim.deadlines.with_deadlines``)."""

    def workload_of(self, seed: int = 0) -> Workload:
        """The workload (materialised with ``seed``), with ``deadlines`` applied."""
        workload = load_workload(self.workload, seed=seed)
        return workload if self.deadlines is None else with_deadlines(workload, self.deadlines)

    def configs(self, seed: int) -> list[SimConfig]:
        """Every configuration of one seed (validated), load by load."""
        return [
            SimConfig(
                policy=policy,
                load=load,
                seed=seed,
                apps=self.apps,
                arrivals=self.arrivals,
                fanout=self.fanout,
                engine=self.engine,
                prewarm=prewarm,
                prewarm_k=self.prewarm_k,
                keepalive_s=self.keepalive_s,
            )
            for load in self.loads
            for policy in self.policies
            for prewarm in self.prewarm
        ]


def load_workload(source: str, *, seed: int = 0) -> Workload:
    """A built-in workload by name, or a workload file (errors name the file and field)."""
    if source in BUILTIN:
        return builtin(source, seed=seed)
    path = Path(source)
    if not path.is_file():
        raise ValidationError(
            f"no workload file {source!r} and no built-in workload of that name; give a "
            f"workload JSON file (see docs/workload-format.md) or one of {list(BUILTIN)}",
            "--workload",
        )
    return Workload.load(path, seed=seed)


def app_count(spec: BenchSpec, workload: Workload) -> int:
    """Apps per simulation."""
    return spec.apps or (workload.arrivals or Arrivals()).count


def run_bench(spec: BenchSpec, progress: Progress | None = None) -> list[SimResult]:
    """Simulate every combination of ``spec``; results in (seed, load, policy, prewarm) order."""
    profile = spec.workload_of()
    cost = scheduler_cost(profile, spec.fanout)
    models = ProfiledModels(profile.apps, cost, wall=wall_cost(profile, spec.engine))
    results = []
    for seed in spec.seeds:
        configs = spec.configs(seed)
        truth = spec.workload_of(seed + 1)
        base_of = lone_base(truth, seed, spec.engine)  # deadline bases on this engine
        plans = draw_plans(
            truth, app_count(spec, truth), seed, spec.arrivals, cost, base_of=base_of
        )
        for config in configs:
            ticker = _ticker(progress)
            results.append(simulate(profile, config, plans=plans, models=models, progress=ticker))
    return results


def _ticker(progress: Progress | None) -> Callable[[int], None] | None:
    """Turn the simulator's running count into increments for ``progress``."""
    if progress is None:
        return None
    seen = [0]

    def tick(done: int) -> None:
        progress(done - seen[0])
        seen[0] = done

    return tick


def record(result: SimResult, workload: str) -> dict[str, Any]:
    """The JSON entry of one simulation (DESIGN.md's fields first, then details)."""
    config = result.config
    summary = ActSummary.of(result.act_s)
    classes = by_class(result.classes, result.act_s)
    return {
        "policy": config.policy,
        "prewarm": config.prewarm,
        "load": config.load,
        "seed": config.seed,
        **summary.to_dict(),
        "cold_start_wait_s": float(result.cold_wait_s.mean()),
        "warm_waste_s": result.warm_waste_s,
        "workload": workload,
        "arrivals": str(config.arrivals.process),
        "fanout": config.fanout,
        "kv_mode": str(config.engine.kv_mode),
        "reference_batch": config.engine.reference_batch,
        "makespan_s": result.makespan_s,
        "wakeups": result.wakeups,
        "hinted_wakeups": result.hinted_wakeups,
        "prewarm_k": config.prewarm_k,
        "keepalive_s": config.keepalive_s,
        "hosts": config.hosts.count,
        "coordinator_rtt_ms": config.hosts.rtt_ms,
        "prewarm_hints": result.prewarm.get("total", {}),
        "by_class": {name: s.to_dict() for name, s in classes.items()},
        **DeadlineSummary.of(result.act_s, result.deadlines_s).to_dict(),
        "by_tier": {
            tier: s.to_dict()
            for tier, s in by_tier(result.tiers, result.act_s, result.deadlines_s).items()
        },
    }
