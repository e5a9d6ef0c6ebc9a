"""Fitting an ``LLMCost`` to measured calls: non-negative least squares on the rates.

``fit(observations)`` turns measured calls (prompt and output tokens, cached tokens and their
tier, seconds) into per-token prefill and decode rates, a per-request overhead and KV load
rates, refusing data that cannot tell the rates apart (``ValidationError`` naming them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from hermes_agents.cost import RATE_FIELDS, KVTier, LLMCost, checked_number, checked_tier
from hermes_agents.errors import ValidationError

__all__ = ["CallObservation", "fit"]


@dataclass(frozen=True)
class CallObservation:
    """One measured LLM call: token counts, the cache tier, and the seconds it took."""

    prompt_tokens: int
    output_tokens: int
    seconds: float
    cached_tokens: int = 0
    tier: KVTier = KVTier.GPU

    def __post_init__(self) -> None:
        for name in ("prompt_tokens", "output_tokens", "cached_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
                raise ValidationError(f"expected an int >= 0, got {value!r}", f"field '{name}'")
        object.__setattr__(self, "seconds", checked_number(self.seconds, "field 'seconds'"))
        object.__setattr__(self, "tier", checked_tier(self.tier, "field 'tier'"))


def _design(
    observations: Sequence[CallObservation],
) -> tuple[list[str], NDArray[np.float64], NDArray[np.float64]]:
    """Feature names, design matrix and targets; all-zero feature columns are left out."""
    prompt = np.array([o.prompt_tokens for o in observations], dtype=np.float64)
    cached = np.minimum([o.cached_tokens for o in observations], prompt)
    tiers = np.array([o.tier.value for o in observations])
    columns = {
        "request_s": np.ones_like(prompt),
        "prefill_s_per_token": prompt - cached,
        "decode_s_per_token": np.array([o.output_tokens for o in observations], dtype=np.float64),
    }
    for tier in KVTier:
        columns[tier.value] = np.where(tiers == tier.value, cached, 0.0)
    names = [name for name, column in columns.items() if np.any(column != 0)]
    design = np.column_stack([columns[name] for name in names])
    return names, design, np.array([o.seconds for o in observations], dtype=np.float64)


_LABELS = {
    "request_s": "the constant term (request_s)",
    "prefill_s_per_token": "uncached prompt tokens",
    "decode_s_per_token": "output tokens",
}


def _label(name: str) -> str:
    return _LABELS.get(name, f"cached tokens in tier '{name}'")


def _check_identifiable(names: list[str], design: NDArray[np.float64]) -> None:
    """Raise unless each column is linearly independent of the columns before it."""
    where = "argument 'observations'"
    if design.shape[0] < design.shape[1]:
        raise ValidationError(
            f"need at least {design.shape[1]} observations to fit {', '.join(names)}, "
            f"got {design.shape[0]}; record more calls",
            where,
        )
    scaled = design / np.linalg.norm(design, axis=0)
    for j in range(1, len(names)):
        if np.linalg.matrix_rank(scaled[:, : j + 1]) <= j:
            others = ", ".join(_label(n) for n in names[:j])
            raise ValidationError(
                f"cannot identify the coefficient of {_label(names[j])}: it is a linear "
                f"combination of {others} in these observations; vary {_label(names[j])} "
                "independently across calls",
                where,
            )


def _nnls_solve(
    a: NDArray[np.float64],
    b: NDArray[np.float64],
    x: NDArray[np.float64],
    passive: NDArray[np.bool_],
) -> NDArray[np.float64]:
    """Lawson-Hanson inner loop: least squares on the passive set, stepping back while < 0."""
    while True:
        s = np.zeros_like(x)
        s[passive] = np.linalg.lstsq(a[:, passive], b, rcond=None)[0]
        if np.all(s[passive] > 0):
            return s
        bad = np.flatnonzero(passive & (s <= 0))
        steps = x[bad] / np.maximum(x[bad] - s[bad], np.finfo(np.float64).tiny)
        k = int(np.argmin(steps))
        x = x + steps[k] * (s - x)
        passive[bad[k]] = False
        passive &= x > 0
        x[~passive] = 0.0


def _nnls(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """Non-negative least squares, ``argmin ||a x - b||`` over ``x >= 0`` (Lawson-Hanson)."""
    x = np.zeros(a.shape[1])
    passive = np.zeros(a.shape[1], dtype=bool)
    tol = 10 * np.finfo(np.float64).eps * np.linalg.norm(a, 1) * max(a.shape)
    for _ in range(3 * a.shape[1] + 1):
        gain = np.where(passive, -np.inf, a.T @ (b - a @ x))
        j = int(np.argmax(gain))
        if gain[j] <= tol:
            break
        passive[j] = True
        x = _nnls_solve(a, b, x, passive)
        passive = x > 0
    return np.maximum(x, 0.0)


def fit(observations: Sequence[CallObservation], base: LLMCost | None = None) -> LLMCost:
    """Calibrate an ``LLMCost`` from measured calls by non-negative least squares.

    Fits ``request_s``, the prefill and decode rates, and the load rate of every tier seen with
    cached tokens; features never seen (all-zero columns) and ``kv_tier`` keep ``base``'s values.
    """
    base = LLMCost() if base is None else base
    if not observations:
        raise ValidationError(
            "no observations to fit; record some calls", "argument 'observations'"
        )
    names, design, target = _design(observations)
    _check_identifiable(names, design)
    norms = np.linalg.norm(design, axis=0)
    fitted = dict(zip(names, (_nnls(design / norms, target) / norms).tolist(), strict=True))
    loads = {t: fitted.get(t.value, base.kv_load_s_per_token[t]) for t in KVTier}
    rates = {n: fitted.get(n, getattr(base, n)) for n in RATE_FIELDS}
    return LLMCost(**rates, kv_load_s_per_token=loads, kv_tier=base.kv_tier)
