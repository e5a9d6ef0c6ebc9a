"""Deadlines and tiers of simulated apps, drawn from the workload's service levels.

Each app of a class with a ``deadline`` setup (``pdgraph.service_levels``) gets a deadline
with probability ``share``: ``factor * base`` seconds after its arrival, ``factor`` drawn from
``factors``, ``base`` either ``base_s`` or ``scale`` times the longest duration in the class's
duration distribution: its runs measured alone on the workload's servers (``sim.lone``: no
queueing, warm backends), as the paper's profile is. Randomness: the generator
``draw_plans`` passes (seeded).

>>> from hermes_agents.workloads import builtin
>>> mix = with_deadlines(builtin("paper-mix"), 0.5)
>>> mix.level("react_fever").deadline.share
0.5
>>> drawn = draw_deadlines(mix, ["react_fever"] * 4, lambda app: 10.0, np.random.default_rng(0))
>>> {round(d / 7.0, 3) for d in drawn if d is not None} <= {1.2, 1.5, 2.0}
True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np

from hermes_agents.errors import ValidationError
from hermes_agents.pdgraph import Workload
from hermes_agents.pdgraph.service_levels import HERMES_DEADLINES, HERMES_SCALE, ServiceLevel
from hermes_agents.scheduling.tiers import Tier

BaseOf = Callable[[str], float]
"""A class's longest duration alone, in seconds (``sim.lone.max_lone_duration_s``)."""


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
    workload: Workload, classes: Sequence[str], base_of: BaseOf, rng: np.random.Generator
) -> list[float | None]:
    """Per app (of class ``classes[i]``), its relative deadline in seconds, or None;
    ``base_of`` gives a class's longest duration (asked once per class, only when needed)."""
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
            base = spec.base_s or spec.scale * base_of(name)
            bases[name] = base
        factor = spec.factors[min(int(pick * len(spec.factors)), len(spec.factors) - 1)]
        out.append(factor * base)
    return out
