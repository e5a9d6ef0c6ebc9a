"""Deadline satisfaction and SLO attainment, overall and per tier.

An app's deadline (its SLO on completion time) lies ``deadlines_s[i]`` seconds after its
arrival (NaN: it has none). *Deadline satisfaction* is the share of the apps with a deadline
that finish by it; *SLO attainment* of a tier is the same share among that tier's apps. Beside
them: the mean ACT of the apps without a deadline (what deadline-first ordering costs them).

>>> import numpy as np
>>> summary = DeadlineSummary.of(np.array([1.0, 5.0, 3.0]), np.array([2.0, 4.0, np.nan]))
>>> summary.apps, summary.met, summary.free_mean_s
(2, 0.5, 3.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hermes_agents.sim.metrics import ActSummary, padded_deadlines


@dataclass(frozen=True)
class DeadlineSummary:
    """How apps with a deadline fared, and the mean ACT of those without.

    Attributes:
        apps: apps with a deadline.
        met: the share of them that finished by it (None: no app had one).
        free_apps: apps without a deadline.
        free_mean_s: their mean ACT (None: every app had one).
    """

    apps: int
    met: float | None
    free_apps: int
    free_mean_s: float | None

    @classmethod
    def of(cls, act_s: NDArray[np.float64], deadlines_s: NDArray[np.float64]) -> DeadlineSummary:
        """Summarise apps (ACT and relative deadline, NaN = none; ``deadlines_s`` may be empty:
        no app has one)."""
        deadlines_s = padded_deadlines(deadlines_s, act_s.size)
        has = ~np.isnan(deadlines_s)
        apps, free = int(has.sum()), int((~has).sum())
        met = float((act_s[has] <= deadlines_s[has]).mean()) if apps else None
        free_mean = float(act_s[~has].mean()) if free else None
        return cls(apps, met, free, free_mean)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``deadline_apps``, ``deadline_met``, ``no_deadline_mean_s``."""
        return {
            "deadline_apps": self.apps,
            "deadline_met": self.met,
            "no_deadline_mean_s": self.free_mean_s,
        }


@dataclass(frozen=True)
class TierSummary:
    """One tier's completion times and SLO attainment."""

    act: ActSummary
    deadlines: DeadlineSummary

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: the ACT fields, then the deadline fields."""
        return self.act.to_dict() | self.deadlines.to_dict()


def by_tier(
    tiers: Sequence[str], act_s: NDArray[np.float64], deadlines_s: NDArray[np.float64]
) -> dict[str, TierSummary]:
    """One summary per tier present, in tier order (critical, standard, sheddable)."""
    if not tiers:
        return {}
    names = np.asarray(tiers)
    deadlines_s = padded_deadlines(deadlines_s, act_s.size)
    order = ("critical", "standard", "sheddable")
    seen = set(tiers)
    present = [t for t in order if t in seen] + sorted(seen - set(order))
    return {
        tier: TierSummary(
            ActSummary.of(act_s[names == tier]),
            DeadlineSummary.of(act_s[names == tier], deadlines_s[names == tier]),
        )
        for tier in present
    }
