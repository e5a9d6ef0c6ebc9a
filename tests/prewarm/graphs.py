"""Small PDGraphs and a run double shared by the prewarm tests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hermes_agents.pdgraph import PDGraph, RemainingDemand


def tool(backend: str, seconds: float, nxt: Mapping[str, float] | None = None) -> dict[str, Any]:
    """A tool stage of constant duration."""
    out: dict[str, Any] = {"kind": "tool", "backend": backend, "seconds": {"const": seconds}}
    if nxt is not None:
        out["next"] = dict(nxt)
    return out


def graph(name: str, entry: str, stages: dict[str, Any]) -> PDGraph:
    """A PDGraph from stage mappings."""
    return PDGraph.from_dict({"name": name, "entry": entry, "stages": stages})


def chain(plan_s: float = 4.0) -> PDGraph:
    """plan (on ``cpu``, ``plan_s`` seconds) -> infer (on ``gpu``)."""
    return graph(
        "chain", "plan", {"plan": tool("cpu", plan_s, {"infer": 1.0}), "infer": tool("gpu", 1.0)}
    )


def branch(p_gpu: float) -> PDGraph:
    """plan (on ``cpu``, 4 s) -> infer (``gpu``) with probability ``p_gpu``, else END."""
    return graph(
        "branch",
        "plan",
        {"plan": tool("cpu", 4.0, {"infer": p_gpu, "END": 1 - p_gpu}), "infer": tool("gpu", 1.0)},
    )


@dataclass
class FakeRun:
    """What the planner reads about a run (``PlannedRun``)."""

    run_id: str
    demand: RemainingDemand | None
    stage: str | None
    rank: float = 1.0
    app: str = "app"
    visits: dict[str, int] = field(default_factory=dict)


def at(run_id: str, g: PDGraph, stage: str, rank: float = 1.0, walks: int = 200) -> FakeRun:
    """A run of ``g`` at its first visit of ``stage``."""
    return FakeRun(run_id, RemainingDemand(g, walks=walks), stage, rank, g.name, {stage: 1})


class ChainModels:
    """The core's demand models (``DemandModels``): ``chain(plan_s=4.0)`` (plan on cpu for 4 s,
    then infer on gpu) for the app class ``chain``, fixed, learning nothing."""

    def __init__(self) -> None:
        self.chain = RemainingDemand(chain(plan_s=4.0), walks=100)

    def demand(self, app: str) -> RemainingDemand | None:
        return self.chain if app == "chain" else None

    def observe(self, app: str, run: object) -> None:
        """Nothing to learn."""

    def add(self, app: str, prior: PDGraph | None = None) -> None:
        """Priors change nothing here."""

    def graph(self, app: str) -> PDGraph | None:
        return None
