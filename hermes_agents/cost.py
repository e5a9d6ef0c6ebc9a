"""Service cost, in seconds, of the calls an application makes; it feeds the Gittins ranks.

One LLM call costs::

    seconds = request_s
            + kv_load_s_per_token[tier] * cached      # load the reused prefix KV cache
            + prefill_s_per_token * (prompt - cached)  # compute the uncached prompt tokens
            + decode_s_per_token * output              # generate

with ``cached`` clipped to ``prompt`` (cached tokens are part of the prompt). Time to first token
(TTFT) is the same without the decode term. Tools and embeddings are measured seconds.

The CALVO lesson: with prefix caching, a request whose KV cache sits in CPU memory or in a remote
pool pays *loading* time before it computes anything. Ordering requests by uncached prefill
tokens alone can then be worse than FIFO, because a request that looks cheap may spend most of
its time loading; the cost must include the load time of the tier the cache sits in.

Defaults and where they come from: ``prefill_s_per_token = 1e-4`` and ``decode_s_per_token =
0.06`` are the Hermes paper's per-token profile of a 7B model. A 7B Llama-class model holds about
0.5 MB of KV per token (2 x 32 layers x 4096 x 2 bytes); PCIe moves ~25 GB/s effective, so
loading from CPU memory costs ~2e-5 s/token (5x cheaper than recomputing) and a remote pool,
which adds a ~100 Gb/s network hop before PCIe, ~6e-5 s/token (1.7x cheaper). GPU-resident
cache costs nothing to load.

Worked example (default profile): a call with 1000 prompt tokens of which 800 are cached in CPU
memory and 10 output tokens costs ``2e-5 * 800 + 1e-4 * 200 + 0.06 * 10 = 0.636`` seconds:

>>> round(LLMCost().seconds_one(1000, 10, cached_tokens=800, tier=KVTier.CPU), 6)
0.636
"""

from __future__ import annotations

import enum
import math
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hermes_agents.errors import ValidationError

__all__ = [
    "LLM_COST_FIELDS",
    "CallObservation",
    "CostModel",
    "FanoutMode",
    "KVTier",
    "LLMCost",
    "combine_fanout",
    "fit",
]


class KVTier(enum.StrEnum):
    """Where an app's reusable prefix KV cache sits when a call arrives."""

    GPU = "gpu"
    CPU = "cpu"
    REMOTE = "remote"


FanoutMode = Literal["sum", "max"]
"""How one stage visit's parallel calls combine: total work ("sum") or critical path ("max")."""

_FANOUT_MODES: tuple[str, ...] = get_args(FanoutMode)
_RATES = ("prefill_s_per_token", "decode_s_per_token", "request_s")
LLM_COST_FIELDS: frozenset[str] = frozenset({*_RATES, "kv_tier", "kv_load_s_per_token"})
"""The keys of an LLM cost profile in config and workload files (see ``LLMCost.from_mapping``)."""

_DEFAULT_LOAD: Mapping[KVTier, float] = types.MappingProxyType(
    {KVTier.GPU: 0.0, KVTier.CPU: 2e-5, KVTier.REMOTE: 6e-5}
)


def _tiers() -> str:
    return ", ".join(repr(t.value) for t in KVTier)


