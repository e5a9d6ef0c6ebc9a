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
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hermes_agents.errors import ValidationError

__all__ = [
    "LLM_COST_FIELDS",
    "RATE_FIELDS",
    "CostModel",
    "FanoutMode",
    "KVTier",
    "LLMCost",
    "checked_number",
    "checked_tier",
    "combine_fanout",
]


class KVTier(enum.StrEnum):
    """Where an app's reusable prefix KV cache sits when a call arrives."""

    GPU = "gpu"
    CPU = "cpu"
    REMOTE = "remote"


FanoutMode = Literal["sum", "max"]
"""How one stage visit's parallel calls combine: total work ("sum") or critical path ("max")."""

_FANOUT_MODES: tuple[str, ...] = get_args(FanoutMode)
RATE_FIELDS = ("prefill_s_per_token", "decode_s_per_token", "request_s")
LLM_COST_FIELDS: frozenset[str] = frozenset({*RATE_FIELDS, "kv_tier", "kv_load_s_per_token"})
"""The keys of an LLM cost profile in config and workload files (see ``LLMCost.from_mapping``)."""

_DEFAULT_LOAD: Mapping[KVTier, float] = types.MappingProxyType(
    {KVTier.GPU: 0.0, KVTier.CPU: 2e-5, KVTier.REMOTE: 6e-5}
)


def _tiers() -> str:
    return ", ".join(repr(t.value) for t in KVTier)


def checked_number(value: object, *location: str) -> float:
    """Return ``value`` as a finite non-negative float, or raise naming ``location``."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValidationError(
            f"expected a number (int or float), got {type(value).__name__} {value!r}", *location
        )
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise ValidationError(f"must be finite and >= 0, got {number!r}", *location)
    return number


def checked_tier(value: object, *location: str) -> KVTier:
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
        tier = checked_tier(key, where)
        merged[tier] = checked_number(rate, where, f"tier '{tier.value}'")
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
        for name in RATE_FIELDS:
            object.__setattr__(self, name, checked_number(getattr(self, name), f"field '{name}'"))
        object.__setattr__(self, "kv_load_s_per_token", _load_map(self.kv_load_s_per_token))
        object.__setattr__(self, "kv_tier", checked_tier(self.kv_tier, "field 'kv_tier'"))

    def __hash__(self) -> int:
        loads = tuple(self.kv_load_s_per_token[t] for t in KVTier)
        return hash((*(getattr(self, n) for n in RATE_FIELDS), loads, self.kv_tier))

    def _load_and_prefill(
        self, prompt_tokens: ArrayLike, cached_tokens: ArrayLike, tier: KVTier | None
    ) -> NDArray[np.float64]:
        prompt = _tokens(prompt_tokens, "prompt_tokens")
        cached = np.minimum(_tokens(cached_tokens, "cached_tokens"), prompt)
        tier = checked_tier(self.kv_tier if tier is None else tier, "argument 'tier'")
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
            checked_tier(self.kv_tier if tier is None else tier, "argument 'tier'")
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
        given = [name for name in RATE_FIELDS if name in data]
        rates = {n: checked_number(data[n], *location, f"field '{n}'") for n in given}
        try:
            tier = checked_tier(data.get("kv_tier", "gpu"), "field 'kv_tier'")
            loads = _load_map(data.get("kv_load_s_per_token", {}))
        except ValidationError as error:
            raise error.within(*location) from None
        return cls(**rates, kv_load_s_per_token=loads, kv_tier=tier)

    def to_mapping(self) -> dict[str, object]:
        """The config form of this profile; ``from_mapping`` reads it back to an equal value."""
        loads = {t.value: self.kv_load_s_per_token[t] for t in KVTier}
        rates: dict[str, object] = {n: getattr(self, n) for n in RATE_FIELDS}
        return {**rates, "kv_tier": self.kv_tier.value, "kv_load_s_per_token": loads}


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
