"""The scheduling core runs the planner over its active runs, and fails open."""

from __future__ import annotations

import pytest

from hermes_agents.prewarm import PlanStep, PrewarmPlanner, WarmupSpec
from hermes_agents.scheduling import BackendLimits, SchedulerCore, policy_named
from tests.prewarm.graphs import ChainModels


def core(now: list[float], planner: PrewarmPlanner | None) -> SchedulerCore:
    limits = {"cpu": BackendLimits(1), "gpu": BackendLimits(1)}
    return SchedulerCore(
        limits, policy_named("gittins"), lambda: now[0], models=ChainModels(), planner=planner
    )


def test_the_core_plans_over_its_runs_at_its_clock() -> None:
    now = [100.0]
    planner = PrewarmPlanner({"gpu": WarmupSpec("gpu", warmup_s=3.0)}, learn_pace=False)
    scheduler = core(now, planner)
    scheduler.start_run("r1", "chain")
    scheduler.submit("r1", "cpu", stage="plan", estimate_s=4.0)
    scheduler.start_run("other", "unknown-class")
    first = scheduler.plan_warmups({"gpu": False})
    assert (first.hints, first.next_check_s) == ([], 101.0)
    now[0] = 101.0
    (hint,) = scheduler.plan_warmups().hints
    assert (hint.run_id, hint.backend, hint.issued_at_s) == ("r1", "gpu", 101.0)
    scheduler.finish_run("r1")
    now[0] = 105.0
    assert scheduler.plan_warmups() == PlanStep()


def test_without_a_planner_there_are_no_hints() -> None:
    scheduler = core([0.0], None)
    scheduler.start_run("r1", "chain")
    assert scheduler.plan_warmups({"gpu": False}) == PlanStep()


def test_a_failing_planner_is_logged_once_and_yields_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(PrewarmPlanner):
        def plan(self, *args: object, **kwargs: object) -> PlanStep:
            raise RuntimeError("boom")

    scheduler = core([0.0], Broken({}))
    scheduler.start_run("r1", "chain")
    assert scheduler.plan_warmups() == PlanStep()
    assert scheduler.plan_warmups() == PlanStep()
    assert caplog.text.count("prewarm planning failed") == 1
    assert scheduler.schedule() == []  # scheduling goes on
