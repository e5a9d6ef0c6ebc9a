"""Pre-sampled app runs: which class each app is, when it arrives, and every call it will make.

Each app's whole run (stage visits, fan-out widths, tokens, tool seconds) is drawn before the
simulation starts, from the workload's PDGraphs with ``synthetic.sample_run``. So every policy
of one seed serves exactly the same apps, and the simulator knows each app's true remaining
work (the oracle's input). Randomness: one ``numpy.random.Generator`` per purpose (classes,
runs, arrivals, deadlines), all spawned from the seed; deadlines and tiers come from the
workload's service levels (``sim.deadlines``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from hermes_agents.cost import CostModel
from hermes_agents.errors import ValidationError
from hermes_agents.pdgraph import StageKind, Visit, Workload
from hermes_agents.pdgraph.synthetic import sample_run
from hermes_agents.scheduling.tiers import Tier
from hermes_agents.sim.arrivals import ArrivalSpec, unit_arrivals
from hermes_agents.sim.deadlines import BaseOf, draw_deadlines


@dataclass(frozen=True, slots=True)
class CallPlan:
    """One call of a visit: its demand and its service cost (seconds, by the cost model)."""

    prompt_tokens: int
    output_tokens: int
    cached_tokens: int
    seconds: float
    cost_s: float


@dataclass(frozen=True, slots=True)
class VisitPlan:
    """One stage visit: its parallel calls, all to ``backend``."""

    stage: str
    backend: str
    kind: StageKind
    calls: tuple[CallPlan, ...]


@dataclass(frozen=True)
class AppPlan:
    """One app: its class, its arrival time at unit rate, and its run."""

    index: int
    app: str
    unit_arrival: float
    visits: tuple[VisitPlan, ...]
    deadline_s: float | None = None
    """Seconds after its arrival by which it should end (None: no deadline)."""
    tier: Tier = Tier.STANDARD

    @property
    def calls(self) -> int:
        """Calls the app makes in all."""
        return sum(len(visit.calls) for visit in self.visits)


def draw_plans(
    workload: Workload,
    count: int,
    seed: int,
    arrivals: ArrivalSpec,
    cost: CostModel,
    *,
    base_of: BaseOf | None = None,
) -> list[AppPlan]:
    """``count`` apps of ``workload``'s mix (classes drawn by weight), seeded by ``seed``.

    ``base_of``: a class's longest duration, the base of its deadlines (default: measured
    alone on the workload's servers with the default engine, ``sim.lone``; asked only for
    classes with a deadline setup and no ``base_s``)."""
    if count < 1:
        raise ValidationError(f"must be >= 1, got {count}", "'apps'")
    class_rng, run_rng, arrival_rng, deadline_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)
    )
    names = list(workload.apps)
    weights = np.array([workload.apps[name].weight for name in names], dtype=np.float64)
    classes = class_rng.choice(len(names), size=count, p=weights / weights.sum())
    times = unit_arrivals(count, arrivals, arrival_rng)
    graphs = [workload.apps[names[which]] for which in classes.tolist()]
    runs = [sample_run(graph, run_rng) for graph in graphs]
    costs = _llm_costs([visit for run in runs for visit in run], cost)
    apps = [graph.name for graph in graphs]
    deadlines = draw_deadlines(workload, apps, base_of or _lone_base(workload, seed), deadline_rng)
    return [
        AppPlan(
            index,
            graph.name,
            unit,
            tuple(_visit(visit, costs) for visit in run),
            deadline_s,
            workload.level(graph.name).tier,
        )
        for index, (graph, unit, run, deadline_s) in enumerate(
            zip(graphs, times.tolist(), runs, deadlines, strict=True)
        )
    ]


def _lone_base(workload: Workload, seed: int) -> BaseOf:
    """The measured base of ``sim.lone`` (imported here: it runs the simulator, which
    imports this module)."""
    from hermes_agents.sim.lone import lone_base

    return lone_base(workload, seed)


def _llm_costs(visits: list[Visit], cost: CostModel) -> dict[str, Iterator[float]]:
    """Service seconds of every LLM call, per backend in call order (one numpy call each)."""
    tokens: dict[str, list[tuple[int, int, int]]] = {}
    for visit in visits:
        if visit.kind == StageKind.LLM:
            tokens.setdefault(visit.backend, []).extend(
                (c.prompt_tokens, c.output_tokens, c.prefix_tokens) for c in visit.calls
            )
    costs = {}
    for backend, rows in tokens.items():
        prompt, output, prefix = np.array(rows, dtype=np.float64).T
        seconds = cost.llm_seconds(backend, prompt, output, np.minimum(prefix, prompt))
        costs[backend] = iter(seconds.tolist())
    return costs


def _visit(visit: Visit, costs: dict[str, Iterator[float]]) -> VisitPlan:
    if visit.kind == StageKind.LLM:
        seconds = costs[visit.backend]
        plans = tuple(
            CallPlan(
                c.prompt_tokens,
                c.output_tokens,
                min(c.prefix_tokens, c.prompt_tokens),
                0.0,
                next(seconds),
            )
            for c in visit.calls
        )
    else:
        plans = tuple(
            CallPlan(c.prompt_tokens, 0, 0, c.seconds, float(c.seconds)) for c in visit.calls
        )
    return VisitPlan(visit.stage, visit.backend, visit.kind, plans)
