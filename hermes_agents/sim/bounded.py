"""An LLM engine with its own limits, waiting queue, priority and preemption.

``LlmEngine`` (``hermes_agents.sim.llm``) runs whatever the client admitted. This engine is a
vLLM / SGLang server as it is: a batch of at most ``max_num_seqs`` sequences, a KV cache of
``kv_cache_tokens``, and a waiting queue of its own in front of them (``EngineLimits``). The
client does not see these limits; calls it admits beyond them wait inside the engine.

At every step boundary the engine, like vLLM's v1 scheduler:

1. frees the sequences that produced their last token;
2. KV pressure: while the running sequences' next tokens do not fit in the cache, preempts a
   victim (the lowest priority, ties to the latest arrival; in ``fcfs`` mode the last
   admitted) and puts it back in the waiting queue (``fcfs``: at its front);
3. ``Preempt.BATCH`` only: while the best waiting sequence cannot join (batch full or KV
   short) and has a better priority than the worst running one, preempts that one;
4. admits waiting sequences in queue order (``fcfs``: arrival; ``priority``: lowest value, ties
   by arrival) while the batch has room and their context fits, strictly in order, and not in
   a step that preempted for KV pressure (as vLLM).

Every running sequence's context grows by one token per step. A preempted sequence resumes
with its prompt and the tokens it generated: ``recompute`` prefills all of them again,
``swap`` pays ``swap_s_per_token`` per token out (in the preempting step) and back in (in its
first step back). Step times are ``EngineParams``'s; a sequence that cannot fit even alone
runs alone (a real engine would reject it). Between changes every step lasts the same, so the
engine plans segments up to the next finish or the step whose tokens no longer fit.

>>> from hermes_agents.sim.events import EventLoop
>>> from hermes_agents.engine_limits import EngineLimits, Queueing
>>> from hermes_agents.sim.llm import EngineParams
>>> loop, done = EventLoop(), []
>>> engine = BoundedEngine(loop, EngineParams(), EngineLimits(max_num_seqs=1,
...     scheduling=Queueing.PRIORITY), lambda job: done.append(job.task_id))
>>> for task, priority in ((1, 5.0), (2, 9.0), (3, 1.0)):
...     engine.start(Job(task, prompt_tokens=10, output_tokens=3, priority=priority))
>>> loop.run()
>>> done
[1, 3, 2]
"""

from __future__ import annotations

import heapq
from itertools import count

from hermes_agents.engine_limits import EngineLimits, Preempt, PreemptCost, Queueing
from hermes_agents.sim.events import EventLoop
from hermes_agents.sim.job import Done, Job
from hermes_agents.sim.kv import KvMode, load_seconds
from hermes_agents.sim.llm import EngineParams
from hermes_agents.sim.segments import Segment, SegmentedEngine


class _Seq:
    """One sequence in the engine: waiting, running or preempted."""

    __slots__ = (
        "arrival",
        "context_tokens",
        "job",
        "joined_step",
        "left_tokens",
        "order",
        "prefill_tokens",
        "swapped",
        "version",
    )

    def __init__(self, job: Job, arrival: int) -> None:
        self.job = job
        self.arrival = arrival
        self.context_tokens = job.prompt_tokens  # KV it holds when it joins
        self.left_tokens = max(1, job.output_tokens)
        self.prefill_tokens = job.prompt_tokens - min(job.cached_tokens, job.prompt_tokens)
        self.joined_step = 0
        self.order = 0
        self.swapped = False
        self.version = 0

    def rank(self) -> tuple[float, int]:
        """Its place in priority order (lower first): priority, then arrival."""
        return (self.job.priority, self.arrival)


