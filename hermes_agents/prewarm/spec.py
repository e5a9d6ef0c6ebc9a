"""What the planner knows about one backend's warm-up: its cost, its threshold, its memory."""

from __future__ import annotations

import math
from dataclasses import dataclass

from hermes_agents.errors import ValidationError

DEFAULT_THRESHOLD = 0.5
"""The default K of the rule ``p * P(arrival after the warm-up completes) >= K``.

0.5 warms a backend when it is more likely than not that the warm-up is used, and used in
time: an even bet between the cold start it hides and the warm seconds it may waste. In the K
sweep on ``paper-mix-cold`` (docs/prewarming.md), K from 0.3 to 0.8 costs the same warm time
and hides a little less as K grows; below 0.3 hints start paying for unlikely branches.
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

    >>> WarmupSpec("dnn", warmup_s=5.0, idle_sleep_s=30.0).threshold
    0.5
    """

    backend: str
    warmup_s: float
    threshold: float = DEFAULT_THRESHOLD
    idle_sleep_s: float | None = None
    memory: float = 1.0
    pool: str | None = None

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
        if not (math.isfinite(self.memory) and self.memory >= 0):
            raise ValidationError(f"must be >= 0, got {self.memory}", where, "memory")
