"""What the planner knows about one backend's warm-up: its cost, its threshold, its memory."""

from __future__ import annotations

import math
from dataclasses import dataclass

from hermes_agents.errors import ValidationError

DEFAULT_THRESHOLD = 0.5
"""The default K of the planner's rules (the wake rule, both keep-awakes).

0.5 warms a backend when it is more likely than not that the warm-up is used, and used in
time: an even bet between the cold start it hides and the warm seconds it may waste. In the K
sweep on ``paper-mix-cold`` (docs/prewarming.md), K from 0.4 to 0.9 costs about the same warm
time and hides less as K grows; below 0.3 hints start paying for unlikely branches and for
keeping a backend awake between rare arrivals.
"""


@dataclass(frozen=True)
class WarmupSpec:
    """One backend's warm-up, as the planner sees it.

    Attributes:
        backend: the backend's name (as the scheduler knows it).
        warmup_s: seconds from a wake until the backend serves (its cold start).
        threshold: K: warm when ``p * P(arrival after the warm-up completes) >= K``; keep awake
            when ``p * P(return within idle_sleep_s) >= K``. In (0, 1].
        idle_sleep_s: idle seconds after which the backend falls asleep by itself; None: it
            never does (no keep-awake hints are needed then).
        memory: what the backend occupies while warm, in the units of its ``pool``'s budget.
        pool: the memory pool it competes in (budgets are given to the planner); None: it
            competes with nothing.
        arrival_threshold: K_a of the arrival rule: keep the awake backend awake another
            ``idle_sleep_s`` when ``1 - exp(-A * idle_sleep_s) >= K_a``, ``A`` being the rate
            of new apps that reach it sooner than ``warmup_s``. In (0, 1]; None (default):
            the same as ``threshold`` (the same bet: warm seconds that are likely enough to
            be used).

    >>> spec = WarmupSpec("dnn", warmup_s=5.0, idle_sleep_s=30.0)
    >>> spec.threshold, spec.arrival_k
    (0.5, 0.5)
    """

    backend: str
    warmup_s: float
    threshold: float = DEFAULT_THRESHOLD
    idle_sleep_s: float | None = None
    memory: float = 1.0
    pool: str | None = None
    arrival_threshold: float | None = None

    def __post_init__(self) -> None:
        where = f"backend {self.backend!r}"
        if not self.backend:
            raise ValidationError("give the backend's name", "field 'backend'")
        if not (math.isfinite(self.warmup_s) and self.warmup_s >= 0):
            raise ValidationError(f"must be >= 0 seconds, got {self.warmup_s}", where, "warmup_s")
        if not 0 < self.threshold <= 1:
            raise ValidationError(
                f"must be in (0, 1], got {self.threshold}; 0.5 is the default", where, "threshold"
            )
        if self.idle_sleep_s is not None and not self.idle_sleep_s > 0:
            raise ValidationError(
                f"must be > 0 or None (never sleeps), got {self.idle_sleep_s}",
                where,
                "idle_sleep_s",
            )
        if self.arrival_threshold is not None and not 0 < self.arrival_threshold <= 1:
            raise ValidationError(
                f"must be in (0, 1] or None (the same as threshold), got {self.arrival_threshold}",
                where,
                "arrival_threshold",
            )
        if not (math.isfinite(self.memory) and self.memory >= 0):
            raise ValidationError(f"must be >= 0, got {self.memory}", where, "memory")

    @property
    def arrival_k(self) -> float:
        """K_a, the arrival rule's threshold: ``arrival_threshold``, else ``threshold``."""
        return self.threshold if self.arrival_threshold is None else self.arrival_threshold
