"""What an LLM engine itself bounds and decides, which the client does not see.

``EngineLimits`` describes a vLLM / SGLang server's own scheduler: a batch of at most
``max_num_seqs`` sequences, a KV cache of ``kv_cache_tokens`` tokens, its own waiting queue
(first come first served, or by request priority), and when it preempts a running sequence
and what that costs. ``hermes_agents.sim.bounded.BoundedEngine`` runs it. Engines without
limits (``None`` in a workload) keep the unbounded model of ``hermes_agents.sim.llm``.

What stock engines do (BACKGROUND.md, docs/backends/vllm.md):

- vLLM (v1 scheduler): ``--scheduling-policy fcfs`` (default) or ``priority`` (lower value
  first, ties by arrival). A running sequence that cannot get a KV block for its next token
  preempts the lowest-priority running sequence (``priority``) or the last admitted one
  (``fcfs``); the victim is freed and recomputed later. A full batch (``max_num_seqs``) never
  preempts: ``Preempt.KV``. Preempting also for a better waiting request when the batch or the
  KV cache is full is the Hermes artifact's modified vLLM and vllm-project/vllm#40004:
  ``Preempt.BATCH``.
- ``Preempt.OFF``: no preemption at all; a sequence is admitted only when its whole context
  (prompt and output) fits in what the running ones will need at their ends.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from hermes_agents.errors import ValidationError

SWAP_S_PER_TOKEN = 2e-5
"""Seconds to move one token's KV (0.5 MB for a 7B model) over PCIe at ~25 GB/s, each way."""


class Queueing(enum.StrEnum):
    """How the engine orders its waiting queue."""

    FCFS = "fcfs"
    PRIORITY = "priority"


class Preempt(enum.StrEnum):
    """What makes the engine preempt a running sequence (see the module docstring)."""

    OFF = "off"
    KV = "kv"
    BATCH = "batch"


class PreemptCost(enum.StrEnum):
    """What a preempted sequence costs: recompute its context, or swap its KV to the CPU."""

    RECOMPUTE = "recompute"
    SWAP = "swap"


ENGINE_KEYS = frozenset(
    {
        "max_num_seqs",
        "kv_cache_tokens",
        "scheduling",
        "preempt",
        "preempt_cost",
        "preempt_threshold",
    }
)
"""The fields of a workload backend's ``engine`` object."""

_E = TypeVar("_E", bound=enum.StrEnum)


@dataclass(frozen=True)
class EngineLimits:
    """An engine's own capacity and scheduler.

    Attributes:
        max_num_seqs: sequences in the batch at most (vLLM ``--max-num-seqs``).
        kv_cache_tokens: tokens of KV cache (prompt and generated, all sequences); None: no
            limit.
        scheduling: order of the engine's waiting queue.
        preempt: what triggers preemption.
        preempt_cost: ``recompute`` re-prefills the victim's prompt and generated tokens when
            it resumes; ``swap`` moves its KV out (in the step that preempts) and back (in the
            step it resumes) at ``swap_s_per_token`` each way.
        swap_s_per_token: seconds per token moved, each way.
        preempt_threshold: ``Preempt.BATCH`` preempts only a running sequence whose priority is
            worse than the waiting one's by more than this (SGLang's
            ``--priority-scheduling-preemption-threshold``, 10 by default; 0: any worse one).
    """

    max_num_seqs: int = 256
    kv_cache_tokens: int | None = None
    scheduling: Queueing = Queueing.FCFS
    preempt: Preempt = Preempt.KV
    preempt_cost: PreemptCost = PreemptCost.RECOMPUTE
    swap_s_per_token: float = SWAP_S_PER_TOKEN
    preempt_threshold: float = 0.0

    def __post_init__(self) -> None:
        if self.max_num_seqs < 1:
            raise ValidationError(f"must be >= 1, got {self.max_num_seqs}", "field 'max_num_seqs'")
        if self.kv_cache_tokens is not None and self.kv_cache_tokens < 1:
            raise ValidationError(
                f"must be >= 1 (or absent: no limit), got {self.kv_cache_tokens}",
                "field 'kv_cache_tokens'",
            )
        if not self.swap_s_per_token >= 0:
            raise ValidationError("must be >= 0", "field 'swap_s_per_token'")
        if not self.preempt_threshold >= 0:
            raise ValidationError("must be >= 0", "field 'preempt_threshold'")
        for name, kind in (
            ("scheduling", Queueing),
            ("preempt", Preempt),
            ("preempt_cost", PreemptCost),
        ):
            object.__setattr__(self, name, _member(kind, getattr(self, name), name))

    @classmethod
    def from_mapping(cls, data: Mapping[str, object], *where: str) -> EngineLimits:
        """Parse a workload backend's ``engine`` object; errors name ``where`` and the field."""
        unknown = sorted(set(data) - ENGINE_KEYS)
        if unknown:
            raise ValidationError(
                f"unknown fields {unknown}; use {sorted(ENGINE_KEYS)}", *where, "field 'engine'"
            )
        try:
            return cls(
                max_num_seqs=_count(data.get("max_num_seqs"), "max_num_seqs") or 256,
                kv_cache_tokens=_count(data.get("kv_cache_tokens"), "kv_cache_tokens"),
                scheduling=_member(Queueing, data.get("scheduling", "fcfs"), "scheduling"),
                preempt=_member(Preempt, data.get("preempt", "kv"), "preempt"),
                preempt_cost=_member(
                    PreemptCost, data.get("preempt_cost", "recompute"), "preempt_cost"
                ),
                preempt_threshold=_threshold(data.get("preempt_threshold", 0.0)),
            )
        except ValidationError as error:
            raise error.within(*where, "field 'engine'") from None

    def to_mapping(self) -> dict[str, object]:
        """The workload-file form."""
        out: dict[str, object] = {"max_num_seqs": self.max_num_seqs}
        if self.kv_cache_tokens is not None:
            out["kv_cache_tokens"] = self.kv_cache_tokens
        out["scheduling"] = str(self.scheduling)
        out["preempt"] = str(self.preempt)
        out["preempt_cost"] = str(self.preempt_cost)
        if self.preempt_threshold:
            out["preempt_threshold"] = self.preempt_threshold
        return out


def _threshold(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        problem = f"must be a number >= 0, got {value!r}"
        raise ValidationError(problem, "field 'preempt_threshold'")
    return float(value)


def _count(value: object, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(f"must be an integer >= 1, got {value!r}", f"field {name!r}")
    return value


def _member(kind: type[_E], value: object, name: str) -> _E:
    try:
        return kind(str(value))
    except ValueError:
        choices = ", ".join(str(m) for m in kind)
        problem = f"unknown value {value!r}; use one of {choices}"
        raise ValidationError(problem, f"field {name!r}") from None