class BoundedEngine(SegmentedEngine):
    """A serving engine with its own limits and scheduler (see the module docstring)."""

    def __init__(
        self, loop: EventLoop, params: EngineParams, limits: EngineLimits, done: Done
    ) -> None:
        super().__init__(loop, params, done)
        self.limits = limits
        self.preemptions = 0
        """Sequences preempted so far."""
        self.recomputed_tokens = 0
        """Tokens prefilled again because their sequence was preempted (``recompute``)."""
        self.swapped_tokens = 0
        """Tokens of KV swapped out (``swap``)."""
        self.output_tokens = 0
        """Tokens of the sequences finished so far."""
        self.peak_waiting = 0
        """The most sequences the engine's own queue held at once."""
        self.peak_running = 0
        """The most sequences the batch held at once."""
        self.queued_s = 0.0
        """Seconds sequences spent in the engine's queue before they first joined, in all."""
        self.max_queued_s = 0.0
        """The longest a sequence waited in the engine's queue before it first joined."""
        self.full_batch_s = 0.0
        """Seconds the engine ran a full batch (``max_num_seqs`` sequences): each of its steps
        as long as a step can be."""
        self._running: dict[int, _Seq] = {}
        self._finishes: list[tuple[int, int, int, _Seq]] = []
        self._waiting: list[tuple[tuple[float, int], int, _Seq]] = []
        self._kv_offset = 0  # KV in use = _kv_offset + running * steps_run
        self._final_tokens = 0  # what the running sequences hold at their ends
        self._arrivals = count()
        self._admissions = count()
        self._front = count()
        self._instant = (-1.0, -1)
        self._first_extra_s = 0.0
        self._preempted_now = False

    @property
    def running(self) -> int:
        """Sequences in the batch."""
        return len(self._running)

    @property
    def waiting(self) -> int:
        """Sequences in the engine's own queue (preempted ones included)."""
        return len(self._waiting)

    @property
    def kv_used_tokens(self) -> int:
        """Tokens of KV the running sequences hold now."""
        return self._kv_offset + len(self._running) * self.steps_run

    @property
    def kv_usage(self) -> float:
        """Share of the KV cache in use (0 without a KV limit)."""
        kv = self.limits.kv_cache_tokens
        return min(1.0, self.kv_used_tokens / kv) if kv else 0.0

    def stats(self) -> dict[str, float]:
        """What the engine did: steps, busy seconds (and those with a full batch), preemptions,
        tokens recomputed, swapped and produced, the longest its own waiting queue got, and the
        seconds calls waited in it."""
        return {
            "steps": self.steps_run,
            "busy_s": self.busy_s,
            "preemptions": self.preemptions,
            "recomputed_tokens": self.recomputed_tokens,
            "swapped_tokens": self.swapped_tokens,
            "output_tokens": self.output_tokens,
            "peak_waiting": self.peak_waiting,
            "peak_running": self.peak_running,
            "queued_s": self.queued_s,
            "max_queued_s": self.max_queued_s,
            "full_batch_s": self.full_batch_s,
        }

    def _ready(self, job: Job) -> None:
        seq = _Seq(job, next(self._arrivals))
        fcfs = self.limits.scheduling == Queueing.FCFS
        self._queue(seq, (1.0, seq.arrival) if fcfs else seq.rank())
        segment = self._segment
        if segment is None or segment.start_s >= self.loop.now:
            self._schedule()  # nothing running, or the first step is still being planned
        elif not segment.cut and self._may_change():
            self._cut(segment)

    def _queue(self, seq: _Seq, key: tuple[float, int]) -> None:
        heapq.heappush(self._waiting, (key, seq.arrival, seq))
        self.peak_waiting = max(self.peak_waiting, len(self._waiting))

    def _may_change(self) -> bool:
        """Whether a step boundary now could admit or preempt anything."""
        batch = self.limits.preempt == Preempt.BATCH
        return batch or len(self._running) < self.limits.max_num_seqs

    def _boundary(self) -> None:
        segment = self._segment
        if segment is not None and len(self._running) >= self.limits.max_num_seqs:
            self.full_batch_s += self.loop.now - segment.start_s
        self._count_segment()
        self._segment = None
        finished = []
        heap = self._finishes
        while heap and heap[0][0] <= self.steps_run:
            _, _, version, seq = heapq.heappop(heap)
            if version == seq.version and seq.arrival in self._running:
                self._leave(seq)
                finished.append(seq.job)
        self._schedule()
        for job in finished:
            job.finished_at_s = self.loop.now
            self.output_tokens += job.output_tokens
            self.done(job)

    def _schedule(self) -> None:
        """One scheduling decision at a step boundary (repeatable within one instant)."""
        segment = self._segment
        if segment is not None and segment.timer is not None:
            segment.timer.cancel()
        instant = (self.loop.now, self.steps_run)
        if instant != self._instant:
            self._instant, self._first_extra_s, self._preempted_now = instant, 0.0, False
        self._relieve_kv()
        if self.limits.preempt == Preempt.BATCH and self.limits.scheduling == Queueing.PRIORITY:
            self._preempt_for_waiting()
        if not self._preempted_now:
            while self._waiting and self._fits(self._waiting[0][2]):
                self._join(heapq.heappop(self._waiting)[2])
        self._plan()

    def _relieve_kv(self) -> None:
        """Preempt until every running sequence's next token fits in the KV cache."""
        kv = self.limits.kv_cache_tokens
        if kv is None or self.limits.preempt == Preempt.OFF:
            return
        while len(self._running) > 1 and self.kv_used_tokens + len(self._running) > kv:
            self._preempt(self._victim())
            self._preempted_now = True

    def _preempt_for_waiting(self) -> None:
        """``Preempt.BATCH``: make room for a waiting sequence better than the worst running."""
        while self._waiting and self._running:
            head = self._waiting[0][2]
            if self._fits(head):
                return
            victim = self._victim()
            threshold = self.limits.preempt_threshold
            gap = victim.job.priority - head.job.priority
            if victim.rank() <= head.rank() or (threshold > 0 and gap <= threshold):
                return
            self._preempt(victim)

    def _victim(self) -> _Seq:
        running = self._running.values()
        if self.limits.scheduling == Queueing.PRIORITY:
            return max(running, key=_Seq.rank)
        return max(running, key=lambda seq: seq.order)

    def _fits(self, seq: _Seq) -> bool:
        if not self._running:
            return True  # a sequence too large for the whole cache runs alone
        if len(self._running) >= self.limits.max_num_seqs:
            return False
        kv = self.limits.kv_cache_tokens
        if kv is None:
            return True
        if self.limits.preempt == Preempt.OFF:
            return self._final_tokens + seq.context_tokens + seq.left_tokens <= kv
        return self.kv_used_tokens + len(self._running) + seq.context_tokens + 1 <= kv

    def _join(self, seq: _Seq) -> None:
        params = self.params
        seq.joined_step = self.steps_run
        seq.order = next(self._admissions)
        self._running[seq.arrival] = seq
        self.peak_running = max(self.peak_running, len(self._running))
        self._kv_offset += seq.context_tokens - seq.joined_step
        self._final_tokens += seq.context_tokens + seq.left_tokens
        finish = (seq.joined_step + seq.left_tokens, seq.arrival, seq.version, seq)
        heapq.heappush(self._finishes, finish)
        if seq.version == 0:  # its first join: how long it waited in the engine's queue
            queued_s = self.loop.now - seq.job.started_at_s
            self.queued_s += queued_s
            self.max_queued_s = max(self.max_queued_s, queued_s)
        extra_s = params.request_s + params.prefill_s_per_token * seq.prefill_tokens
        if seq.swapped:
            extra_s += self.limits.swap_s_per_token * seq.context_tokens
        elif params.kv_mode == KvMode.COUPLED and seq.version == 0:  # first join: load KV
            extra_s += load_seconds(seq.job, params.kv_load_s_per_token)
        self._first_extra_s += extra_s
        seq.prefill_tokens, seq.swapped = 0, False

    def _leave(self, seq: _Seq) -> None:
        del self._running[seq.arrival]
        self._kv_offset -= seq.context_tokens - seq.joined_step
        self._final_tokens -= seq.context_tokens + seq.left_tokens

    def _preempt(self, seq: _Seq) -> None:
        self._leave(seq)
        generated = self.steps_run - seq.joined_step
        seq.context_tokens += generated
        seq.left_tokens -= generated
        seq.version += 1
        self.preemptions += 1
        if self.limits.preempt_cost == PreemptCost.SWAP:
            self.swapped_tokens += seq.context_tokens
            self._first_extra_s += self.limits.swap_s_per_token * seq.context_tokens
            seq.swapped = True
        else:
            self.recomputed_tokens += seq.context_tokens
            seq.prefill_tokens = seq.context_tokens
        fcfs = self.limits.scheduling == Queueing.FCFS
        self._queue(seq, (0.0, -next(self._front)) if fcfs else seq.rank())  # fcfs: at the front

    def _plan(self) -> None:
        """Plan the segment from now: up to the next finish or the first step that won't fit."""
        running = len(self._running)
        if not running:
            self._segment = None
            return
        heap = self._finishes
        while heap[0][2] != heap[0][3].version or heap[0][3].arrival not in self._running:
            heapq.heappop(heap)
        steps = heap[0][0] - self.steps_run
        kv = self.limits.kv_cache_tokens
        if kv is not None and self.limits.preempt != Preempt.OFF:
            steps = min(steps, max(1, (kv - self.kv_used_tokens) // running))
        step_s = self.params.step_s(running)
        segment = Segment(self.loop.now, step_s + self._first_extra_s, step_s, steps)
        segment.timer = self.loop.at(segment.end_s(), self._boundary)
        self._segment = segment
