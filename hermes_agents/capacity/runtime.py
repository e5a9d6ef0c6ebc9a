"""``auto`` at run time: one thread that polls engines, reads calls' latencies and throttles,
and moves each auto backend's window in the scheduling core.

The scheduling core stays sans-I/O: the runtime reads engines on its own thread (never under
the scheduler's lock nor on the daemon's event loop), feeds each backend's ``Controller``, and
when a window moves hands ``(backend, size, reason)`` to ``apply``, which the scheduler's owner
gives: the in-process scheduler takes its lock and runs one driver step
(``LocalScheduler.apply``); the daemon schedules the change on its event loop and flushes.
Either way the grants the new window allows come out of that step.

The core tells the runtime of every release on an auto backend (``QueueState.observer``: the
call's measured seconds and what the cost model priced it at); the call only appends to a
bounded queue, drained by the thread. Throttles (429/503) come from the drop-ins through
``Scheduler.throttled``. A probe that fails (server down, metrics off) leaves the window where
it is, with one warning per outage; the app's calls never notice.

>>> from hermes_agents.capacity import AutoBackend, Bounds, GradientLimit
>>> now = [0.0]
>>> runtime = CapacityRuntime([AutoBackend("api", GradientLimit(Bounds(), lambda: now[0]))])
>>> runtime.poll()  # not attached to a core: its start window is the first move
[('api', Window(size=4, reason='start', at_s=0.0))]
>>> runtime.poll()  # nothing observed since: nothing moves
[]
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hermes_agents.backends.base import BackendAdapter, describe
from hermes_agents.capacity.controllers import Controller
from hermes_agents.capacity.probes import Probe
from hermes_agents.capacity.window import LatencySample, Load, Observation, Throttle, Window

if TYPE_CHECKING:
    from hermes_agents.scheduling.core import SchedulerCore

__all__ = ["DEFAULT_POLL_S", "MAX_PENDING", "Apply", "AutoBackend", "CapacityRuntime"]

logger = logging.getLogger(__name__)

DEFAULT_POLL_S = 1.0
"""Seconds between two reads of an engine's slots or metrics."""
MAX_PENDING = 1024
"""Observations kept per backend between two polls (older ones are dropped)."""

Apply = Callable[[str, int, str], None]
"""Sets a backend's capacity in the core: ``apply(backend, size, reason)``."""


@dataclass(eq=False)
class AutoBackend:
    """One backend whose capacity is ``auto``: its controller, and its probe if it has one."""

    name: str
    controller: Controller
    probe: Probe | None = None
    """Reads the engine (None: the controller learns from calls alone)."""
    poll_s: float = DEFAULT_POLL_S
    adapter: BackendAdapter | None = None
    """The adapter the probe uses (closed with the runtime)."""
    pending: deque[Observation] = field(default_factory=lambda: deque(maxlen=MAX_PENDING))
    applied: int | None = None
    next_poll_s: float = 0.0
    failing: bool = False


class CapacityRuntime:
    """Moves the windows of auto backends (see the module docstring)."""

    def __init__(
        self, backends: Sequence[AutoBackend], *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.backends = {backend.name: backend for backend in backends}
        self.clock = clock
        self.apply: Apply | None = None
        self._core: SchedulerCore | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def attach(self, core: SchedulerCore) -> None:
        """Start each backend at its controller's window, and hear of its releases (call it
        before the core is shared: it changes the core directly)."""
        self._core = core
        for name, backend in self.backends.items():
            state = core.queues.get(name)
            state.observer = self._observer(backend)
            window = backend.controller.window
            core.set_capacity(name, window.size, self._why(backend, window))
            backend.applied = window.size

    def throttled(self, backend: str, throttle: Throttle) -> None:
        """A call on ``backend`` was refused with 429/503 (any thread; never blocks)."""
        found = self.backends.get(backend)
        if found is not None:
            found.pending.append(throttle)

    def start(self, apply: Apply) -> None:
        """Poll on a daemon thread from now on; window changes go to ``apply``."""
        self.apply = apply
        if self._thread is None and self.backends:
            tick_s = min([0.5, *(b.poll_s for b in self.backends.values() if b.probe)])
            self._thread = threading.Thread(
                target=self._loop, args=(tick_s,), name="hermes-capacity", daemon=True
            )
            self._thread.start()

    def close(self) -> None:
        """Stop the thread and close the probes' adapters."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5.0)
        for backend in self.backends.values():
            if backend.adapter is not None:
                backend.adapter.close()

    def poll(self) -> list[tuple[str, Window]]:
        """One round: read the engines that are due, take what was observed, and apply every
        window that moved; returns those (the thread calls it; tests call it directly)."""
        moved: list[tuple[str, Window]] = []
        for backend in self.backends.values():
            window = self._poll_one(backend)
            if window is not None:
                moved.append((backend.name, window))
        return moved

    def _poll_one(self, backend: AutoBackend) -> Window | None:
        observations: list[Observation] = []
        now = self.clock()
        if backend.probe is not None and now >= backend.next_poll_s:
            backend.next_poll_s = now + backend.poll_s
            sample = self._read(backend)
            if sample is not None:
                observations.append(sample)
        pending = backend.pending
        while pending:
            observations.append(pending.popleft())
        window = backend.controller.window
        load = self._load(backend.name)
        for observation in observations:
            window = backend.controller.observe(observation, load)
        if window.size == backend.applied:
            return None
        logger.debug(
            "backend %r: auto window %s -> %d (%s)",
            backend.name,
            backend.applied,
            window.size,
            window.reason,
        )
        backend.applied = window.size
        if self.apply is not None:
            self.apply(backend.name, window.size, self._why(backend, window))
        return window

    def _read(self, backend: AutoBackend) -> Observation | None:
        assert backend.probe is not None
        try:
            sample = backend.probe()
        except Exception as error:  # fail open: the window stays where it is
            if not backend.failing:
                backend.failing = True
                logger.warning(
                    "backend %r: reading its capacity failed (%s); its window stays at %d "
                    "until it works again",
                    backend.name,
                    describe(error),
                    backend.controller.window.size,
                )
            return None
        if backend.failing:
            backend.failing = False
            logger.info("backend %r: reading its capacity works again", backend.name)
        return sample

    def _load(self, name: str) -> Load:
        core = self._core
        state = core.backends.get(name) if core is not None else None
        if state is None:
            return Load()
        return Load(len(state.running), len(state.waiting))  # a racy read: counts only

    def _observer(self, backend: AutoBackend) -> Callable[[float, float | None], None]:
        pending = backend.pending

        def released(latency_s: float, work_s: float | None) -> None:
            # The core passes the seconds it credited: the latency itself when unpriced.
            pending.append(LatencySample(latency_s, None if work_s == latency_s else work_s))

        return released

    @staticmethod
    def _why(backend: AutoBackend, window: Window) -> str:
        return f"auto ({backend.controller.name}): {window.reason}"

    def _loop(self, tick_s: float) -> None:
        failing = False
        while not self._stop.is_set():  # read at once, then every tick
            try:
                self.poll()
                failing = False
            except Exception:  # fail open: a controller bug must not end the thread
                if not failing:
                    failing = True
                    logger.warning("moving the auto windows failed", exc_info=True)
            self._stop.wait(tick_s)
