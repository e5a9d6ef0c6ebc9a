"""Capacity controllers for engines that say what they hold: llama.cpp slots, vLLM and SGLang.

Every controller is pure (no I/O, time from the injected ``clock``): ``observe(observation,
load)`` takes one observation (``window.py``) and returns the ``Window`` from now on. The
shared part, ``Controller``, handles ``Throttle``: a 429/503 halves the window (once per
``Retry-After`` period) and holds it from growing until that period is over.

- ``SlotCount`` (llama.cpp): the window is the server's slot count, followed when it changes.
- ``EngineWindow`` (vLLM, SGLang): grow while the engine has no request waiting in its own
  queue and KV headroom, and the window is what holds our calls back; shrink to what the
  engine runs as soon as its own queue builds (seen on ``confirm`` polls in a row), so that its
  batch stays full and the order stays ours; one fewer per request the engine preempted (its
  preemption counter rose: the sequences it admitted outgrew its KV cache), with no probing
  above that for ``preempt_hold_s``.

>>> clock = lambda: 0.0
>>> window = EngineWindow(Bounds(start=4), clock)
>>> window.observe(EngineSample(running=4, waiting=0, kv_usage=0.2), Load(4, 10)).size
8
>>> window.observe(EngineSample(running=6, waiting=2, kv_usage=0.5), Load(8, 6)).size
8
>>> window.observe(EngineSample(running=6, waiting=2, kv_usage=0.5), Load(8, 6)).size
6
>>> window.observe(EngineSample(6, 0, 0.5, preemptions=0), Load(6, 6)).size
6
>>> window.observe(EngineSample(5, 1, 0.7, preemptions=1), Load(6, 6)).size
5
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from hermes_agents.capacity.window import (
    Bounds,
    EngineSample,
    Load,
    Observation,
    Throttle,
    Window,
)

__all__ = ["Controller", "EngineSettings", "EngineWindow", "SlotCount"]

DEFAULT_RETRY_AFTER_S = 1.0
"""How long a throttle without ``Retry-After`` holds the window from growing."""
MIN_EPISODE_S = DEFAULT_RETRY_AFTER_S
"""The shortest throttle episode (one cut): the refusals of one overload come within a round
of calls, and ``Retry-After: 0`` (or a few ms) must not make each of them halve the window."""


class Controller:
    """The part every controller shares: the window, its bounds and clock, and throttles.

    Subclasses implement ``_observe``; ``observe`` is the one entry point.
    """

    name = "fixed"
    """What ``hermes status`` calls it."""

    def __init__(self, bounds: Bounds, clock: Callable[[], float]) -> None:
        self.bounds = bounds
        self.clock = clock
        assert bounds.start is not None  # Bounds fills it in
        self._window = Window(bounds.start, "start", clock())
        self._hold_until_s = -math.inf

    @property
    def window(self) -> Window:
        """The window now."""
        return self._window

    def observe(self, observation: Observation, load: Load) -> Window:
        """Take one observation; the window from now on."""
        if isinstance(observation, Throttle):
            self._throttled(observation)
        else:
            self._observe(observation, load)
        return self._window

    @property
    def holding(self) -> bool:
        """Whether a throttle still holds the window from growing."""
        return self.clock() < self._hold_until_s

    def _observe(self, observation: Observation, load: Load) -> None:
        """Subclasses: take an engine or latency sample (``_move`` to change the window)."""

    def _move(self, size: float, reason: str) -> None:
        size = self.bounds.clamp(size)
        if size != self._window.size:
            self._window = Window(size, reason, self.clock())

    def _throttled(self, throttle: Throttle) -> None:
        now = self.clock()
        wait_s = throttle.retry_after_s
        if not isinstance(wait_s, int | float) or not math.isfinite(wait_s) or wait_s < 0:
            wait_s = DEFAULT_RETRY_AFTER_S  # none given, or none a caller could mean
        episode_s = max(wait_s, MIN_EPISODE_S)
        if now < self._hold_until_s:  # the same episode: cut once per Retry-After period
            self._hold_until_s = max(self._hold_until_s, now + episode_s)
            return
        self._hold_until_s = now + episode_s
        size = self._window.size
        self._move(
            size / 2, f"{throttle.status} from the backend (Retry-After {wait_s:g} s): halve"
        )
        self._after_throttle(self._window.size)

    def _after_throttle(self, size: int) -> None:
        """Subclasses: the window was cut to ``size`` by a throttle."""


class SlotCount(Controller):
    """The window of a llama.cpp server: its ``total_slots`` (``/props``), followed when it
    changes (a restart with another ``--parallel``); throttles are ignored (a 503 while the
    model loads says nothing of the slots)."""

    name = "slots"

    def observe(self, observation: Observation, load: Load) -> Window:
        """Take one observation; only ``EngineSample.slots`` moves the window."""
        if isinstance(observation, EngineSample) and observation.slots is not None:
            slots = observation.slots
            if slots >= 1:
                self._move(slots, f"the server has {slots} slots")
        return self._window


@dataclass(frozen=True)
class EngineSettings:
    """How ``EngineWindow`` reads the engine's metrics."""

    kv_high: float = 0.8
    """KV-cache usage from which the window stops growing. Below 1 by the growth still to
    come: usage counts the tokens the running sequences hold, not those they will produce
    before they finish, and an engine that runs out preempts (at 0.9, ``auto`` on agents-kv
    preempted twice as often as the best fixed window; docs/scheduling.md)."""
    confirm: int = 2
    """Polls in a row that must see the engine's queue before the window shrinks (one
    request waiting for one engine step is not a queue)."""
    probe_polls: int = 3
    """Above the engine's capacity found so far, probe further after this many quiet polls."""
    preempt_hold_s: float = 30.0
    """After the engine preempted a request, seconds during which the window does not probe
    above the capacity that preemption set (a probe's cost shows only once its sequences
    have grown: a snapshot of KV usage does not include the tokens they are yet to produce)."""


