"""The values every capacity controller reads and returns: bounds, observations, the window.

A controller is a pure object: observations in, a ``Window`` out, time from an injected clock
(``controllers.py``). What it may observe:

- ``EngineSample``: what the engine says of itself (llama.cpp ``/props`` ``total_slots``;
  vLLM and SGLang ``/metrics``: requests running, waiting, KV-cache usage, preemptions so far);
- ``LatencySample``: one finished call's measured latency, with the seconds the cost model
  priced it at when that is known (a call's latency is then read relative to its size);
- ``Throttle``: the backend answered 429 or 503, with its ``Retry-After`` if it gave one.

Each observation comes with a ``Load``: what the scheduler itself has on the backend (calls
running, calls waiting for a slot), so that a controller grows only when the window is what
holds the calls back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hermes_agents.errors import ValidationError

__all__ = [
    "DEFAULT_MAX_WINDOW",
    "DEFAULT_MIN_WINDOW",
    "Bounds",
    "EngineSample",
    "LatencySample",
    "Load",
    "Observation",
    "Throttle",
    "Window",
]

DEFAULT_MIN_WINDOW = 1
"""The smallest window ``auto`` gives a backend unless ``min`` says otherwise."""
DEFAULT_MAX_WINDOW = 256
"""The largest window ``auto`` gives a backend unless ``max`` says otherwise."""


@dataclass(frozen=True)
class Bounds:
    """The window's bounds and where it starts.

    >>> Bounds(min=2, max=64).clamp(100), Bounds(min=2, max=64).start
    (64, 4)
    """

    min: int = DEFAULT_MIN_WINDOW
    """Smallest window (>= 1)."""
    max: int = DEFAULT_MAX_WINDOW
    """Largest window (>= min)."""
    start: int | None = None
    """The window before the first observation; None: 4, within the bounds."""

    def __post_init__(self) -> None:
        for key in ("min", "max"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValidationError(f"must be an integer >= 1, got {value!r}", f"field {key!r}")
        if self.max < self.min:
            problem = f"must be >= min ({self.min}), got {self.max}; raise max or lower min"
            raise ValidationError(problem, "field 'max'")
        start = self.start
        if start is not None and (
            isinstance(start, bool)
            or not isinstance(start, int)
            or not self.min <= start <= self.max
        ):
            problem = f"must be an integer in [min, max] = [{self.min}, {self.max}], got {start!r}"
            raise ValidationError(problem, "field 'start'")
        object.__setattr__(self, "start", self.clamp(4 if start is None else start))

    def clamp(self, size: float) -> int:
        """``size`` rounded down and kept within ``[min, max]`` (NaN: ``min``)."""
        if not math.isfinite(size):
            return self.max if size == math.inf else self.min
        return max(self.min, min(self.max, int(size)))


@dataclass(frozen=True)
class Load:
    """What the scheduler has on the backend now."""

    in_flight: int = 0
    """Its calls holding a slot (admitted, not yet released)."""
    queued: int = 0
    """Its calls waiting for a slot."""


@dataclass(frozen=True)
class EngineSample:
    """What the engine reports of itself; None = it does not say."""

    running: int | None = None
    """Requests in its batch (``vllm:num_requests_running``, ``sglang:num_running_reqs``)."""
    waiting: int | None = None
    """Requests in its own queue (``vllm:num_requests_waiting``, ``sglang:num_queue_reqs``)."""
    kv_usage: float | None = None
    """KV-cache usage, 0..1 (``vllm:kv_cache_usage_perc``, ``sglang:token_usage``)."""
    slots: int | None = None
    """Parallel slots it serves (llama.cpp ``/props`` ``total_slots``)."""
    preemptions: int | None = None
    """Running requests it has preempted since it started, a counter
    (``vllm:num_preemptions_total``, ``sglang:num_retracted_requests_total``)."""


@dataclass(frozen=True)
class LatencySample:
    """One finished call."""

    latency_s: float
    """Seconds from its admission to its release (measured)."""
    work_s: float | None = None
    """Seconds the cost model priced it at (its size); None: unknown, or the latency itself."""


@dataclass(frozen=True)
class Throttle:
    """The backend refused a call for load: 429 Too Many Requests or 503 Service Unavailable."""

    status: int = 429
    """The HTTP status."""
    retry_after_s: float | None = None
    """Its ``Retry-After``, in seconds; None: it gave none."""


Observation = EngineSample | LatencySample | Throttle
"""What a controller's ``observe`` takes."""


@dataclass(frozen=True)
class Window:
    """A controller's answer: how many calls the backend may run at once, and why."""

    size: int
    """The window (the backend's capacity from now on)."""
    reason: str
    """Why it is what it is, in words (``hermes status``, debug logs)."""
    at_s: float
    """When it last moved (the controller's clock)."""
