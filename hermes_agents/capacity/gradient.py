"""A latency-gradient limit for backends that say nothing of their capacity.

Hosted APIs, embedding servers, tools: all we see is how long each call took and whether the
backend refused it (429/503). The idea is Netflix concurrency-limits' Gradient2 and TCP
Vegas: while calls take what they take at the backend's floor (its latency with no queue),
the backend has room, so the limit grows; as latency rises above ``tolerance`` times the floor,
the backend is queueing calls, so the limit shrinks in proportion (the gradient); a throttle
halves it (``Controller``).

A call's latency is read relative to its size when the cost model priced it (``work_s``), so
that long and short LLM calls compare; otherwise as seconds. The floor is the lowest of the
per-interval medians seen, and it drifts up by ``floor_drift`` per interval, so that a backend
that became slower for good is not taken to be queueing for ever.

>>> now = [0.0]
>>> limit = GradientLimit(Bounds(start=4), lambda: now[0])
>>> for second in range(1, 4):   # three quiet seconds at the floor, every slot in use
...     now[0] = float(second)
...     for _ in range(4):
...         window = limit.observe(LatencySample(0.1), Load(in_flight=4, queued=3))
>>> window.size > 4
True
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass

from hermes_agents.capacity.controllers import Controller
from hermes_agents.capacity.window import Bounds, LatencySample, Load, Observation

__all__ = ["GradientLimit", "GradientSettings"]


@dataclass(frozen=True)
class GradientSettings:
    """How ``GradientLimit`` reads latencies."""

    tolerance: float = 1.5
    """Latency up to this many times the floor still counts as no queue."""
    interval_s: float = 1.0
    """The limit moves at most once per interval, on the median latency of its calls."""
    min_samples: int = 3
    """Calls an interval needs before the limit moves."""
    smoothing: float = 0.5
    """Share of the new limit taken each move (the rest: the old one)."""
    floor_drift: float = 0.01
    """Fraction by which the floor rises per interval (a backend slower for good)."""


class GradientLimit(Controller):
    """A Gradient2-style limit on latency samples (see the module docstring)."""

    name = "gradient"

    def __init__(
        self,
        bounds: Bounds,
        clock: Callable[[], float],
        settings: GradientSettings | None = None,
    ) -> None:
        super().__init__(bounds, clock)
        self.settings = settings or GradientSettings()
        self.floor: float | None = None
        """The latency floor (relative when calls are priced); None until seen."""
        self.limit = float(self._window.size)
        """The limit before rounding to a window."""
        self._samples: list[float] = []
        self._busy = False
        self._interval_start_s = clock()

    def _observe(self, observation: Observation, load: Load) -> None:
        if not isinstance(observation, LatencySample):
            return
        latency, work = observation.latency_s, observation.work_s
        if not (math.isfinite(latency) and latency >= 0):
            return
        value = latency / work if work is not None and work > 0 else latency
        self._samples.append(value)
        # Gradient2's rule: a limit that is not in use is not tested by these latencies.
        self._busy = self._busy or load.in_flight >= self._window.size / 2
        if self.clock() - self._interval_start_s >= self.settings.interval_s:
            self._update()

    def _update(self) -> None:
        settings, samples = self.settings, self._samples
        if len(samples) < settings.min_samples:
            return
        short = statistics.median(samples)
        self._samples, busy, self._busy = [], self._busy, False
        self._interval_start_s = self.clock()
        floor = short if self.floor is None else self.floor * (1 + settings.floor_drift)
        self.floor = floor = min(floor, short)
        gradient = 1.0 if short <= 0 else min(1.0, settings.tolerance * floor / short)
        gradient = max(0.5, gradient)
        if gradient >= 1.0:
            if not busy or self.holding:
                return
            new = self.limit + math.sqrt(self.limit)  # Gradient2's queue allowance
            why = f"latency at its floor ({short:.3g} vs {floor:.3g}): grow"
        else:
            new = self.limit * gradient
            why = f"latency {short / floor:.2f}x its floor: back off by {gradient:.2f}"
        smoothed = (1 - settings.smoothing) * self.limit + settings.smoothing * new
        self.limit = float(min(self.bounds.max, max(self.bounds.min, smoothed)))
        self._move(self.limit, why)  # the window: the limit rounded down, within the bounds

    def _after_throttle(self, size: int) -> None:
        self.limit = float(size)
