"""Tool and embedding pools: ``capacity`` workers, each call busy for its own seconds.

A call that arrives while every worker is busy waits in FIFO order. Driven by the scheduler the
queue stays empty (the scheduler admits at most ``max_concurrency`` calls, the pool's capacity),
but a pool is correct on its own too.
"""

from __future__ import annotations

from collections import deque

from hermes_agents.errors import ValidationError
from hermes_agents.sim.events import EventLoop
from hermes_agents.sim.job import Done, Job


class Pool:
    """A pool of ``capacity`` identical workers (a tool sandbox, an embedding server).

    >>> from hermes_agents.sim.events import EventLoop
    >>> loop, finished = EventLoop(), []
    >>> pool = Pool(loop, 1, lambda job: finished.append((job.task_id, loop.now)))
    >>> pool.start(Job(1, seconds=2.0)); pool.start(Job(2, seconds=1.0))
    >>> loop.run(); finished
    [(1, 2.0), (2, 3.0)]
    """

    def __init__(self, loop: EventLoop, capacity: int, done: Done) -> None:
        if capacity < 1:
            raise ValidationError(f"must be >= 1, got {capacity}", "argument 'capacity'")
        self.loop = loop
        self.capacity = capacity
        self.done = done
        self.busy = 0
        self.peak_busy = 0
        self._queue: deque[Job] = deque()

    def start(self, job: Job) -> None:
        """Run ``job`` on a free worker, or queue it."""
        if self.busy < self.capacity:
            self._run(job)
        else:
            self._queue.append(job)

    def _run(self, job: Job) -> None:
        self.busy += 1
        self.peak_busy = max(self.peak_busy, self.busy)
        job.started_at_s = self.loop.now
        self.loop.after(job.seconds, lambda: self._finish(job))

    def _finish(self, job: Job) -> None:
        self.busy -= 1
        job.finished_at_s = self.loop.now
        if self._queue:
            self._run(self._queue.popleft())
        self.done(job)
