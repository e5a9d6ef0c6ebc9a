"""Pace: how many wall seconds a predicted second of service takes, learned from runs' moves.

The PDGraph's walks count seconds of *service* by the cost model. An app's wall clock also
holds queueing, batching and the cost model's own error, and warm-ups are about wall time. The
planner watches runs move: a visit predicted to take ``m`` seconds that took ``o`` teaches
``o / m``. Each pace is a ratio of exponentially decayed sums (recent visits weigh most),
clamped to a sane range. Paces are kept per stage (``(backend, app, stage)``: a short
prefill-heavy call and a long decode run on one engine have different ratios) and per backend;
a stage uses its own pace once it has ``min_visits`` observations, its backend's before that,
and 1.0 before anything is seen.

>>> pace = Pace(decay=0.5, min_visits=1)
>>> pace.factor(("llm", "qa", "answer"))
1.0
>>> pace.observe(("llm", "qa", "answer"), observed_s=1.0, predicted_s=4.0)
>>> pace.factor(("llm", "qa", "answer")), pace.factor(("llm", "qa", "other"))
(0.25, 0.25)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hermes_agents.errors import ValidationError

MIN_PACE, MAX_PACE = 0.05, 20.0
"""Bounds of a learned pace: an observation outside them is clamped, never trusted blindly."""

StageKey = tuple[str, str, str]
"""(backend, app class, stage)."""


@dataclass
class _Sums:
    wall_s: float = 0.0
    model_s: float = 0.0
    visits: int = 0


@dataclass
class Pace:
    """Wall seconds per predicted second of service (see the module docstring)."""

    decay: float = 0.95
    min_visits: int = 3
    _stages: dict[StageKey, _Sums] = field(default_factory=dict)
    _backends: dict[str, _Sums] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0 < self.decay < 1:
            raise ValidationError(f"must be in (0, 1), got {self.decay}", "decay")
        if self.min_visits < 1:
            raise ValidationError(f"must be >= 1, got {self.min_visits}", "min_visits")

    def observe(self, key: StageKey, observed_s: float, predicted_s: float) -> None:
        """A visit of the stage ``key`` predicted to take ``predicted_s`` took ``observed_s``."""
        if not (predicted_s > 0 and observed_s >= 0):
            return  # an instant stage teaches nothing about pace
        for sums in (
            self._stages.setdefault(key, _Sums()),
            self._backends.setdefault(key[0], _Sums()),
        ):
            sums.wall_s = sums.wall_s * self.decay + observed_s
            sums.model_s = sums.model_s * self.decay + predicted_s
            sums.visits += 1

    def factor(self, key: StageKey) -> float:
        """The stage's pace, else its backend's, else 1.0."""
        sums = self._stages.get(key)
        if sums is None or sums.visits < self.min_visits:
            sums = self._backends.get(key[0])
        if sums is None or sums.model_s <= 0:
            return 1.0
        return min(MAX_PACE, max(MIN_PACE, sums.wall_s / sums.model_s))
