"""Demand distributions: parsed from the workload format, kept as sample arrays.

A distribution in a workload file is one of::

    {"const": x}
    {"normal": [mean, sd]}       truncated at 0 (negative draws are redrawn)
    {"lognormal": [mean, sd]}    mean and sd of the values themselves, not of their log
    {"uniform": [lo, hi]}
    {"samples": [x1, x2, ...]}

Parametric forms are materialised into ``DEFAULT_SAMPLES`` draws from a seeded
``numpy.random.Generator``; the original form is kept so that ``to_spec()`` writes back exactly
what was read. Counts (tokens, fan-out) are rounded to integers, at least 0 for tokens and at
least 1 for fan-out.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hermes_agents.errors import ValidationError

DEFAULT_SAMPLES = 1000
"""How many draws a parametric distribution materialises into (also the learner's window)."""

FORMS = ("const", "normal", "lognormal", "uniform", "samples")


@dataclass(frozen=True, eq=False)
class Distribution:
    """An empirical distribution of one demand quantity.

    ``samples`` is a read-only float64 array (never empty, all finite and >= 0); ``spec`` is the
    parametric form it was materialised from, or ``None`` when the samples are the data.
    """

    samples: NDArray[np.float64]
    spec: Mapping[str, object] | None = None
    integer: bool = False

    @property
    def mean(self) -> float:
        """Mean of the samples."""
        return float(self.samples.mean())

    def to_spec(self) -> dict[str, object]:
        """The workload-format form: the original parametric spec, or the samples."""
        if self.spec is not None:
            return dict(self.spec)
        values = self.samples.tolist()
        if self.integer:
            return {"samples": [int(v) for v in values]}
        return {"samples": values}


def constant(value: float, *, integer: bool = False) -> Distribution:
    """A distribution that always takes ``value``."""
    return Distribution(_frozen(np.array([float(value)])), {"const": value}, integer)


def from_samples(values: ArrayLike, *, integer: bool) -> Distribution:
    """A distribution whose samples are ``values`` (already validated and rounded)."""
    return Distribution(_frozen(np.asarray(values, dtype=np.float64).copy()), None, integer)


def derived_rng(seed: int, *names: str) -> np.random.Generator:
    """A generator seeded by ``seed`` and a stable hash of ``names``.

    Each (app, stage, field) gets its own stream, so adding an app never changes another's draws.
    """
    key = zlib.crc32("/".join(names).encode())
    return np.random.default_rng(np.random.SeedSequence([seed, key]))


def parse_distribution(
    spec: object,
    *,
    minimum: int,
    integer: bool,
    rng: np.random.Generator,
    size: int = DEFAULT_SAMPLES,
    location: tuple[str, ...] = (),
) -> Distribution:
    """Parse one distribution spec; ``minimum`` is the floor applied after rounding counts."""
    if not isinstance(spec, Mapping) or len(spec) != 1:
        raise ValidationError(f"expected one of {_forms()}, got {_short(spec)}", *location)
    form, params = next(iter(spec.items()))
    if form not in FORMS:
        raise ValidationError(f"unknown distribution {form!r}; use one of {_forms()}", *location)
    values = _materialise(str(form), params, rng, size, location)
    if integer:
        values = np.maximum(np.rint(values), minimum)
    if form == "samples":
        return Distribution(_frozen(values), None, integer)
    return Distribution(_frozen(values), {str(form): params}, integer)


def _materialise(
    form: str, params: object, rng: np.random.Generator, size: int, location: tuple[str, ...]
) -> NDArray[np.float64]:
    where = (*location, f"{form!r}")
    if form == "const":
        return np.array([_number(params, where)])
    if form == "samples":
        return _sample_list(params, where)
    first, second = _pair(params, form, where)
    if form == "uniform":
        if first < 0 or second < first:
            raise ValidationError(f"needs 0 <= lo <= hi, got [{first}, {second}]", *where)
        return rng.uniform(first, second, size)
    if second < 0:
        raise ValidationError(f"standard deviation must be >= 0, got {second}", *where)
    if form == "normal":
        return _truncated_normal(first, second, rng, size, where)
    return _lognormal(first, second, rng, size, where)


def _truncated_normal(
    mean: float, sd: float, rng: np.random.Generator, size: int, where: tuple[str, ...]
) -> NDArray[np.float64]:
    values = rng.normal(mean, sd, size)
    # Redraw the negatives: at most half are rejected per round since mean >= 0.
    for _ in range(64):
        negative = values < 0
        if not negative.any():
            break
        values[negative] = rng.normal(mean, sd, int(negative.sum()))
    return np.maximum(values, 0.0)


def _lognormal(
    mean: float, sd: float, rng: np.random.Generator, size: int, where: tuple[str, ...]
) -> NDArray[np.float64]:
    if mean <= 0:
        raise ValidationError(f"mean must be > 0 for a lognormal, got {mean}", *where)
    sigma2 = math.log1p((sd / mean) ** 2)
    mu = math.log(mean) - sigma2 / 2
    return rng.lognormal(mu, math.sqrt(sigma2), size)


def _pair(params: object, form: str, where: tuple[str, ...]) -> tuple[float, float]:
    if not isinstance(params, Sequence) or isinstance(params, str) or len(params) != 2:
        hint = "[lo, hi]" if form == "uniform" else "[mean, sd]"
        raise ValidationError(f"expected two numbers {hint}, got {_short(params)}", *where)
    return _number(params[0], where), _number(params[1], where)


def _sample_list(params: object, where: tuple[str, ...]) -> NDArray[np.float64]:
    if not isinstance(params, Sequence) or isinstance(params, str) or not params:
        raise ValidationError("expected a non-empty list of numbers", *where)
    if any(isinstance(v, bool) or not isinstance(v, int | float) for v in params):
        raise ValidationError("every sample must be a number", *where)
    values = np.asarray(params, dtype=np.float64)
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        index = int(np.argmax(bad))
        raise ValidationError(
            f"{int(bad.sum())} sample(s) are negative, NaN or infinite "
            f"(first at index {index}: {values[index]}); demands must be finite and >= 0",
            *where,
        )
    return values


def _number(value: object, where: tuple[str, ...]) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"expected a number, got {_short(value)}", *where)
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise ValidationError(f"must be finite and >= 0, got {number}", *where)
    return number


def _frozen(values: NDArray[np.float64]) -> NDArray[np.float64]:
    values = np.ascontiguousarray(values, dtype=np.float64)
    values.flags.writeable = False
    return values


def _forms() -> str:
    return ", ".join(f"{{{form!r}: ...}}" for form in FORMS)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
