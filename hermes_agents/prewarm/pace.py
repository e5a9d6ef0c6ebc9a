"""Pace: how many wall seconds a predicted second of service takes, learned from runs' moves.

The PDGraph's walks count seconds of *service* by the cost model. An app's wall clock also
holds queueing, batching and the cost model's own error, and warm-ups are about wall time. The
planner watches runs move: a visit predicted to take ``m`` seconds that took ``o`` teaches the
ratio ``o / m``. A pace is the median of the last ``window`` ratios, clamped to a sane range.
The median, not a mean, because the model under the predictions changes: an app's first
visits are priced by its prior (an LLM stage's default demand can be ten times the real one),
and a few ratios learned against that prior must not skew the pace for long once the learned
model takes over; with a median they are outvoted as soon as most of the window is recent.
Paces are kept per stage (``(backend, app, stage)``: a short prefill-heavy call and a long
decode run on one engine have different ratios) and per backend; a stage uses its own pace
once it has ``min_visits`` observations, its backend's before that, and 1.0 before anything is
seen.

>>> pace = Pace(min_visits=1)
>>> pace.factor(("llm", "qa", "answer"))
1.0
>>> pace.observe(("llm", "qa", "answer"), observed_s=1.0, predicted_s=4.0)
>>> pace.factor(("llm", "qa", "answer")), pace.factor(("llm", "qa", "other"))
(0.25, 0.25)
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass, field

from hermes_agents.errors import ValidationError

MIN_PACE, MAX_PACE = 0.05, 20.0
"""Bounds of a learned pace: an observation outside them is clamped, never trusted blindly."""

StageKey = tuple[str, str, str]
"""(backend, app class, stage)."""


@dataclass
class Pace:
    """Wall seconds per predicted second of service (see the module docstring)."""

    window: int = 9
    """Ratios kept per stage and per backend (the most recent)."""
    min_visits: int = 3
    """Visits of a stage before its own pace is used (its backend's until then)."""
    _stages: dict[StageKey, deque[float]] = field(default_factory=dict)
    _backends: dict[str, deque[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.window < 1:
            raise ValidationError(f"must be >= 1, got {self.window}", "window")
        if not 1 <= self.min_visits <= self.window:
            problem = f"must be between 1 and window ({self.window}), got {self.min_visits}"
            raise ValidationError(problem, "min_visits")

    def observe(self, key: StageKey, observed_s: float, predicted_s: float) -> None:
        """A visit of the stage ``key`` predicted to take ``predicted_s`` took ``observed_s``."""
        if not (predicted_s > 0 and observed_s >= 0):
            return  # an instant stage teaches nothing about pace
        ratio = min(MAX_PACE, max(MIN_PACE, observed_s / predicted_s))
        for ratios in (
            self._stages.setdefault(key, deque(maxlen=self.window)),
            self._backends.setdefault(key[0], deque(maxlen=self.window)),
        ):
            ratios.append(ratio)

    def factor(self, key: StageKey) -> float:
        """The stage's pace, else its backend's, else 1.0."""
        ratios = self._stages.get(key)
        if ratios is None or len(ratios) < self.min_visits:
            ratios = self._backends.get(key[0])
        if not ratios:
            return 1.0
        return statistics.median(ratios)
