"""Completion-time statistics of one demo run, overall and per app class.

>>> from hermes_agents.demo.runner import AppOutcome
>>> runs = [AppOutcome(0, "rag", 0.0, 1.0), AppOutcome(1, "react", 0.5, 3.5)]
>>> summary = RunSummary.of(runs)
>>> summary.mean_s, summary.overall.apps, sorted(summary.by_class)
(2.0, 2, ['rag', 'react'])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hermes_agents.demo.runner import AppOutcome


@dataclass(frozen=True)
class Stats:
    """Mean and percentiles of app completion times (seconds)."""

    mean_s: float
    p50_s: float
    p95_s: float
    apps: int

    @classmethod
    def of(cls, act_s: Sequence[float]) -> Stats:
        """Statistics of ``act_s`` (linear-interpolated percentiles, numpy's default)."""
        values = np.asarray(act_s, dtype=np.float64)
        if values.size == 0:
            return cls(0.0, 0.0, 0.0, 0)
        p50, p95 = np.percentile(values, [50, 95])
        return cls(float(values.mean()), float(p50), float(p95), int(values.size))

    def to_json(self) -> dict[str, Any]:
        """The JSON form: ``{"mean_s", "p50_s", "p95_s", "apps"}``."""
        return {
            "mean_s": round(self.mean_s, 4),
            "p50_s": round(self.p50_s, 4),
            "p95_s": round(self.p95_s, 4),
            "apps": self.apps,
        }


@dataclass(frozen=True)
class RunSummary:
    """A run's statistics, overall and per class, and its outcomes (for plots)."""

    overall: Stats
    failed: int
    by_class: dict[str, Stats]
    outcomes: tuple[AppOutcome, ...]

    @property
    def mean_s(self) -> float:
        """Mean completion time over all apps."""
        return self.overall.mean_s

    @classmethod
    def of(cls, outcomes: Sequence[AppOutcome]) -> RunSummary:
        """Summarise the outcomes of a run."""
        classes = sorted({o.app for o in outcomes})
        return cls(
            Stats.of([o.act_s for o in outcomes]),
            sum(o.error is not None for o in outcomes),
            {c: Stats.of([o.act_s for o in outcomes if o.app == c]) for c in classes},
            tuple(outcomes),
        )

    def to_json(self) -> dict[str, Any]:
        """``{"mean_s", "p50_s", "p95_s", "apps", "failed", "by_class": {APP: {...}}}``."""
        return {
            **self.overall.to_json(),
            "failed": self.failed,
            "by_class": {name: stats.to_json() for name, stats in self.by_class.items()},
        }


def reduction(before: float, after: float) -> float:
    """Relative reduction from ``before`` to ``after`` (0.4 = 40% lower); 0 when before is 0."""
    return 0.0 if before <= 0 else (before - after) / before
