"""Tiny workloads and hand-made app plans shared by the simulator tests."""

from __future__ import annotations

from typing import Any

from hermes_agents.pdgraph import StageKind, Workload
from hermes_agents.sim.plans import AppPlan, CallPlan, VisitPlan


def tool_app(seconds: list[float]) -> dict[str, Any]:
    """An app of one tool stage on ``pool`` (its seconds drawn from ``seconds``)."""
    return {
        "entry": "work",
        "stages": {"work": {"kind": "tool", "backend": "pool", "seconds": {"samples": seconds}}},
    }


def pool_workload(apps: dict[str, Any], capacity: int = 1) -> Workload:
    """Apps on one tool pool; arrivals at 1 app/s (so unit arrival times are seconds)."""
    return Workload.from_dict(
        {
            "name": "tiny",
            "apps": apps,
            "backends": {"pool": {"kind": "tool", "max_concurrency": capacity}},
            "arrivals": {"process": "poisson", "rate_per_s": 1.0, "count": 3},
        }
    )


def plan(index: int, app: str, arrival_s: float, *stage_seconds: tuple[str, float]) -> AppPlan:
    """An app that visits the given (stage, seconds) in order, one tool call each."""
    visits = tuple(
        VisitPlan(stage, "pool", StageKind.TOOL, (CallPlan(0, 0, 0, seconds, seconds),))
        for stage, seconds in stage_seconds
    )
    return AppPlan(index, app, arrival_s, visits)
