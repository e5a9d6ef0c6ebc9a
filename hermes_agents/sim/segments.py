"""What the simulated engines share: step segments, cutting them, and taking a job.

Both engines (``LlmEngine``, ``BoundedEngine``) plan a *segment* of identical steps between two
changes of the running set and schedule one event at its end; a sequence that becomes ready
mid-segment cuts it at the next step boundary.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from hermes_agents.sim.events import EventLoop, Timer
from hermes_agents.sim.job import Done, Job
from hermes_agents.sim.kv import KvLoader, KvMode, load_seconds

if TYPE_CHECKING:
    from hermes_agents.sim.llm import EngineParams


class Segment:
    """The first step at ``start_s`` (``first_s`` long), then ``steps - 1`` steps of ``step_s``."""

    __slots__ = ("cut", "first_s", "start_s", "step_s", "steps", "timer")

    def __init__(self, start_s: float, first_s: float, step_s: float, steps: int) -> None:
        self.start_s = start_s
        self.first_s = first_s
        self.step_s = step_s
        self.steps = steps
        self.cut = False
        self.timer: Timer | None = None

    def end_s(self) -> float:
        """When the segment's last step ends."""
        return self.start_s + self.first_s + (self.steps - 1) * self.step_s

    def steps_by(self, now_s: float) -> int:
        """Steps completed at the first step boundary at or after ``now_s``."""
        past_first = now_s - self.start_s - self.first_s
        if past_first <= 1e-12:
            return 1
        return 1 + math.ceil(past_first / self.step_s - 1e-9)


class SegmentedEngine:
    """Base of the engines: ``start`` a job (KV load first in overlap mode) and ``_cut``.

    A subclass defines ``_ready`` (the job may run now) and ``_boundary`` (a planned segment
    ended; ``_count_segment`` adds its steps and seconds).
    """

    def __init__(self, loop: EventLoop, params: EngineParams, done: Done) -> None:
        self.loop = loop
        self.params = params
        self.done = done
        self.loader = KvLoader(loop, self._ready)
        self.steps_run = 0
        """Steps the engine has run."""
        self.busy_s = 0.0
        """Seconds the engine spent running steps."""
        self._segment: Segment | None = None

    def start(self, job: Job) -> None:
        """Take ``job``: load its KV if needed (overlap mode), then hand it to ``_ready``."""
        job.started_at_s = self.loop.now
        seconds = load_seconds(job, self.params.kv_load_s_per_token)
        if seconds > 0 and self.params.kv_mode == KvMode.OVERLAP:
            self.loader.load(job, seconds)
        else:
            self._ready(job)

    def _ready(self, job: Job) -> None:
        raise NotImplementedError

    def _boundary(self) -> None:
        raise NotImplementedError

    def _count_segment(self) -> None:
        """The segment that just ended: add its steps to ``steps_run``, its time to ``busy_s``."""
        segment = self._segment
        assert segment is not None
        self.steps_run += segment.steps
        self.busy_s += self.loop.now - segment.start_s

    def _cut(self, segment: Segment) -> None:
        """End ``segment`` at the next step boundary so the waiting sequences can be seen."""
        segment.cut = True
        steps = segment.steps_by(self.loop.now)
        if steps >= segment.steps:
            return
        segment.steps = steps
        assert segment.timer is not None
        segment.timer.cancel()
        segment.timer = self.loop.at(max(segment.end_s(), self.loop.now), self._boundary)
