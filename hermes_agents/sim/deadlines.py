"""Deadlines and tiers of simulated apps, drawn from the workload's service levels.

Each app of a class with a ``deadline`` setup (``pdgraph.service_levels``) gets a deadline
with probability ``share``: ``factor * base`` seconds after its arrival, ``factor`` drawn from
``factors``, ``base`` either ``base_s`` or ``scale`` times the longest duration in the class's
PDGraph duration distribution. That duration is the critical path of the class's walks from
its entry (parallel calls overlap, no queueing), priced with the scheduler's cost model, KV
load by tier included. Randomness: the generator ``draw_plans`` passes (seeded).

>>> from hermes_agents.workloads import builtin
>>> mix = with_deadlines(builtin("paper-mix"), 0.5)
>>> mix.level("react_fever").deadline.share
0.5
>>> base = max_duration_s(mix.apps["react_fever"], mix.cost_model())
>>> 5.0 < base < 200.0
True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from hermes_agents.cost import CostModel
from hermes_agents.errors import ValidationError
from hermes_agents.pdgraph import PDGraph, RemainingDemand, Workload
from hermes_agents.pdgraph.service_levels import HERMES_DEADLINES, HERMES_SCALE, ServiceLevel
from hermes_agents.scheduling.tiers import Tier

DURATION_WALKS = 2000
"""Walks behind a class's duration distribution (its maximum is the deadline base)."""


def max_duration_s(graph: PDGraph, cost: CostModel) -> float:
    """The longest duration among the class's walks from its entry (critical path)."""
    path = CostModel(llm=cost.llm, default_llm=cost.default_llm, fanout="max")
    samples = RemainingDemand(graph, path, walks=DURATION_WALKS).samples(graph.entry)
    return float(samples.max())


def with_deadlines(workload: Workload, share: float, scale: float = HERMES_SCALE) -> Workload:
    """``workload`` with Hermes's deadline setup on every class (``share`` of the runs; the
    base ``scale`` times the longest duration), tiers kept: the ``hermes bench --deadlines
    SHARE`` workload."""
    if not 0.0 <= share <= 1.0:
        raise ValidationError(f"must be a share from 0 to 1, got {share!r}", "--deadlines")
    if not 0.0 < scale <= 100.0:
        raise ValidationError(f"must be in (0, 100], got {scale!r}", "'scale'")
    spec = dataclasses.replace(HERMES_DEADLINES, share=share, scale=scale)
    service = {name: ServiceLevel(workload.level(name).tier, spec) for name in workload.apps}
    return dataclasses.replace(workload, service=service)


def with_tiers(workload: Workload, tiers: dict[str, Tier]) -> Workload:
    """``workload`` with the named classes in the given tiers (deadlines kept)."""
    service = dict(workload.service)
    for name, tier in tiers.items():
        if name not in workload.apps:
            raise ValidationError(f"no such app; use one of {sorted(workload.apps)}", name)
        service[name] = dataclasses.replace(workload.level(name), tier=tier)
    return dataclasses.replace(workload, service=service)


def draw_deadlines(
    workload: Workload, classes: Sequence[str], cost: CostModel, rng: np.random.Generator
) -> list[float | None]:
    """Per app (of class ``classes[i]``), its relative deadline in seconds, or None."""
    bases: dict[str, float] = {}
    out: list[float | None] = []
    draws = rng.random((len(classes), 2))
    for name, (chance, pick) in zip(classes, draws.tolist(), strict=True):
        spec = workload.level(name).deadline
        if spec is None or chance >= spec.share:
            out.append(None)
            continue
        base = bases.get(name)
        if base is None:
            base = spec.base_s or spec.scale * max_duration_s(workload.apps[name], cost)
            bases[name] = base
        factor = spec.factors[min(int(pick * len(spec.factors)), len(spec.factors) - 1)]
        out.append(factor * base)
    return out
