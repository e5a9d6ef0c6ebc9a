"""``hermes demo --deadlines SHARE``: the plan's apps with deadlines, and how each run met them.

Hermes's deadline setup on the real server: ``SHARE`` of the planned apps (drawn with the
plan's seed) get a deadline ``factor x 0.7 x`` the longest completion time of their class in
the *no limit* run (the apps as users run them today: their measured duration distribution),
``factor`` drawn from {1.2, 1.5, 2}. The deadlines are set after that first run and before the
two scheduled ones; the Hermes run passes each app's deadline in its invocation's metadata
(``hermes_deadline_s``) and orders by a deadline policy (``DEADLINE_POLICY``). Deadline
satisfaction is the share of the apps with a deadline that finished by it, for each run.

>>> from hermes_agents.demo.plan import PlannedApp
>>> from hermes_agents.demo.runner import AppOutcome
>>> plan = [PlannedApp(i, "rag", 0.0, {}) for i in range(4)]
>>> runs = [AppOutcome(i, "rag", 0.0, 10.0 + i) for i in range(4)]
>>> timed = with_deadlines(plan, runs, share=1.0, seed=0)
>>> all(12.0 <= p.deadline_s <= 2 * 0.7 * 13.0 for p in timed)
True
>>> satisfaction(timed, runs)
(4, 4)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from hermes_agents.demo.plan import PlannedApp
from hermes_agents.demo.runner import AppOutcome
from hermes_agents.errors import ValidationError
from hermes_agents.pdgraph.service_levels import HERMES_FACTORS, HERMES_SCALE

DEADLINE_POLICY = "hermes-edf"
"""The Hermes run's policy with ``--deadlines``: deadlines first, runs that can no longer make
theirs demoted, the rest by Gittins rank (the best of the deadline policies in the simulator,
docs/benchmarks.md)."""


def with_deadlines(
    plan: Sequence[PlannedApp], no_limit: Sequence[AppOutcome], *, share: float, seed: int
) -> list[PlannedApp]:
    """``plan`` with deadlines on ``share`` of its apps (see the module docstring)."""
    if not 0 < share <= 1:
        raise ValidationError(f"must be a share in (0, 1], got {share}", "--deadlines")
    longest: dict[str, float] = {}
    for outcome in no_limit:
        longest[outcome.app] = max(longest.get(outcome.app, 0.0), outcome.act_s)
    rng = np.random.default_rng([seed, 17])
    chances, picks = rng.random(len(plan)), rng.integers(len(HERMES_FACTORS), size=len(plan))
    timed = []
    for planned, chance, pick in zip(plan, chances.tolist(), picks.tolist(), strict=True):
        base = HERMES_SCALE * longest.get(planned.app, 0.0)
        deadline = HERMES_FACTORS[pick] * base if chance < share and base > 0 else None
        timed.append(dataclasses.replace(planned, deadline_s=deadline))
    return timed


def satisfaction(plan: Sequence[PlannedApp], outcomes: Sequence[AppOutcome]) -> tuple[int, int]:
    """(apps that finished by their deadline, apps with a deadline) for one run of ``plan``."""
    deadlines = {p.index: p.deadline_s for p in plan if p.deadline_s is not None}
    met = sum(1 for o in outcomes if o.index in deadlines and o.act_s <= deadlines[o.index])
    return met, len(deadlines)
