"""Arrival rates: how often each app class starts, learned from the runs the planner sees start.

The planner sees only runs in flight, so by itself it can never warm a backend for an app that
has not arrived yet. To keep a backend awake for the *next* app of a class it needs that class's
arrival rate. ``ArrivalRates`` learns it from the starts it is told about, without a clock of
its own (every call gets ``now_s``):

- each start after the first closes a gap between two starts; gaps and their count are kept as
  exponentially decayed sums (``decay`` per start: the last ~``1 / (1 - decay)`` gaps weigh
  most), like ``Pace``;
- the rate is ``count / (gaps + open_s)``, where ``open_s`` is the time since the last start:
  the maximum-likelihood rate of a Poisson process whose last gap is still open (censored).
  A class that stops arriving thus fades (its rate halves once the open gap equals the decayed
  sum of the closed ones) instead of keeping its last rate forever;
- a class is unknown (rate 0) until ``min_gaps`` gaps were seen.

>>> rates = ArrivalRates(decay=0.5, min_gaps=2)
>>> for t in (0.0, 10.0, 20.0):
...     rates.started("qa", t)
>>> rates.rate("qa", 20.0), rates.rate("qa", 30.0)   # 1.5 starts / 15 s, then 1.5 / 25 s
(0.1, 0.06)
>>> rates.rate("other", 30.0)
0.0
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hermes_agents.errors import ValidationError


@dataclass
class _Class:
    last_s: float
    count: float = 0.0
    gaps_s: float = 0.0
    gaps: int = 0


@dataclass
class ArrivalRates:
    """Starts per second of each app class (see the module docstring)."""

    decay: float = 0.9
    min_gaps: int = 3
    _classes: dict[str, _Class] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0 < self.decay < 1:
            raise ValidationError(f"must be in (0, 1), got {self.decay}", "decay")
        if self.min_gaps < 1:
            raise ValidationError(f"must be >= 1, got {self.min_gaps}", "min_gaps")

    def started(self, app: str, now_s: float) -> None:
        """A run of class ``app`` started at ``now_s``."""
        state = self._classes.get(app)
        if state is None:
            self._classes[app] = _Class(now_s)
            return
        gap_s = max(0.0, now_s - state.last_s)
        state.count = state.count * self.decay + 1.0
        state.gaps_s = state.gaps_s * self.decay + gap_s
        state.gaps += 1
        state.last_s = max(state.last_s, now_s)

    def rate(self, app: str, now_s: float) -> float:
        """Starts per second of ``app`` as of ``now_s`` (0.0 while it is unknown)."""
        state = self._classes.get(app)
        if state is None or state.gaps < self.min_gaps:
            return 0.0
        exposure_s = state.gaps_s + max(0.0, now_s - state.last_s)
        return state.count / exposure_s if exposure_s > 0 else 0.0
