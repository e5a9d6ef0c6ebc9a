"""From first-passage samples to the numbers the planner's rules need, per backend.

Times are offsets from the moment the app entered its current position (its stage visit): the
planner evaluates the rules once per position and lets a hint fall due later. The walks count
seconds of service; ``pace`` (wall seconds per predicted second, learned by the planner) turns
them into wall time: ``T = pace * walk time``.

- **wake**: warm when ``p * P(T >= w) >= K`` for a warm-up started when the hint is issued.
  The hint is issued at ``delay = max(0, Q_lead(T) - w)``: the latest moment at which a warm-up
  still completes before all but a ``lead`` share of the arrivals (``Q_lead``: the ``lead``
  quantile of the arrival time T given that the app arrives). Waking earlier would hide no more
  and keep the backend idle longer; waking later would be late for more apps. Its probability
  is ``p * P(T >= delay + w)``, the rule's left side at the moment it is issued.
- **partial credit** (``partial=True``, the planner's default; an extension of the paper's
  rule): an app that arrives while the warm-up runs still waits less, and that warm-up is not
  wasted. The left side then counts
  each arrival by the share of the cold start it hides, ``p * E[min(1, (T - delay) / w)]``
  (arrivals after the warm-up count 1, as in the rule), so apps that reach the backend sooner
  than ``w`` still get a wake when they are likely enough to come.
- **keep awake**: an awake backend that the app will likely return to soon should not fall
  asleep first. It holds when ``p * P(T <= elapsed + h) >= K`` (``h``: the backend's
  ``idle_sleep_s``, one idle period): from ``delay = max(0, Q_{K/p}(T) - h)`` on.
- **too soon** (for the arrival rule): ``p * P(T < w)`` at a class's entry position, the share
  of its new apps that reach the backend before a wake started at their arrival completes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from hermes_agents.pdgraph.remaining import FirstPassage
from hermes_agents.prewarm.pace import StageKey
from hermes_agents.prewarm.spec import WarmupSpec


@dataclass(frozen=True)
class Timing:
    """When a rule starts to hold, in seconds after entering the position, and its value then.

    ``delay_s`` is inf when the rule never holds from this position.
    """

    delay_s: float
    probability: float


NEVER = Timing(math.inf, 0.0)


@dataclass(frozen=True, eq=False)
class Outlook:
    """What one position predicts about one backend.

    Attributes:
        reach: p, the probability that the app reaches the backend after its current visit.
        arrivals_s: sorted walk times until it arrives, for the walks that do (service seconds).
    """

    reach: float
    arrivals_s: NDArray[np.float64]

    def mean_s(self, pace: float) -> float:
        """Mean wall seconds from entering the position until the app arrives (if it does)."""
        return pace * float(self.arrivals_s.mean())

    def wake(self, spec: WarmupSpec, lead: float, pace: float, *, partial: bool = False) -> Timing:
        """When a wake falls due and ``p * P(arrival after the warm-up completes)`` then.

        ``partial``: the rule counts arrivals during the warm-up by the share they hide.
        """
        warmup_s = spec.warmup_s
        delay = max(0.0, pace * _quantile(self.arrivals_s, lead) - warmup_s)
        ready = (delay + warmup_s) / pace
        share = 1.0 - np.searchsorted(self.arrivals_s, ready, side="left") / self.arrivals_s.size
        probability = self.reach * float(share)
        score = probability
        if partial and warmup_s > 0:
            hidden = np.clip((pace * self.arrivals_s - delay) / warmup_s, 0.0, 1.0)
            score = self.reach * float(hidden.mean())
        return Timing(delay, probability) if score >= spec.threshold else NEVER

    def too_soon(self, warmup_s: float, pace: float) -> float:
        """``p * P(T < warmup_s)``: the share of apps at this position that would reach the
        backend before a warm-up started now completes (what only an awake backend can hide)."""
        if warmup_s <= 0:
            return 0.0
        sooner = np.searchsorted(self.arrivals_s, warmup_s / pace, side="left")
        return self.reach * float(sooner) / self.arrivals_s.size

    def keep(self, spec: WarmupSpec, pace: float) -> Timing:
        """From when the app likely returns within one idle period (``idle_sleep_s``)."""
        horizon = spec.idle_sleep_s
        if horizon is None or spec.threshold > self.reach:
            return NEVER
        delay = max(0.0, pace * _quantile(self.arrivals_s, spec.threshold / self.reach) - horizon)
        within = (delay + horizon) / pace
        share = np.searchsorted(self.arrivals_s, within, side="right") / self.arrivals_s.size
        return Timing(delay, self.reach * float(share))


@dataclass(frozen=True, eq=False)
class PositionLook:
    """A position's outlooks per backend, and what its current visit is predicted to take.

    Attributes:
        stage: (backend, app class, stage) of the current stage, whose pace times this position.
        visit_s: mean predicted seconds of the current visit (service, critical path).
        backends: backend -> ``Outlook``, for the backends the app may reach from here.
    """

    stage: StageKey
    visit_s: float
    backends: Mapping[str, Outlook]


def look(passage: FirstPassage, stage: StageKey, specs: Mapping[str, WarmupSpec]) -> PositionLook:
    """The ``PositionLook`` of a position at ``stage`` ((backend, app class, stage))."""
    found = {}
    walks = passage.times_s.shape[0]
    for name in specs:
        times = passage.times(name)
        reached = np.sort(times[np.isfinite(times)])
        if reached.size:
            reached.flags.writeable = False
            found[name] = Outlook(reached.size / walks, reached)
    return PositionLook(stage, float(passage.visit_s.mean()), found)


def _quantile(ordered: NDArray[np.float64], share: float) -> float:
    """The smallest value whose empirical CDF reaches ``share`` (inverted CDF)."""
    index = max(0, math.ceil(min(share, 1.0) * ordered.size - 1e-9) - 1)
    return float(ordered[index])
