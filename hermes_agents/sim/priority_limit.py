"""How far any order can bring a workload's ACT under one engine: the floors, measured.

Engine priority with preemption is judged against request FCFS (``fcfs``, every call sent to
a stock engine's first-come-first-served queue). Whether a target reduction is reachable does
not depend on the order alone; this module measures what bounds it, on the same apps
(``run_bench``: one draw of apps per seed, whatever the load):

- **the best orders** under the strongest engine: a priority queue that also preempts for a
  better waiting request when the batch is full, at no cost (swap at 0 s per token):
  ``gittins`` and the clairvoyant ``oracle``, its ranks by total remaining work (``sum``)
  and by critical path (``max``), and with its ranks sent exactly rather than in the
  buckets of ``hermes_agents.priority`` (``exact``: do distinct ranks collide?);
- **served alone**: every app on the same engine with no other app in the system (the load
  divided by ``ALONE_DIVISOR``): no order can finish an app sooner, so ``1 - alone / fcfs``
  is the most any order could reach;
- **served alone at full-batch speed**: the same, with every decode step as long as a full
  batch's (``max_num_seqs`` sequences). While the engine is saturated its batch is full and
  every token costs that step, whatever the order; ``full_batch_share`` says how much of the
  engine's busy time that was under the best order.

>>> limit = measure_limit(PriorityLimitSpec(apps=12, seeds=(0,), load=1.0))
>>> limit.alone.mean_s <= limit.alone_full_batch.mean_s
True
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

import numpy as np

from hermes_agents import workloads
from hermes_agents.cost import LLMCost
from hermes_agents.engine_limits import EngineLimits, Preempt, PreemptCost, Queueing
from hermes_agents.pdgraph import StageKind
from hermes_agents.sim.bench import run_bench
from hermes_agents.sim.capacity_bench import CapacityBenchSpec
from hermes_agents.sim.enforce import Capacity
from hermes_agents.sim.llm import EngineParams
from hermes_agents.sim.metrics import ActSummary, Pooled, pool
from hermes_agents.sim.servers import EngineShape
from hermes_agents.sim.simulator import SimResult

__all__ = [
    "ALONE_DIVISOR",
    "ClassGap",
    "PriorityLimit",
    "PriorityLimitSpec",
    "full_batch_workload_file",
    "measure_limit",
]

ALONE_DIVISOR = 10_000.0
"""Served alone: the arrival rate divided by this (apps hours apart never meet)."""
BEST_ORDERS = (
    ("gittins", "sum", False),
    ("oracle", "sum", False),
    ("oracle", "max", False),
    ("oracle", "sum", True),
)
"""The orders tried under the strongest engine: (policy, fan-out in ranks, each rank sent
exactly instead of its bucket)."""


@dataclass(frozen=True)
class PriorityLimitSpec:
    """What to measure: a built-in workload at one load, on an engine of ``max_num_seqs``."""

    workload: str = "paper-mix"
    load: float = 2.0
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    max_num_seqs: int = 16
    apps: int | None = None
    """Apps per run (None: the workload's)."""

    def engine(self, free_preemption: bool) -> EngineShape:
        """Stock vLLM (priority queue, KV preemption only) or the strongest engine (also a
        full batch preempts, for free)."""
        if not free_preemption:
            return EngineShape(limits=EngineLimits(self.max_num_seqs, scheduling=Queueing.PRIORITY))
        limits = EngineLimits(
            self.max_num_seqs,
            scheduling=Queueing.PRIORITY,
            preempt=Preempt.BATCH,
            preempt_cost=PreemptCost.SWAP,
            swap_s_per_token=0.0,
        )
        return EngineShape(limits=limits)


@dataclass(frozen=True)
class ClassGap:
    """One app class: its apps' mean ACT alone, alone at full-batch speed, and under the best
    order; ``adds_s``: how much its apps' excess over alone adds to the mean ACT of all."""

    name: str
    apps: int
    alone_s: float
    alone_full_batch_s: float
    best_s: float
    adds_s: float


@dataclass(frozen=True)
class PriorityLimit:
    """The measured figures (``measure_limit``)."""

    fcfs: ActSummary
    orders: dict[str, ActSummary]
    """Each of ``BEST_ORDERS`` (``oracle max``, ...) under the strongest engine."""
    best: str
    """The order with the lowest mean ACT, of those with bucketed ranks (as engines get)."""
    alone: ActSummary
    alone_full_batch: ActSummary
    full_batch_share: float
    """Share of the engine's busy seconds with a full batch, under the best order."""
    busy_share: float
    """Share of the makespan the engine was busy, under the best order."""
    classes: tuple[ClassGap, ...] = field(default_factory=tuple)

    def reach(self, floor: ActSummary) -> tuple[float, float]:
        """The most any order could lower the mean and the p95 against request FCFS."""
        return 1 - floor.mean_s / self.fcfs.mean_s, 1 - floor.p95_s / self.fcfs.p95_s


def measure_limit(spec: PriorityLimitSpec) -> PriorityLimit:
    """Run request FCFS, the best orders and both floors on the same apps."""
    fcfs = _pooled(_run(spec, "fcfs", "sum", spec.engine(False), spec.load))
    orders: dict[str, tuple[Pooled, list[SimResult]]] = {}
    for policy, fanout, exact in BEST_ORDERS:
        results = _run(spec, policy, fanout, spec.engine(True), spec.load, exact)
        name = f"{policy} {fanout}{' exact' if exact else ''}"
        orders[name] = (_pooled(results), results)
    sent = [name for name in orders if not name.endswith(" exact")]  # what an engine gets
    best = min(sent, key=lambda name: orders[name][0].summary.mean_s)
    best_pooled, best_runs = orders[best]
    alone_load = spec.load / ALONE_DIVISOR
    alone = _pooled(_run(spec, "fcfs", "sum", spec.engine(False), alone_load))
    with tempfile.TemporaryDirectory() as folder:
        path = full_batch_workload_file(spec, Path(folder))
        shape = replace(spec.engine(False), fixed_share=1.0)
        full = _pooled(_run(replace(spec, workload=str(path)), "fcfs", "sum", shape, alone_load))
    busy = sum(r.engines["llm"]["busy_s"] for r in best_runs)
    return PriorityLimit(
        fcfs=fcfs.summary,
        orders={name: pooled.summary for name, (pooled, _) in orders.items()},
        best=best,
        alone=alone.summary,
        alone_full_batch=full.summary,
        full_batch_share=sum(r.engines["llm"]["full_batch_s"] for r in best_runs) / busy,
        busy_share=busy / sum(r.makespan_s for r in best_runs),
        classes=_class_gaps(alone, full, best_pooled),
    )


def _run(
    spec: PriorityLimitSpec,
    policy: str,
    fanout: str,
    engine: EngineShape,
    load: float,
    exact: bool = False,
) -> list[SimResult]:
    bench = CapacityBenchSpec(
        spec.workload,
        (policy,),
        loads=(load,),
        seeds=spec.seeds,
        apps=spec.apps,
        fanout="max" if fanout == "max" else "sum",
        engine=engine,
        variants=(Capacity("engine", exact_priorities=exact),),
    )
    return run_bench(bench)


def _pooled(results: Sequence[SimResult]) -> Pooled:
    (pooled,) = pool(results).values()
    return pooled


def full_batch_workload_file(spec: PriorityLimitSpec, folder: Path) -> Path:
    """The workload with each LLM backend's decode step fixed at a full batch's length (with
    ``fixed_share=1`` the engine's step is the profile's decode time, whatever the batch)."""
    data = json.loads(resources.files(workloads).joinpath(f"{spec.workload}.json").read_text())
    for backend in data["backends"].values():
        if backend["kind"] == StageKind.LLM:
            profile = LLMCost(decode_s_per_token=backend.get("decode_s_per_token", 0.06))
            step_s = EngineParams.from_profile(profile).step_s(spec.max_num_seqs)
            backend["decode_s_per_token"] = step_s
    path = folder / f"{spec.workload}-full-batch.json"
    path.write_text(json.dumps(data))
    return path


def _class_gaps(alone: Pooled, full: Pooled, best: Pooled) -> tuple[ClassGap, ...]:
    names = np.asarray(best.classes)
    assert list(alone.classes) == list(best.classes)  # the same apps, in the same order
    total = names.size
    gaps = []
    for name in dict.fromkeys(best.classes):
        mask = names == name
        excess = float((best.act_s[mask] - alone.act_s[mask]).sum())
        gaps.append(
            ClassGap(
                name,
                int(mask.sum()),
                float(alone.act_s[mask].mean()),
                float(full.act_s[mask].mean()),
                float(best.act_s[mask].mean()),
                excess / total,
            )
        )
    return tuple(sorted(gaps, key=lambda gap: -gap.adds_s))
