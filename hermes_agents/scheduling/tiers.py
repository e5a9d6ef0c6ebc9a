"""Service tiers and deadlines: what a user declares about an app class or one run.

A tier says how much an app class matters against the others, like llm-d's criticality:

- ``critical``: interactive apps; their calls go before every ``standard`` and ``sheddable``
  call waiting on the same backend;
- ``standard``: the default;
- ``sheddable``: batch work; it runs when nothing of a higher tier waits.

The order between tiers is strict, and within a tier the wrapped policy decides (``Tiered``,
in ``policies``): ``gittins+tiers`` is Gittins within each tier. A lower tier keeps no reserved
share of the backend; what keeps it from starving is the backend's wait bound
(``max_wait_s``, 30 s by default outside the simulator): a call that has waited that long goes
first whatever its tier. A higher tier keeps **headroom**: while critical or standard work is
about on a backend, ``sheddable`` calls may hold at most ``sheddable_share`` of its slots
(``BackendLimits``; the rule is ``reserve``), so a burst of batch work cannot fill every slot
just before an interactive call arrives (admission is not preemptive). Nothing is ever shed: a
``sheddable`` call is late, never dropped (the scheduler fails open; it never refuses a user's
call).

A deadline is a point on the scheduler's clock by which the run should end; users give it in
seconds from now (``deadline_s``), checked here: finite, > 0, at most ``MAX_DEADLINE_S``.

>>> checked_tier("critical")
<Tier.CRITICAL: 'critical'>
>>> checked_tier("crtical")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
hermes_agents.errors.ValidationError: field 'tier': unknown tier 'crtical' (did you mean ...
>>> checked_deadline_s(float("nan"))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
hermes_agents.errors.ValidationError: field 'deadline_s': must be a number of seconds > 0 ...
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from hermes_agents.bounds import MAX_DEADLINE_S
from hermes_agents.errors import ValidationError, did_you_mean


class Tier(enum.StrEnum):
    """An app class's service tier (see the module docstring); the value is its name."""

    CRITICAL = "critical"
    STANDARD = "standard"
    SHEDDABLE = "sheddable"

    @property
    def level(self) -> int:
        """-1 for ``critical``, 0 for ``standard``, 1 for ``sheddable`` (lower goes first)."""
        return _LEVELS[self]


MIN_DEADLINE_S = 1e-3
"""The nearest deadline the daemon protocol carries (a client sends one already past as this:
the run is late)."""
_LEVELS = {Tier.CRITICAL: -1, Tier.STANDARD: 0, Tier.SHEDDABLE: 1}
TIER_NAMES: tuple[str, ...] = tuple(tier.value for tier in Tier)
"""The tier names a configuration, a workload file or the daemon protocol accepts."""


def checked_tier(value: object, field: str = "tier") -> Tier:
    """``value`` (a tier name or a ``Tier``) as a ``Tier``, or a ``ValidationError`` that names
    ``field`` and the choices."""
    if isinstance(value, str) and value in TIER_NAMES:
        return Tier(value)
    hint = did_you_mean(value, TIER_NAMES) if isinstance(value, str) else ""
    raise ValidationError(
        f"unknown tier {value!r}{hint}; use one of {', '.join(TIER_NAMES)}", f"field {field!r}"
    )


def deadline_s_ok(value: object) -> bool:
    """Whether ``value`` is a relative deadline: a number in (0, ``MAX_DEADLINE_S``]."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 < value <= MAX_DEADLINE_S
    )


def checked_deadline_s(value: object, field: str = "deadline_s") -> float:
    """``value`` as seconds from now until a deadline, or a ``ValidationError`` naming
    ``field`` (NaN, infinities, 0, negatives, booleans and 1e308 are refused)."""
    if not deadline_s_ok(value):
        raise ValidationError(
            f"must be a number of seconds > 0 and at most {MAX_DEADLINE_S:.0f} (a year), "
            f"got {value!r}",
            f"field {field!r}",
        )
    assert isinstance(value, int | float)
    return float(value)


@dataclass(frozen=True)
class ClassLevel:
    """What a configuration says about an app class: its tier and its runs' default SLO
    (``slo_s``: seconds from a run's start to its deadline; None: runs have no deadline unless
    they are given one)."""

    tier: Tier = Tier.STANDARD
    slo_s: float | None = None

    def __post_init__(self) -> None:
        checked_tier(self.tier)
        if self.slo_s is not None:
            checked_deadline_s(self.slo_s, "slo_s")


DEFAULT_SHEDDABLE_SHARE = 0.125
"""The share of a backend's slots ``sheddable`` calls may hold while higher tiers are about
(``BackendLimits.sheddable_share``)."""
DEFAULT_RESERVE_WINDOW_S = 30.0
"""How long a backend keeps its headroom after its last critical or standard call
(``BackendLimits.reserve_window_s``)."""


def checked_share(value: object, field: str = "sheddable_share") -> float:
    """``value`` as a share of a backend's slots in (0, 1], or a ``ValidationError`` naming
    ``field`` (1 = no headroom: sheddable calls may take every slot).

    >>> checked_share(0.5)
    0.5
    >>> checked_share(0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    hermes_agents.errors.ValidationError: field 'sheddable_share': must be a share in (0, 1] ...
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not (math.isfinite(value) and 0 < value <= 1)
    ):
        shown = f"{type(value).__name__} {value!r}"
        raise ValidationError(
            f"must be a share in (0, 1] of the backend's slots (1: no headroom for higher "
            f"tiers), such as {DEFAULT_SHEDDABLE_SHARE}; got {shown}",
            f"field {field!r}",
        )
    return float(value)


STANDARD_CLASS = ClassLevel()
"""The level of a class no configuration names."""
