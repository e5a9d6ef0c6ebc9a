"""Test doubles shared by several test modules: a concurrency gauge, recording demand models,
and a capacity-1 scheduler that hands its finished runs to them."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from hermes_agents.pdgraph import Call, PDGraph, RemainingDemand, Visit
from hermes_agents.scheduling import BackendLimits, LocalScheduler, SchedulerCore, policy_named
from hermes_agents.scheduling.state import UNLIMITED


class Gauge:
    """Counts calls inside a critical section and remembers the maximum."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0
        self.lock = threading.Lock()

    def __enter__(self) -> None:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)

    def __exit__(self, *exc: object) -> None:
        with self.lock:
            self.now -= 1


class RecordingModels:
    """``DemandModels`` that learn nothing and keep every finished run."""

    def __init__(self) -> None:
        self.runs: list[tuple[str, Sequence[Visit]]] = []

    def demand(self, app: str) -> RemainingDemand | None:
        return None

    def observe(self, app: str, run: Sequence[Visit]) -> None:
        self.runs.append((app, run))

    def add(self, app: str, prior: PDGraph | None = None) -> None:
        """Priors change nothing here."""

    def graph(self, app: str) -> PDGraph | None:
        return None

    def calls(self) -> list[Call]:
        """Every call of every recorded run, in order."""
        return [call for _, visits in self.runs for visit in visits for call in visit.calls]


def capacity_one_scheduler(models: RecordingModels) -> LocalScheduler:
    """Capacity 1 on "llm" and "embeddings" (others unlimited); finished runs go to ``models``."""
    limits = {"llm": BackendLimits(1), "embeddings": BackendLimits(1)}
    core = SchedulerCore(
        limits, policy_named("gittins"), time.monotonic, models=models, default_limits=UNLIMITED
    )
    return LocalScheduler(core)
