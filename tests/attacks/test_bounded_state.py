"""Unbounded names cannot grow the scheduler without bound (issue 13, item 3): idle app
classes and unconfigured backends are evicted, least recently used first, and come back on
demand (an app class's profile from the store)."""

from __future__ import annotations

import time
from pathlib import Path

from hermes_agents.pdgraph import Call, Visit
from hermes_agents.scheduling import BackendLimits, SchedulerCore, Usage
from hermes_agents.scheduling.models import AppModels
from hermes_agents.scheduling.policies import policy_named
from hermes_agents.scheduling.queues import MAX_UNCONFIGURED_BACKENDS
from hermes_agents.scheduling.state import UNLIMITED
from hermes_agents.store import ProfileStore


def _run() -> list[Visit]:
    return [Visit("answer", calls=(Call(100, 10, seconds=0.5),))]


def test_app_classes_beyond_the_bound_are_evicted_and_come_back_from_the_store(
    tmp_path: Path,
) -> None:
    with ProfileStore(tmp_path / "profiles.sqlite3") as store:
        models = AppModels(store=store, max_apps=50)
        for index in range(500):
            models.observe(f"app{index}", _run())
        assert len(models._learners) == 50
        assert models.evicted == 450
        assert models.demand("app0") is None  # evicted: not in memory
        learner = models.add("app0")  # back on demand, with what it learned
        assert learner.runs_observed == 1
        assert len(models._learners) == 50


def test_unconfigured_backends_beyond_the_bound_are_forgotten_when_idle() -> None:
    core = SchedulerCore(
        {"llm": BackendLimits(2)},
        policy_named("fcfs"),
        time.monotonic,
        default_limits=UNLIMITED,
    )
    core.start_run("r", "qa")
    busy = core.submit("r", "busy-backend")
    core.step()
    for index in range(3 * MAX_UNCONFIGURED_BACKENDS):
        task = core.submit("r", f"backend{index}")
        core.step()
        core.release(task, Usage(seconds=0.01))
    assert len(core.backends) <= MAX_UNCONFIGURED_BACKENDS + 2
    assert "llm" in core.backends  # configured: never forgotten
    assert "busy-backend" in core.backends  # holds a running call: kept
    core.release(busy, Usage(seconds=1.0))
