"""The demo's workload: which example apps arrive, when, and with which task (all seeded).

Every run of the demo (no limit, the FCFS limit, Hermes) replays the same plan, so the only
difference between them is the scheduling.

>>> plan = make_plan({"rag": 2.0, "react": 1.0}, apps=6, rate_per_s=1.0, seed=0,
...                  make_input=lambda name, rng: {"n": rng.randint(1, 3)})
>>> len(plan), plan == make_plan({"rag": 2.0, "react": 1.0}, apps=6, rate_per_s=1.0, seed=0,
...                               make_input=lambda name, rng: {"n": rng.randint(1, 3)})
(6, True)
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from hermes_agents.errors import ValidationError

DEFAULT_MIX: Mapping[str, float] = {
    "rag": 4.0,
    "react": 3.0,
    "supervisor": 2.0,
    "code_test": 2.0,
    "map_reduce": 2.0,
}
"""Mix weights of the example apps: mostly short apps (rag, short react loops) with some long
ones (map-reduce fan-out, code-test retries), the shape where app-aware ordering pays."""


@dataclass(frozen=True)
class PlannedApp:
    """One app of the plan."""

    index: int
    """Position in arrival order (0-based)."""
    app: str
    """Example app name (a key of ``hermes_agents.apps.EXAMPLES``)."""
    arrival_s: float
    """Seconds after the start of the run at which the app is invoked."""
    task: Mapping[str, Any]
    """The graph input (its plan decides the run's shape)."""
    deadline_s: float | None = None
    """Seconds after its start by which it should end (``hermes demo --deadlines``)."""


def make_plan(
    mix: Mapping[str, float],
    *,
    apps: int,
    rate_per_s: float,
    seed: int,
    make_input: Callable[[str, random.Random], Mapping[str, Any]],
) -> list[PlannedApp]:
    """``apps`` apps drawn from ``mix`` (name -> weight) arriving as a Poisson process."""
    if apps < 1:
        raise ValidationError("must be >= 1", "--apps")
    if not rate_per_s > 0:
        raise ValidationError("must be > 0", "arrival rate")
    if not mix or any(not weight > 0 for weight in mix.values()):
        raise ValidationError("every weight must be > 0 and the mix non-empty", "mix")
    names = sorted(mix)
    weights = np.array([mix[name] for name in names], dtype=np.float64)
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1.0 / rate_per_s, size=apps)
    arrivals = np.concatenate(([0.0], np.cumsum(gaps[1:])))
    chosen = rng.choice(len(names), size=apps, p=weights / weights.sum())
    plan = []
    for index in range(apps):
        name = names[int(chosen[index])]
        task_rng = random.Random(seed * 1_000_003 + index)
        plan.append(PlannedApp(index, name, float(arrivals[index]), make_input(name, task_rng)))
    return plan
