"""How long an app class takes alone: the base of Hermes's deadline setup, measured.

The Hermes paper gives a share of the apps a deadline of a factor in {1.2, 1.5, 2} times 0.7 x
"the maximum of its PDGraph duration distribution": the distribution of the class's end-to-end
durations as the system runs them without contention (the profile a PDGraph is learned from),
and its maximum is the longest duration among those runs (a graph with loops has no finite
longest path). Here the profile is measured the same way: ``LONE_RUNS`` runs of the class
(the size of a PDGraph's sample window) are drawn from its PDGraph and each is simulated
*alone*, on the workload's own servers through the same core and admission window, with every
backend warm: no queueing, no other app, no cold start. ``max_lone_duration_s`` is the longest.

Why measured rather than priced: the cost profile that prices ranks says 0.06 s per output
token, the engine's step at 64 running sequences (``sim.llm``), while a lone app's tokens take
14 ms (one sequence) to 25 ms (the 16 slots of paper-mix). A base priced with the profile
was 2.4-4x the apps' real durations alone and left every deadline loose (docs/benchmarks.md).

>>> from hermes_agents.workloads import builtin
>>> mix = builtin("paper-mix")
>>> alone = lone_durations_s(mix, "factool_math", seed=0, runs=20)
>>> alone.size, bool(0.5 < alone.max() < 10.0)
(20, True)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import zlib
from collections import OrderedDict

import numpy as np
from numpy.typing import NDArray

from hermes_agents.errors import ValidationError
from hermes_agents.pdgraph import PDGraph, Workload
from hermes_agents.pdgraph.model import DEMAND_FIELDS
from hermes_agents.sim.arrivals import ArrivalSpec
from hermes_agents.sim.deadlines import BaseOf
from hermes_agents.sim.plans import draw_plans
from hermes_agents.sim.servers import EngineShape
from hermes_agents.sim.simulator import SimConfig, scheduler_cost, simulate

LONE_RUNS = 1000
"""Runs behind a class's duration distribution (a PDGraph's sample window)."""
LONE_GAP_S = 1e6
"""Seconds between two lone runs' arrivals: far longer than any run, so none overlap."""
_CACHE_SIZE = 256
_cache: OrderedDict[str, float] = OrderedDict()


def lone_durations_s(
    workload: Workload,
    app: str,
    *,
    seed: int,
    engine: EngineShape | None = None,
    runs: int = LONE_RUNS,
) -> NDArray[np.float64]:
    """End-to-end seconds of ``runs`` runs of class ``app``, each simulated alone (warm
    backends, nothing else in the system), drawn from its PDGraph with ``seed``."""
    if app not in workload.apps:
        raise ValidationError(f"no such app; use one of {sorted(workload.apps)}", app)
    if runs < 1:
        raise ValidationError(f"must be >= 1, got {runs}", "'runs'")
    warm = {
        name: dataclasses.replace(spec, cold_start_s=0.0, idle_sleep_s=None)
        for name, spec in workload.backends.items()
    }
    lone = dataclasses.replace(workload, apps={app: workload.apps[app]}, service={}, backends=warm)
    cost = scheduler_cost(lone, "sum")
    class_seed = int(np.random.SeedSequence([seed, zlib.crc32(app.encode())]).generate_state(1)[0])
    plans = draw_plans(lone, runs, class_seed, ArrivalSpec(), cost)
    rate = (lone.arrivals.rate_per_s if lone.arrivals is not None else 1.0) * LONE_GAP_S
    spaced = [dataclasses.replace(p, unit_arrival=(p.index + 1) * rate) for p in plans]
    config = SimConfig(policy="fcfs", apps=runs, engine=engine or EngineShape())
    return simulate(lone, config, plans=spaced).act_s


def max_lone_duration_s(
    workload: Workload, app: str, *, seed: int, engine: EngineShape | None = None
) -> float:
    """The longest of ``lone_durations_s`` (cached per class profile, seed and engine)."""
    key = _key(workload, app, seed, engine or EngineShape())
    value = _cache.get(key)
    if value is None:
        value = _cache[key] = float(lone_durations_s(workload, app, seed=seed, engine=engine).max())
        if len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return value


def lone_base(workload: Workload, seed: int, engine: EngineShape | None = None) -> BaseOf:
    """``draw_plans``'s ``base_of``: a class's ``max_lone_duration_s`` on ``engine``."""

    def base_of(app: str) -> float:
        return max_lone_duration_s(workload, app, seed=seed, engine=engine)

    return base_of


def _key(workload: Workload, app: str, seed: int, engine: EngineShape) -> str:
    """A digest of everything a lone run depends on: the class's graph with its sample
    windows (a workload file's parametric form is materialised per seed), the backends, the
    seed and the engine shape."""
    digest = hashlib.sha256()
    graph = workload.apps[app]
    head = [graph.to_dict(), repr(sorted(workload.backends.items())), seed, repr(engine)]
    digest.update(json.dumps(head, sort_keys=True, default=str).encode())
    for samples in _sample_windows(graph):
        digest.update(samples.tobytes())
    return digest.hexdigest()


def _sample_windows(graph: PDGraph) -> list[NDArray[np.float64]]:
    """Every distribution's samples, stage by stage and field by field."""
    windows = []
    for name in sorted(graph.stages):
        for field_name in DEMAND_FIELDS:
            part = graph.stages[name].demand(field_name)
            if part is not None:
                windows.append(np.asarray(part.samples, dtype=np.float64))
    return windows