class EngineWindow(Controller):
    """The window of a vLLM or SGLang engine, from its own metrics (see the module docstring).

    Below the capacity it has found (``ceiling``, the most the engine ran before its queue
    built) the window doubles on each quiet poll; at or above it, it probes one more after
    ``probe_polls`` quiet polls, then two, four... while the engine keeps having room (its
    capacity grew), and back to one once its queue builds again.
    """

    name = "engine"

    def __init__(
        self,
        bounds: Bounds,
        clock: Callable[[], float],
        settings: EngineSettings | None = None,
    ) -> None:
        super().__init__(bounds, clock)
        self.settings = settings or EngineSettings()
        self.ceiling: int | None = None
        """The engine's capacity as last found (None: not yet)."""
        self._preemptions: int | None = None
        self._preempted_at_s = -math.inf
        self._queued_polls = 0
        self._quiet_polls = 0
        self._step = 1

    def _observe(self, observation: Observation, load: Load) -> None:
        if not isinstance(observation, EngineSample):
            return
        waiting, running = observation.waiting, observation.running
        if waiting is None or running is None:
            return
        preempted = self._new_preemptions(observation.preemptions)
        if preempted > 0 and load.in_flight > 0:
            self._preempted(preempted, load)
            return
        kv = observation.kv_usage if observation.kv_usage is not None else 0.0
        if waiting > 0 and load.in_flight > 0:
            self._quiet_polls = 0
            self._queued_polls += 1
            if self._queued_polls >= self.settings.confirm:
                self._shrink(waiting, running, load)
            return
        self._queued_polls = 0
        if kv >= self.settings.kv_high or self.holding:
            return
        if load.in_flight < self._window.size or load.queued == 0:
            return  # the window is not what holds our calls back: growing proves nothing
        if 2 * (running + waiting) < load.in_flight:
            return  # the engine sees under half our calls (waking, or a proxy holds them)
        self._quiet_polls += 1
        self._grow(kv, load)

    def _new_preemptions(self, count: int | None) -> int:
        """Preemptions since the last poll (0 on the first read, or when the engine restarted;
        a negative count is no counter's: ignored)."""
        if count is None or count < 0:
            return 0
        last, self._preemptions = self._preemptions, count
        return 0 if last is None or count < last else count - last

    def _preempted(self, preempted: int, load: Load) -> None:
        # The engine could not hold what it admitted through its sequences' growth: one fewer
        # per preemption (at most half at once), and no probing above that for a while.
        held = min(self._window.size, load.in_flight)
        target = max(held - preempted, (held + 1) // 2)
        self.ceiling = self.bounds.clamp(target)
        self._step, self._quiet_polls, self._queued_polls = 1, 0, 0
        self._preempted_at_s = self.clock()
        self._move(target, f"the engine preempted {preempted}: shrink to {target}")

    def _shrink(self, waiting: int, running: int, load: Load) -> None:
        # Our calls in the engine's batch: those admitted, less those it queues.
        ours = max(0, load.in_flight - waiting)
        self.ceiling = self.bounds.clamp(ours)
        self._step = 1
        self._move(ours, f"the engine queues {waiting} (running {running}): shrink to what it runs")

    def _grow(self, kv: float, load: Load) -> None:
        size = self._window.size
        ceiling = self.ceiling
        if ceiling is None or size < ceiling:
            target = float(size * 2 if ceiling is None else min(ceiling, size * 2))
        elif self.clock() - self._preempted_at_s < self.settings.preempt_hold_s:
            return  # a recent preemption set the ceiling: stay at it
        elif self._quiet_polls >= self.settings.probe_polls:
            target = float(size + self._step)
            self._step *= 2  # each probe that found room doubles the next one
        else:
            return
        self._quiet_polls = 0
        self._move(
            target,
            f"the engine has room (none waiting, KV {kv:.0%}) and {load.queued} calls wait: grow",
        )

    def _after_throttle(self, size: int) -> None:
        self.ceiling = size
