"""Application completion time (ACT) statistics: per run, per class, pooled over seeds, and
their spread across seeds.

>>> spread = Spread.of([10.0, 12.0, 14.0])
>>> spread.mean, spread.sd, spread.low, spread.high
(12.0, 2.0, 10.0, 14.0)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from hermes_agents.sim.simulator import SimResult

Key = tuple[str, str, float]
"""(policy, prewarm, load): the runs of one table row, pooled over seeds."""


@dataclass(frozen=True)
class ActSummary:
    """Mean and percentiles of completion times (seconds); percentiles interpolate linearly."""

    apps: int
    mean_s: float
    p50_s: float
    p95_s: float
    p99_s: float

    @classmethod
    def of(cls, act_s: NDArray[np.float64]) -> ActSummary:
        """Summarise ``act_s`` (at least one value)."""
        p50, p95, p99 = np.percentile(act_s, [50, 95, 99]).tolist()
        return cls(int(act_s.size), float(act_s.mean()), p50, p95, p99)

    def to_dict(self) -> dict[str, float | int]:
        """The JSON form (``apps``, ``mean_s``, ``p50_s``, ``p95_s``, ``p99_s``)."""
        return {
            "apps": self.apps,
            "mean_s": self.mean_s,
            "p50_s": self.p50_s,
            "p95_s": self.p95_s,
            "p99_s": self.p99_s,
        }


@dataclass(frozen=True)
class Spread:
    """How one statistic varies across seeds: mean, sample standard deviation, min and max."""

    mean: float
    sd: float
    """Sample standard deviation (``ddof=1``); 0 for a single seed."""
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        """The spread of ``values`` (at least one)."""
        array = np.asarray(values, dtype=np.float64)
        sd = float(array.std(ddof=1)) if array.size > 1 else 0.0
        return cls(float(array.mean()), sd, float(array.min()), float(array.max()))


def by_class(classes: Sequence[str], act_s: NDArray[np.float64]) -> dict[str, ActSummary]:
    """One summary per app class, in order of first appearance."""
    names = np.asarray(classes)
    return {name: ActSummary.of(act_s[names == name]) for name in dict.fromkeys(classes)}


def reduction(value: float, baseline: float) -> float:
    """How much lower ``value`` is than ``baseline``, as a fraction (0.7 = 70% lower)."""
    return 1.0 - value / baseline if baseline > 0 else 0.0


@dataclass(frozen=True, eq=False)
class Pooled:
    """Every app of the runs of one (policy, prewarm, load), all seeds together.

    ``warm_waste_s`` is the mean over the runs (seconds cold backends were awake and idle);
    ``per_seed`` holds each seed's own ACT summary, in seed order.
    """

    key: Key
    classes: tuple[str, ...]
    act_s: NDArray[np.float64]
    cold_wait_s: NDArray[np.float64]
    seeds: int
    warm_waste_s: float = 0.0
    per_seed: tuple[ActSummary, ...] = ()
    deadlines_s: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    """Each app's deadline after its arrival (NaN: none; empty: no app has one)."""
    tiers: tuple[str, ...] = ()
    """Each app's tier (empty: not recorded)."""

    @property
    def summary(self) -> ActSummary:
        """ACT statistics over all the pooled apps."""
        return ActSummary.of(self.act_s)

    def spread(self, statistic: str) -> Spread:
        """How ``statistic`` (an ``ActSummary`` field: ``mean_s``, ``p95_s``, ...) varies
        across the seeds; from the pooled apps alone when the per-seed summaries are absent."""
        runs = self.per_seed or (self.summary,)
        return Spread.of([float(getattr(run, statistic)) for run in runs])


def key_of(result: SimResult) -> Key:
    """The table row ``result`` belongs to."""
    config = result.config
    return (config.policy, config.prewarm, config.load)


def pool(results: Iterable[SimResult]) -> dict[Key, Pooled]:
    """Group results by (policy, prewarm, load), pooling apps over seeds (first-seen order)."""
    groups: dict[Key, list[SimResult]] = {}
    for result in results:
        groups.setdefault(key_of(result), []).append(result)
    return {
        key: Pooled(
            key,
            tuple(c for r in runs for c in r.classes),
            np.concatenate([r.act_s for r in runs]),
            np.concatenate([r.cold_wait_s for r in runs]),
            len(runs),
            float(np.mean([r.warm_waste_s for r in runs])),
            tuple(ActSummary.of(r.act_s) for r in runs),
            np.concatenate([padded_deadlines(r.deadlines_s, r.act_s.size) for r in runs]),
            tuple(t for r in runs for t in (r.tiers or ("standard",) * r.act_s.size)),
        )
        for key, runs in groups.items()
    }


def padded_deadlines(deadlines_s: NDArray[np.float64], apps: int) -> NDArray[np.float64]:
    """Relative deadlines per app (``SimResult.deadlines_s``), NaN for each of the ``apps``
    when none was recorded (empty)."""
    return deadlines_s if deadlines_s.size else np.full(apps, np.nan)


def hidden_share(cold_wait_s: float, baseline_s: float) -> float | None:
    """Share of the baseline's cold-start waiting that is gone (None: nothing to hide)."""
    return 1.0 - cold_wait_s / baseline_s if baseline_s > 0 else None
