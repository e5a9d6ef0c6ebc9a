"""The batch of a continuous-batching engine, for the vLLM and SGLang fakes' load gauges.

``FakeEngine`` admits requests as vLLM's v1 scheduler does with ``--scheduling-policy fcfs``:
in arrival order, while the batch has fewer than ``max_num_seqs`` sequences and the request's
tokens fit in what is left of the KV cache (``kv_cache_tokens``); the first one that does not
fit waits, and so does everyone behind it. A request in the batch progresses at full speed
(``advance``); one that waits does not progress. Its gauges are what the engine's ``/metrics``
report: ``running``, ``waiting``, ``kv_usage`` (0..1) and the ``preemptions`` counter.

>>> engine = FakeEngine(max_num_seqs=2, kv_cache_tokens=1000)
>>> for name in "abc":
...     engine.add(name, tokens=300, work_s=1.0)
>>> engine.running, engine.waiting, engine.kv_usage
(2, 1, 0.6)
>>> engine.advance(1.0), engine.running, engine.waiting
(['a', 'b'], 1, 0)

With a request priority (``order``), as the engines do today:

- vLLM ``--scheduling-policy priority`` (``order="lower-first"``): the waiting queue is served
  by (priority, arrival), lower first; the head still blocks the rest. A full batch never
  preempts; only KV pressure does (``grow``: a running request's next tokens do not fit), and
  the victim is the running request with the worst (priority, arrival); it goes back to the
  waiting queue (vLLM recomputes it later). Under ``fcfs`` the victim is the last admitted,
  and it returns to the front of the queue.
- SGLang ``--enable-priority-scheduling`` (``order="higher-first"``, or ``"lower-first"`` with
  ``--schedule-low-priority-values-first``): the same queue order, and a waiting request that
  cannot join preempts a running one whose priority is worse by more than
  ``preempt_threshold`` (``--priority-scheduling-preemption-threshold``, 10; None: never,
  as vLLM and SGLang's ``--disable-priority-preemption``).

>>> engine = FakeEngine(max_num_seqs=1, order="lower-first")
>>> for name, priority in (("a", 5), ("b", 9), ("c", 1)):
...     engine.add(name, tokens=10, work_s=1.0, priority=priority)
>>> engine.advance(1.0), engine.advance(1.0), engine.advance(1.0)
(['a'], ['c'], ['b'])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import count
from typing import Literal

__all__ = ["FakeEngine", "QueueOrder"]

QueueOrder = Literal["fcfs", "lower-first", "higher-first"]
"""How the engine orders its waiting queue: arrival, or request priority in one polarity."""


@dataclass
class _Request:
    tokens: int
    left_s: float
    priority: float = 0.0
    arrival: int = 0
    admitted: int = 0


@dataclass
class FakeEngine:
    """A continuous-batching engine's own admission (see the module docstring)."""

    max_num_seqs: int = 16
    """Sequences in the batch at most (vLLM ``--max-num-seqs``)."""
    kv_cache_tokens: int = 65_536
    """Tokens the KV cache holds."""
    requests: dict[str, _Request] = field(default_factory=dict)
    """Every request it holds, in arrival order."""
    batch: set[str] = field(default_factory=set)
    """The ids of those in the running batch."""
    order: QueueOrder = "fcfs"
    """The waiting queue's order (see the module docstring)."""
    preempt_threshold: float | None = None
    """SGLang's priority preemption threshold; None: a waiting request never preempts."""
    preempted: list[str] = field(default_factory=list)
    """The ids preempted so far, in order (one entry per preemption)."""
    _ticks: count[int] = field(default_factory=count, repr=False)
    _front: count[int] = field(default_factory=lambda: count(-1, -1), repr=False)

    def add(self, request_id: str, tokens: int, work_s: float, priority: float = 0.0) -> None:
        """A request arrives: ``tokens`` of KV it holds while running, ``work_s`` of service,
        its request ``priority`` (read only when ``order`` is not ``fcfs``)."""
        tick = next(self._ticks)
        self.requests[request_id] = _Request(max(0, tokens), max(0.0, work_s), priority, tick)
        self._admit()

    def grow(self, request_id: str, tokens: int) -> None:
        """A running request's KV grows by ``tokens`` (decoding); under KV pressure the engine
        preempts running requests (the worst first) until the rest fit."""
        request = self.requests.get(request_id)
        if request is None or request_id not in self.batch:
            return
        request.tokens += max(0, tokens)
        while len(self.batch) > 1 and self._kv_used() > self.kv_cache_tokens:
            self._preempt(self._victim())
        self._admit()

    def cancel(self, request_id: str) -> None:
        """A request leaves before it finishes (its client went away)."""
        self.requests.pop(request_id, None)
        self.batch.discard(request_id)
        self._admit()

    def advance(self, dt_s: float) -> list[str]:
        """``dt_s`` seconds of serving: the ids that finished, in arrival order."""
        done = []
        for request_id in [r for r in self.requests if r in self.batch]:
            request = self.requests[request_id]
            request.left_s -= dt_s
            if request.left_s <= 1e-9:
                done.append(request_id)
                del self.requests[request_id]
                self.batch.discard(request_id)
        self._admit()
        return done

    @property
    def running(self) -> int:
        """Requests in the batch (``vllm:num_requests_running``)."""
        return len(self.batch)

    @property
    def waiting(self) -> int:
        """Requests in its own queue (``vllm:num_requests_waiting``)."""
        return len(self.requests) - len(self.batch)

    @property
    def preemptions(self) -> int:
        """Requests preempted so far (``vllm:num_preemptions_total``)."""
        return len(self.preempted)

    @property
    def kv_usage(self) -> float:
        """KV-cache usage, 0..1 (``vllm:kv_cache_usage_perc``)."""
        return self._kv_used() / self.kv_cache_tokens

    def _kv_used(self) -> int:
        return sum(self.requests[r].tokens for r in self.batch)

    def _key(self, request_id: str) -> tuple[float, int]:
        request = self.requests[request_id]
        if self.order == "fcfs":
            return (0.0, request.arrival)
        sign = 1.0 if self.order == "lower-first" else -1.0
        return (sign * request.priority, request.arrival)

    def _victim(self) -> str:
        if self.order == "fcfs":
            return max(self.batch, key=lambda r: self.requests[r].admitted)
        return max(self.batch, key=self._key)

    def _preempt(self, request_id: str) -> None:
        self.batch.discard(request_id)
        self.preempted.append(request_id)
        if self.order == "fcfs":  # back to the front of the queue
            self.requests[request_id].arrival = next(self._front)

    def _fits(self, request: _Request, used: int) -> bool:
        if not self.batch:
            return True  # a request larger than the cache runs alone
        return len(self.batch) < self.max_num_seqs and used + request.tokens <= self.kv_cache_tokens

    def _admit(self) -> None:
        waiting = sorted((r for r in self.requests if r not in self.batch), key=self._key)
        for request_id in waiting:
            request = self.requests[request_id]
            while not self._fits(request, self._kv_used()) and self._may_preempt_for(request_id):
                self._preempt(self._victim())
            if not self._fits(request, self._kv_used()):
                return  # nobody overtakes the head of the queue
            self.batch.add(request_id)
            request.admitted = next(self._ticks)

    def _may_preempt_for(self, request_id: str) -> bool:
        threshold = self.preempt_threshold
        if threshold is None or self.order == "fcfs" or not self.batch:
            return False
        victim = self._victim()
        sign = 1.0 if self.order == "lower-first" else -1.0
        gap = sign * (self.requests[victim].priority - self.requests[request_id].priority)
        return gap > threshold
