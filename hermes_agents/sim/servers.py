"""Simulated servers: the backend models built from a workload's ``backends`` section.

(``hermes_agents.backends`` holds the adapters that talk to real servers, and
``scheduling.state.BackendLimits`` the admission limits; these are the servers the simulator
runs in their place.)

- ``llm`` backends: ``LlmEngine`` (continuous batching, KV tiers), its step model derived from
  the backend's cost profile (``EngineParams.from_profile``);
- ``tool`` and ``embedding`` backends: ``Pool`` of ``max_concurrency`` workers, each call busy
  for its sampled seconds;
- any backend with ``cold_start_s > 0``: wrapped in ``ColdStart`` (starts asleep, sleeps after
  ``idle_sleep_s`` idle seconds, wakes on demand); ``keepalive_s`` adds a fixed TTL to every
  idle period (the ``lru`` keep-alive baseline).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hermes_agents.cost import CostModel
from hermes_agents.engine_limits import EngineLimits
from hermes_agents.pdgraph import BackendSpec, StageKind
from hermes_agents.sim.bounded import BoundedEngine
from hermes_agents.sim.coldstart import ColdStart
from hermes_agents.sim.events import EventLoop
from hermes_agents.sim.job import Done, Server
from hermes_agents.sim.kv import KvMode
from hermes_agents.sim.llm import FIXED_SHARE, REFERENCE_BATCH, EngineParams, LlmEngine
from hermes_agents.sim.pools import Pool


@dataclass(frozen=True)
class EngineShape:
    """How LLM engines are derived from cost profiles (see ``EngineParams.from_profile``).

    ``limits``: every LLM engine's own limits and scheduler, over the workload's (None: each
    backend's ``engine`` from the workload, and without one the unbounded ``LlmEngine``).
    """

    kv_mode: KvMode = KvMode.OVERLAP
    reference_batch: int = REFERENCE_BATCH
    fixed_share: float = FIXED_SHARE
    limits: EngineLimits | None = None


def build_server(
    loop: EventLoop,
    spec: BackendSpec,
    cost: CostModel,
    shape: EngineShape,
    done: Done,
    keepalive_s: float = 0.0,
) -> Server:
    """The model of one backend, reporting completions to ``done``."""

    def bare(sink: Done) -> Server:
        if spec.kind == StageKind.LLM:
            params = EngineParams.from_profile(
                cost.for_backend(spec.name),
                kv_mode=shape.kv_mode,
                reference_batch=shape.reference_batch,
                fixed_share=shape.fixed_share,
            )
            limits = shape.limits or spec.engine
            if limits is not None:
                return BoundedEngine(loop, params, limits, sink)
            return LlmEngine(loop, params, sink)
        return Pool(loop, spec.max_concurrency, sink)

    if spec.cold_start_s > 0:
        idle_sleep_s = None if spec.idle_sleep_s is None else spec.idle_sleep_s + keepalive_s
        return ColdStart(loop, spec.cold_start_s, idle_sleep_s, done, bare, name=spec.name)
    return bare(done)


class SimServers:
    """Every simulated server of a simulation, by backend name."""

    def __init__(
        self,
        loop: EventLoop,
        specs: Mapping[str, BackendSpec],
        cost: CostModel,
        shape: EngineShape,
        done: Done,
        keepalive_s: float = 0.0,
    ) -> None:
        self.servers = {
            name: build_server(loop, spec, cost, shape, done, keepalive_s)
            for name, spec in specs.items()
        }

    @property
    def cold(self) -> dict[str, ColdStart]:
        """The backends that sleep and wake, by name."""
        return {n: s for n, s in self.servers.items() if isinstance(s, ColdStart)}

    def awake(self) -> dict[str, bool | None]:
        """Per cold backend: True if awake or waking (no wake needed), False if asleep."""
        return {name: s.awake or s.waking for name, s in self.cold.items()}

    def close(self, end_s: float) -> None:
        """End of the run: settle idle-time accounting at ``end_s``."""
        for server in self.servers.values():
            if isinstance(server, ColdStart):
                server.close(end_s)

    def engines(self) -> dict[str, BoundedEngine]:
        """The LLM engines with limits of their own, by backend name (inside any cold start)."""
        found = {}
        for name, server in self.servers.items():
            inner = server.inner if isinstance(server, ColdStart) else server
            if isinstance(inner, BoundedEngine):
                found[name] = inner
        return found

    @property
    def warm_waste_s(self) -> float:
        """Seconds backends with a cold start spent awake with nothing to serve."""
        return sum(s.warm_waste_s for s in self.servers.values() if isinstance(s, ColdStart))

    @property
    def wakeups(self) -> int:
        """Times a sleeping backend was woken."""
        return sum(s.wakeups for s in self.servers.values() if isinstance(s, ColdStart))

    @property
    def hinted_wakeups(self) -> int:
        """Wake-ups started by a prewarm hint rather than by a call."""
        return sum(s.hinted_wakeups for s in self.cold.values())
