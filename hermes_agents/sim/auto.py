"""``max_concurrency = "auto"`` in the simulator: the production controller on the engine model.

For every LLM backend whose window is ``auto`` (``Capacity.auto``), an ``EngineWindow``
(``hermes_agents.capacity``, the controller the real path runs for vLLM and SGLang) reads the
simulated engine every ``POLL_S`` seconds of virtual time, as the real poller reads
``/metrics``: requests running and waiting in the engine and its KV-cache usage, with the
scheduler's own load (calls holding a slot, calls waiting for one). The window it returns
becomes the core's capacity for that backend (``SchedulerCore.set_capacity``); the grants it
allows come out of the driver step that ends the instant. The controller knows nothing of the
engine's limits: it sees only what a real engine exports.

Polling stops once every app has finished, so the event loop can end.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from hermes_agents.capacity import Bounds, EngineSample, EngineWindow, Load, Window
from hermes_agents.pdgraph import BackendSpec
from hermes_agents.scheduling.core import SchedulerCore
from hermes_agents.sim.bounded import BoundedEngine
from hermes_agents.sim.enforce import Capacity
from hermes_agents.sim.events import EventLoop
from hermes_agents.sim.servers import SimServers

POLL_S = 1.0
"""Seconds between two reads of an engine (the real poller's default)."""
MAX_WINDOW = 1024
"""The largest window ``auto`` may reach in the simulator."""


@dataclass(frozen=True)
class WindowMove:
    """One change of an ``auto`` window: when, to what, and why."""

    at_s: float
    backend: str
    size: int
    reason: str


class AutoWindows:
    """The ``auto`` windows of one simulation (see the module docstring)."""

    def __init__(
        self,
        loop: EventLoop,
        core: SchedulerCore,
        specs: Mapping[str, BackendSpec],
        capacity: Capacity,
        servers: SimServers,
        over: Callable[[], bool],
    ) -> None:
        self.loop = loop
        self.core = core
        self.over = over
        self.servers = servers
        engines = servers.engines()
        self.controllers: dict[str, tuple[EngineWindow, BoundedEngine]] = {}
        for name, spec in specs.items():
            if capacity.auto(spec) and name in engines:
                controller = EngineWindow(Bounds(min=1, max=MAX_WINDOW), loop.clock)
                self.controllers[name] = (controller, engines[name])
                core.set_capacity(name, controller.window.size, controller.window.reason)
        self.moves: list[WindowMove] = []
        """Every change of a window, in time order."""
        if self.controllers:
            loop.after(POLL_S, self._poll)

    def _poll(self) -> None:
        if self.over():
            return
        for name, (controller, engine) in self.controllers.items():
            state = self.core.backends[name]
            sample = EngineSample(
                running=engine.running,
                waiting=engine.waiting,
                kv_usage=engine.kv_usage,
                preemptions=engine.preemptions,
            )
            before = controller.window.size
            window: Window = controller.observe(
                sample, Load(len(state.running), len(state.waiting))
            )
            if window.size != before:
                self.core.set_capacity(name, window.size, window.reason)
                self.moves.append(WindowMove(self.loop.now, name, window.size, window.reason))
        self.loop.after(POLL_S, self._poll)

    def stats(self) -> dict[str, dict[str, float]]:
        """Per engine with limits: ``BoundedEngine.stats()``, and for ``auto`` backends the
        final ``window`` and how often it moved (``window_moves``)."""
        out = {name: engine.stats() for name, engine in self.servers.engines().items()}
        for name, (controller, _) in self.controllers.items():
            out[name]["window"] = controller.window.size
            out[name]["window_moves"] = sum(move.backend == name for move in self.moves)
        return out
