"""Service levels of an app class in a workload file: its tier and its runs' deadlines.

An app of a workload may carry two fields besides its PDGraph (docs/workload-format.md)::

    "tier": "critical" | "standard" | "sheddable"          (default "standard")
    "deadline": {"share": 0.5, "factors": [1.2, 1.5, 2.0], "scale": 0.7, "base_s": 30.0}

``share`` of the class's runs get a deadline (drawn per run); a run's deadline lies
``factor * base`` seconds after its arrival, ``factor`` drawn uniformly from ``factors``;
``base`` is ``base_s`` when given, else ``scale`` times the longest duration in the class's
duration distribution: its runs measured alone, no queueing (the simulator: ``sim.lone``).
``HERMES_DEADLINES`` is the setup of Hermes's deadline evaluation (factors 1.2, 1.5, 2 of
0.7 x the maximum duration).

>>> level = parse_service_level("qa", {"tier": "critical", "deadline": {"share": 0.5}})
>>> level.tier.value, level.deadline.factors, level.deadline.scale
('critical', (1.2, 1.5, 2.0), 0.7)
>>> parse_service_level("qa", {"deadline": {"share": 1.5}})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
hermes_agents.errors.ValidationError: app 'qa', field 'deadline', 'share': must be a number ...
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hermes_agents.bounds import MAX_DEADLINE_S
from hermes_agents.errors import ValidationError
from hermes_agents.scheduling.tiers import Tier, checked_tier

SERVICE_KEYS = frozenset({"tier", "deadline"})
"""The keys of an app that are its service level, not its PDGraph."""
DEADLINE_KEYS = frozenset({"share", "factors", "scale", "base_s"})
HERMES_FACTORS = (1.2, 1.5, 2.0)
HERMES_SCALE = 0.7


@dataclass(frozen=True)
class DeadlineSpec:
    """Which runs of a class get a deadline, and how far after their arrival it lies.

    Attributes:
        share: the probability that a run gets a deadline (0..1).
        factors: the deadline is ``factor * base`` seconds after arrival, ``factor`` drawn
            uniformly from these (each > 0).
        scale: without ``base_s``, ``base = scale *`` the class's longest duration.
        base_s: the base in seconds (None: from the PDGraph, see ``scale``).
    """

    share: float = 1.0
    factors: tuple[float, ...] = HERMES_FACTORS
    scale: float = HERMES_SCALE
    base_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The workload-file form."""
        out: dict[str, Any] = {"share": self.share, "factors": list(self.factors)}
        out["scale"] = self.scale
        if self.base_s is not None:
            out["base_s"] = self.base_s
        return out


HERMES_DEADLINES = DeadlineSpec()
"""Hermes's deadline evaluation: factors {1.2, 1.5, 2} of 0.7 x the maximum duration (share
1: every run; ``hermes bench --deadlines SHARE`` gives a share)."""


@dataclass(frozen=True)
class ServiceLevel:
    """An app class's tier and deadline setup (``deadline`` None: its runs have none)."""

    tier: Tier = Tier.STANDARD
    deadline: DeadlineSpec | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        """The app fields of the workload-file form (empty for the default level)."""
        out: dict[str, Any] = {}
        if self.tier != Tier.STANDARD:
            out["tier"] = self.tier.value
        if self.deadline is not None:
            out["deadline"] = self.deadline.to_dict()
        return out


DEFAULT_LEVEL = ServiceLevel()


def parse_service_level(app: str, data: Mapping[str, Any]) -> ServiceLevel:
    """The service level in an app's mapping (its ``tier`` and ``deadline`` keys)."""
    where = f"app {app!r}"
    tier = Tier.STANDARD
    if "tier" in data:
        try:
            tier = checked_tier(data["tier"])
        except ValidationError as error:
            raise error.within(where) from None
    raw = data.get("deadline")
    if raw is None:
        return ServiceLevel(tier)
    return ServiceLevel(tier, _deadline(raw, where, "field 'deadline'"))


def _deadline(data: object, *where: str) -> DeadlineSpec:
    if not isinstance(data, Mapping):
        raise ValidationError('expected {"share", "factors", "scale", "base_s"}', *where)
    unknown = sorted(set(map(str, data)) - DEADLINE_KEYS)
    if unknown:
        raise ValidationError(f"unknown key(s) {unknown}; use {sorted(DEADLINE_KEYS)}", *where)
    share = _number(data.get("share", 1.0), 0.0, 1.0, *where, "'share'")
    factors_data = data.get("factors", list(HERMES_FACTORS))
    if not isinstance(factors_data, list) or not factors_data:
        raise ValidationError("must be a non-empty list of numbers > 0", *where, "'factors'")
    factors = tuple(_positive(f, *where, "'factors'") for f in factors_data)
    scale = _positive(data.get("scale", HERMES_SCALE), *where, "'scale'")
    base = data.get("base_s")
    base_s = None if base is None else _positive(base, *where, "'base_s'")
    return DeadlineSpec(share, factors, scale, base_s)


def _number(value: object, low: float, high: float, *where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ValidationError(f"must be a number from {low:g} to {high:g}, got {value!r}", *where)
    return float(value)


def _positive(value: object, *where: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 < value <= MAX_DEADLINE_S
    ):
        raise ValidationError(
            f"must be a number > 0 and at most {MAX_DEADLINE_S:.0f}, got {value!r}", *where
        )
    return float(value)
