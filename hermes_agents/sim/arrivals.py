"""When apps arrive: Poisson or bursty, at the workload's rate times the load.

Arrival times are drawn once at unit rate (one app per second on average) and divided by
``rate_per_s * load``: every load of one seed sees the same apps in the same order, only closer
together (common random numbers make policy and load comparisons sharper).

- ``poisson``: exponential gaps (coefficient of variation 1).
- ``bursty``: Gamma gaps with the same mean and coefficient of variation ``burst_cv`` (default
  3): many apps arrive almost together, then long quiet spells. The workload format only knows
  ``poisson``; ``hermes bench --arrivals bursty`` switches a workload to this process.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from hermes_agents.errors import ValidationError


class ArrivalProcess(enum.StrEnum):
    """The inter-arrival distribution (see the module docstring)."""

    POISSON = "poisson"
    BURSTY = "bursty"


@dataclass(frozen=True)
class ArrivalSpec:
    """An arrival process; ``burst_cv`` is the gaps' coefficient of variation when bursty."""

    process: ArrivalProcess = ArrivalProcess.POISSON
    burst_cv: float = 3.0

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "process", ArrivalProcess(self.process))
        except ValueError:
            choices = [p.value for p in ArrivalProcess]
            raise ValidationError(
                f"unknown arrival process {self.process!r}; use one of {choices}", "'arrivals'"
            ) from None
        if not self.burst_cv > 0:
            raise ValidationError(f"must be > 0, got {self.burst_cv}", "'burst_cv'")


def unit_arrivals(count: int, spec: ArrivalSpec, rng: np.random.Generator) -> NDArray[np.float64]:
    """Arrival times of ``count`` apps at a mean rate of one per second (increasing)."""
    if spec.process == ArrivalProcess.POISSON:
        gaps = rng.exponential(1.0, count)
    else:
        shape = 1.0 / spec.burst_cv**2
        gaps = rng.gamma(shape, 1.0 / shape, count)
    return np.cumsum(gaps)


def scaled(unit_times: NDArray[np.float64], rate_per_s: float, load: float) -> NDArray[np.float64]:
    """Unit-rate arrival times at ``rate_per_s * load`` apps per second."""
    if not (rate_per_s > 0 and load > 0):
        raise ValidationError(f"rate and load must be > 0, got {rate_per_s} and {load}", "'load'")
    return unit_times / (rate_per_s * load)