def _number(value: object, *location: str) -> float:
    """Return ``value`` as a finite non-negative float, or raise naming ``location``."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValidationError(
            f"expected a number (int or float), got {type(value).__name__} {value!r}", *location
        )
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise ValidationError(f"must be finite and >= 0, got {number!r}", *location)
    return number


def _tier(value: object, *location: str) -> KVTier:
    """Return ``value`` as a ``KVTier``, or raise listing the tier names."""
    if isinstance(value, str) and value in {t.value for t in KVTier}:
        return KVTier(value)
    raise ValidationError(f"unknown KV tier {value!r}; use one of {_tiers()}", *location)


def _tokens(value: ArrayLike, name: str) -> NDArray[np.float64]:
    """Return token counts as a float64 array, rejecting negative or non-finite entries."""
    array = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(array)) or np.any(array < 0):
        raise ValidationError("token counts must be finite and >= 0", f"argument '{name}'")
    return array


def _count(value: float, name: str) -> float:
    """One token count as a float, rejected like ``_tokens`` rejects an array entry."""
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise ValidationError("token counts must be finite and >= 0", f"argument '{name}'")
    return number


def _load_map(data: object) -> Mapping[KVTier, float]:
    """Validate a per-tier load-rate mapping; missing tiers take the defaults."""
    where = "field 'kv_load_s_per_token'"
    if not isinstance(data, Mapping):
        raise ValidationError(f"expected a mapping of tier to s/token, got {data!r}", where)
    merged = dict(_DEFAULT_LOAD)
    for key, rate in data.items():
        tier = _tier(key, where)
        merged[tier] = _number(rate, where, f"tier '{tier.value}'")
    return types.MappingProxyType(merged)


@dataclass(frozen=True)
class LLMCost:
    """Linear cost profile of one LLM backend (see the module docstring for the formula).

    ``kv_load_s_per_token`` defaults to ``{gpu: 0, cpu: 2e-5, remote: 6e-5}``: ~0.5 MB of KV per
    token for a 7B Llama-class model (2 x 32 layers x 4096 x 2 bytes) over ~25 GB/s PCIe gives
    ~2e-5 s/token from CPU; a remote pool adds a ~100 Gb/s network hop, ~6e-5 s/token (5x and
    1.7x cheaper than recomputing at 1e-4 s/token). Missing tiers take these defaults.
    ``kv_tier`` is the tier assumed when a call does not say.
    """

    prefill_s_per_token: float = 1e-4
    decode_s_per_token: float = 0.06
    kv_load_s_per_token: Mapping[KVTier, float] = field(default_factory=lambda: _DEFAULT_LOAD)
    request_s: float = 0.0
    kv_tier: KVTier = KVTier.GPU

    def __post_init__(self) -> None:
        for name in _RATES:
            object.__setattr__(self, name, _number(getattr(self, name), f"field '{name}'"))
        object.__setattr__(self, "kv_load_s_per_token", _load_map(self.kv_load_s_per_token))
        object.__setattr__(self, "kv_tier", _tier(self.kv_tier, "field 'kv_tier'"))

    def __hash__(self) -> int:
        loads = tuple(self.kv_load_s_per_token[t] for t in KVTier)
        return hash((*(getattr(self, n) for n in _RATES), loads, self.kv_tier))

    def _load_and_prefill(
        self, prompt_tokens: ArrayLike, cached_tokens: ArrayLike, tier: KVTier | None
    ) -> NDArray[np.float64]:
        prompt = _tokens(prompt_tokens, "prompt_tokens")
        cached = np.minimum(_tokens(cached_tokens, "cached_tokens"), prompt)
        tier = _tier(self.kv_tier if tier is None else tier, "argument 'tier'")
        rate = self.kv_load_s_per_token[tier]
        return np.asarray(
            self.request_s + rate * cached + self.prefill_s_per_token * (prompt - cached)
        )

    def ttft_seconds(
        self, prompt_tokens: ArrayLike, cached_tokens: ArrayLike = 0, tier: KVTier | None = None
    ) -> NDArray[np.float64]:
        """Time to first token: request overhead + KV load + prefill (numpy broadcasting)."""
        return self._load_and_prefill(prompt_tokens, cached_tokens, tier)

    def seconds(
        self,
        prompt_tokens: ArrayLike,
        output_tokens: ArrayLike,
        cached_tokens: ArrayLike = 0,
        tier: KVTier | None = None,
    ) -> NDArray[np.float64]:
        """Service seconds of calls (numpy broadcasting; 0-d inputs give a 0-d array)."""
        output = _tokens(output_tokens, "output_tokens")
        ttft = self._load_and_prefill(prompt_tokens, cached_tokens, tier)
        return np.asarray(ttft + self.decode_s_per_token * output, dtype=np.float64)

    def seconds_one(
        self,
        prompt_tokens: float,
        output_tokens: float,
        cached_tokens: float = 0,
        tier: KVTier | None = None,
    ) -> float:
        """Service seconds of one call, as a Python float: ``seconds`` for one call, in plain
        floats (every scheduled call prices itself; numpy's per-call overhead is 50x the math).
        """
        prompt = _count(prompt_tokens, "prompt_tokens")
        cached = min(_count(cached_tokens, "cached_tokens"), prompt)
        rate = self.kv_load_s_per_token[
            _tier(self.kv_tier if tier is None else tier, "argument 'tier'")
        ]
        ttft = self.request_s + rate * cached + self.prefill_s_per_token * (prompt - cached)
        return ttft + self.decode_s_per_token * _count(output_tokens, "output_tokens")

    @classmethod
    def from_mapping(cls, data: Mapping[str, object], *location: str) -> LLMCost:
        """Parse the config/workload form (keys in ``LLM_COST_FIELDS``, any subset)."""
        unknown = sorted(str(key) for key in data if key not in LLM_COST_FIELDS)
        if unknown:
            allowed = ", ".join(sorted(LLM_COST_FIELDS))
            raise ValidationError(
                f"unknown cost key(s) {', '.join(map(repr, unknown))}; allowed keys: {allowed}",
                *location,
            )
        rates = {n: _number(data[n], *location, f"field '{n}'") for n in _RATES if n in data}
        try:
            tier = _tier(data.get("kv_tier", "gpu"), "field 'kv_tier'")
            loads = _load_map(data.get("kv_load_s_per_token", {}))
        except ValidationError as error:
            raise error.within(*location) from None
        return cls(**rates, kv_load_s_per_token=loads, kv_tier=tier)

    def to_mapping(self) -> dict[str, object]:
        """The config form of this profile; ``from_mapping`` reads it back to an equal value."""
        loads = {t.value: self.kv_load_s_per_token[t] for t in KVTier}
        rates: dict[str, object] = {n: getattr(self, n) for n in _RATES}
        return {**rates, "kv_tier": self.kv_tier.value, "kv_load_s_per_token": loads}


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
        object.__setattr__(self, "seconds", _number(self.seconds, "field 'seconds'"))
        object.__setattr__(self, "tier", _tier(self.tier, "field 'tier'"))


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
    rates = {n: fitted.get(n, getattr(base, n)) for n in _RATES}
    return LLMCost(**rates, kv_load_s_per_token=loads, kv_tier=base.kv_tier)


def combine_fanout(call_seconds: NDArray[np.float64], mode: FanoutMode) -> float:
    """Combine one visit's parallel call costs: their sum or their max (0.0 for no calls)."""
    if mode not in _FANOUT_MODES:
        raise ValidationError(f"unknown fanout mode {mode!r}; use 'sum' or 'max'", "field 'fanout'")
    values = np.asarray(call_seconds, dtype=np.float64)
    if values.size == 0:
        return 0.0
    return float(np.sum(values) if mode == "sum" else np.max(values))


@dataclass(frozen=True)
class CostModel:
    """Service-cost model of a deployment: LLM cost profiles by backend name, and fan-out mode."""

    llm: Mapping[str, LLMCost] = field(default_factory=lambda: types.MappingProxyType({}))
    default_llm: LLMCost = field(default_factory=LLMCost)
    fanout: FanoutMode = "sum"

    def __post_init__(self) -> None:
        for name, profile in self.llm.items():
            if not isinstance(name, str) or not isinstance(profile, LLMCost):
                raise ValidationError("expected an LLMCost keyed by name", f"backend {name!r}")
        object.__setattr__(self, "llm", types.MappingProxyType(dict(self.llm)))
        if not isinstance(self.default_llm, LLMCost):
            raise ValidationError("expected an LLMCost", "field 'default_llm'")
        combine_fanout(np.zeros(0), self.fanout)

    def __hash__(self) -> int:
        return hash((tuple(sorted(self.llm.items())), self.default_llm, self.fanout))

    def for_backend(self, backend: str) -> LLMCost:
        """The backend's cost profile, or ``default_llm`` when it has none."""
        return self.llm.get(backend, self.default_llm)

    def llm_seconds(
        self,
        backend: str,
        prompt_tokens: ArrayLike,
        output_tokens: ArrayLike,
        cached_tokens: ArrayLike = 0,
        tier: KVTier | None = None,
    ) -> NDArray[np.float64]:
        """Service seconds of calls to ``backend`` (vectorised, see ``LLMCost.seconds``)."""
        profile = self.for_backend(backend)
        return profile.seconds(prompt_tokens, output_tokens, cached_tokens, tier)

    def tool_seconds(self, seconds: ArrayLike) -> NDArray[np.float64]:
        """Measured tool/embedding seconds as a float64 array, checked finite and >= 0."""
        array = np.asarray(seconds, dtype=np.float64)
        if not np.all(np.isfinite(array)) or np.any(array < 0):
            raise ValidationError("seconds must be finite and >= 0", "argument 'seconds'")
        return array

    def visit_seconds(self, call_seconds: ArrayLike) -> float:
        """Cost of one stage visit: its parallel calls combined with ``self.fanout``."""
        return combine_fanout(self.tool_seconds(call_seconds), self.fanout)
