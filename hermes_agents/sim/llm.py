"""An LLM engine with continuous batching, simulated step by step without stepping.

The engine runs the sequences the scheduler admitted (at most ``max_concurrency``: the scheduler
enforces it). It works in *steps*; in each step every running sequence produces one token, and a
sequence admitted since the last step is prefilled in its first step (and yields its first
token there). A step lasts::

    step_s(n) = step_base_s + step_per_seq_s * n                     n running sequences
              + prefill_s_per_token * (uncached prompt tokens of the sequences joining)
              + request_s per joining sequence
              + (coupled mode) KV load seconds of the sequences joining

Sequences join only at step boundaries and leave after their last token. Admission is
non-preemptive: an admitted sequence runs to its end (as in the paper's end-to-end runs).

Why it is fast: between two changes of the running set every step has the same length, so the
engine plans a *segment* (the first step, then identical steps up to the next completion) and
schedules one event at its end. A sequence that becomes ready mid-segment cuts the segment at
the next step boundary. The cost is O(log n) per admission and per completion, not per token.

Defaults (``EngineParams.from_profile``): a 7B model on one A100-80GB. Decode is memory-bound:
each step reads the weights (13.5 GB in fp16, about 9 ms at ~1.5 TB/s, plus ~4 ms of scheduler
and kernel-launch overhead) and each sequence's KV (~0.5 MB per token of context; ~1.5k tokens
in the paper mix: ~0.7 ms per sequence). That is ``step_s(n) = 13.5 ms + 0.73 ms * n``, which
reaches the Hermes profile's 0.06 s per output token at 64 running sequences (about the KV
capacity of an A100-80GB for this mix), and prefill at the profile's 1e-4 s/token
(~10k tokens/s). ``from_profile`` scales both terms so that ``step_s(reference_batch)`` is
the profile's ``decode_s_per_token``: another profile gives a proportionally faster or slower
engine of the same shape.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import count

from hermes_agents.cost import KVTier, LLMCost
from hermes_agents.errors import ValidationError
from hermes_agents.sim.events import EventLoop
from hermes_agents.sim.job import Done, Job
from hermes_agents.sim.kv import KvMode, load_seconds
from hermes_agents.sim.segments import Segment, SegmentedEngine

REFERENCE_BATCH = 64
"""Running sequences at which a step lasts the profile's ``decode_s_per_token``."""
FIXED_SHARE = 0.225
"""Share of a reference-batch step that does not depend on the batch (13.5 ms of 60 ms)."""


@dataclass(frozen=True)
class EngineParams:
    """Step-time model of one LLM engine (see the module docstring).

    Attributes:
        step_base_s: seconds per step, whatever the batch (weights read, overheads).
        step_per_seq_s: extra seconds per step per running sequence (its KV read).
        prefill_s_per_token: seconds per uncached prompt token prefilled in a step.
        request_s: fixed seconds per joining sequence.
        kv_load_s_per_token: KV load rate by tier.
        kv_mode: ``overlap`` (load as its own stage) or ``coupled`` (load inside the step).
    """

    step_base_s: float = FIXED_SHARE * 0.06
    step_per_seq_s: float = (1 - FIXED_SHARE) * 0.06 / REFERENCE_BATCH
    prefill_s_per_token: float = 1e-4
    request_s: float = 0.0
    kv_load_s_per_token: Mapping[KVTier, float] = field(
        default_factory=lambda: LLMCost().kv_load_s_per_token
    )
    kv_mode: KvMode = KvMode.OVERLAP

    def __post_init__(self) -> None:
        if self.step_base_s + self.step_per_seq_s <= 0:
            raise ValidationError("a step must take some time", "field 'step_base_s'")
        object.__setattr__(self, "kv_mode", KvMode(self.kv_mode))

    @classmethod
    def from_profile(
        cls,
        profile: LLMCost,
        *,
        kv_mode: KvMode = KvMode.OVERLAP,
        reference_batch: int = REFERENCE_BATCH,
        fixed_share: float = FIXED_SHARE,
    ) -> EngineParams:
        """An engine whose step at ``reference_batch`` sequences lasts the profile's decode time."""
        if reference_batch < 1 or not 0 <= fixed_share <= 1:
            raise ValidationError("need reference_batch >= 1 and 0 <= fixed_share <= 1")
        decode = profile.decode_s_per_token
        return cls(
            step_base_s=fixed_share * decode,
            step_per_seq_s=(1 - fixed_share) * decode / reference_batch,
            prefill_s_per_token=profile.prefill_s_per_token,
            request_s=profile.request_s,
            kv_load_s_per_token=profile.kv_load_s_per_token,
            kv_mode=kv_mode,
        )

    def step_s(self, running: int) -> float:
        """Length of a decode step with ``running`` sequences (no prefill in it)."""
        return self.step_base_s + self.step_per_seq_s * running


class LlmEngine(SegmentedEngine):
    """Continuous batching on one GPU (a vLLM / SGLang / llama.cpp server)."""

    def __init__(self, loop: EventLoop, params: EngineParams, done: Done) -> None:
        super().__init__(loop, params, done)
        self._running: list[tuple[int, int, Job]] = []  # (finish step, order, job)
        self._joining: list[Job] = []
        self._order = count()

    @property
    def running(self) -> int:
        """Sequences in the batch now (joining ones excluded)."""
        return len(self._running)

    def _ready(self, job: Job) -> None:
        segment = self._segment
        if segment is None:
            self._joining.append(job)
            self._begin()
        elif segment.start_s >= self.loop.now:
            self._join_first_step(segment, job)
        else:
            self._joining.append(job)
            if not segment.cut:
                self._cut(segment)

    def _join_first_step(self, segment: Segment, job: Job) -> None:
        """``segment`` starts now: ``job`` joins its first step (re-planned with one more)."""
        assert segment.timer is not None
        segment.timer.cancel()
        self._push(job)
        self._plan(segment.first_s - segment.step_s + self._join_s(job))

    def _begin(self) -> None:
        """At a step boundary: admit joining sequences and plan the next segment."""
        joining, self._joining = self._joining, []
        extra_s = 0.0
        for job in joining:
            self._push(job)
            extra_s += self._join_s(job)
        if self._running:
            self._plan(extra_s)
        else:
            self._segment = None

    def _push(self, job: Job) -> None:
        finish = self.steps_run + max(1, job.output_tokens)
        heapq.heappush(self._running, (finish, next(self._order), job))

    def _plan(self, extra_s: float) -> None:
        """Plan the segment from now: a first step ``extra_s`` longer, up to the next finish."""
        step_s = self.params.step_s(len(self._running))
        steps = self._running[0][0] - self.steps_run
        segment = Segment(self.loop.now, step_s + extra_s, step_s, steps)
        segment.timer = self.loop.at(segment.end_s(), self._boundary)
        self._segment = segment

    def _join_s(self, job: Job) -> float:
        params = self.params
        cached = min(job.cached_tokens, job.prompt_tokens)
        seconds = params.request_s + params.prefill_s_per_token * (job.prompt_tokens - cached)
        if params.kv_mode == KvMode.COUPLED:
            seconds += load_seconds(job, params.kv_load_s_per_token)
        return seconds

    def _boundary(self) -> None:
        self._count_segment()
        running = self._running
        finished = []
        while running and running[0][0] <= self.steps_run:
            finished.append(heapq.heappop(running)[2])
        self._begin()
        for job in finished:
            job.finished_at_s = self.loop.now
            self.done(job)
