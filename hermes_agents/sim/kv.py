"""KV cache tiers: where a call's reusable prefix sits, and moving it to the GPU.

A call's cached prefix (``cached_tokens``) sits in one tier (``KVTier``: gpu, cpu, remote) and
must be loaded before the call computes: ``kv_load_s_per_token[tier] * cached_tokens`` seconds
at the backend profile's rates (``hermes_agents.cost.LLMCost``; GPU-resident costs nothing).

Two behaviours (``KvMode``):

- ``overlap`` (CALVO): loading is its own stage. A call's KV moves over one link (FIFO, one
  transfer at a time, in admission order) while the GPU keeps computing other sequences; the
  call joins the batch when its KV has arrived.
- ``coupled``: load-then-compute inside the engine step that admits the call, as a synchronous
  connector does: every running sequence waits for the transfer.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable, Mapping

from hermes_agents.cost import KVTier
from hermes_agents.sim.events import EventLoop
from hermes_agents.sim.job import Job


class KvMode(enum.StrEnum):
    """How KV loading relates to compute (see the module docstring)."""

    OVERLAP = "overlap"
    COUPLED = "coupled"


def load_seconds(job: Job, rates: Mapping[KVTier, float]) -> float:
    """Seconds to load ``job``'s cached prefix from its tier (cached is clipped to the prompt)."""
    cached = min(job.cached_tokens, job.prompt_tokens)
    return rates[job.tier] * cached if cached > 0 else 0.0


class KvLoader:
    """One transfer link to the GPU: loads run one at a time, first come first served.

    >>> from hermes_agents.sim.events import EventLoop
    >>> loop, ready = EventLoop(), []
    >>> link = KvLoader(loop, lambda job: ready.append((job.task_id, loop.now)))
    >>> link.load(Job(1), 0.5); link.load(Job(2), 0.25); loop.run()
    >>> ready
    [(1, 0.5), (2, 0.75)]
    """

    def __init__(self, loop: EventLoop, ready: Callable[[Job], None]) -> None:
        self.loop = loop
        self.ready = ready
        self.busy_s = 0.0
        self._queue: deque[tuple[Job, float]] = deque()
        self._busy = False

    def load(self, job: Job, seconds: float) -> None:
        """Move ``job``'s KV (``seconds`` of transfer); ``ready(job)`` when it has arrived."""
        self._queue.append((job, seconds))
        if not self._busy:
            self._next()

    def _next(self) -> None:
        if not self._queue:
            self._busy = False
            return
        self._busy = True
        job, seconds = self._queue.popleft()
        self.busy_s += seconds
        self.loop.after(seconds, lambda: self._arrived(job))

    def _arrived(self, job: Job) -> None:
        self._next()
        self.ready(job)
