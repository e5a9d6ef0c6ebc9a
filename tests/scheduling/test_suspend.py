"""Suspended runs (a LangGraph interrupt): no slot, no rank, no warm-up; resumed whole; expired
unlearned after ``SUSPENDED_RUN_TTL_S``."""

from __future__ import annotations

import pytest

from hermes_agents.scheduling import BackendLimits, LocalScheduler, SchedulerCore, policy_named
from hermes_agents.scheduling.interface import SUSPENDED_RUN_TTL_S, Scheduler
from hermes_agents.scheduling.state import Usage
from tests.doubles import RecordingModels


@pytest.fixture
def now() -> list[float]:
    return [0.0]


@pytest.fixture
def models() -> RecordingModels:
    return RecordingModels()


@pytest.fixture
def scheduler(now: list[float], models: RecordingModels) -> LocalScheduler:
    core = SchedulerCore(
        {"llm": BackendLimits(1)}, policy_named("app-fcfs"), lambda: now[0], models=models
    )
    return LocalScheduler(core)


def test_a_resumed_run_continues_where_it_stopped_and_is_learned_once(
    scheduler: LocalScheduler, models: RecordingModels, now: list[float]
) -> None:
    core = scheduler.core
    scheduler.start_run("r", "hitl")
    scheduler.move_run("r", "draft", visit="draft@1")
    task = core.submit("r", "llm", visit="draft@1")
    core.step()
    core.release(task, Usage(seconds=2.0))
    scheduler.move_run("r", "ask", visit="ask@2")
    scheduler.suspend_run("r")
    assert "r" not in core.runs
    assert not scheduler.has_run("r")
    now[0] = 600.0  # a human thinks for ten minutes
    scheduler.resume_run("r", "hitl")
    run = core.runs["r"]
    assert (run.stage, run.arrived_at) == ("ask", 600.0)  # the wait counts as nothing
    assert run.attained_s > 0
    assert run.visits == {"draft": 1, "ask": 1}
    scheduler.move_run("r", "ask", visit="ask@2")  # the interrupted node runs again: one visit
    scheduler.move_run("r", "publish", visit="publish@3")
    scheduler.finish_run("r")
    assert [[v.stage for v in run] for _, run in models.runs] == [["draft", "ask", "publish"]]


def test_a_suspended_run_gives_back_its_slot_and_withdraws_its_waiting_calls(
    scheduler: LocalScheduler,
) -> None:
    core = scheduler.core
    scheduler.start_run("r", "hitl")
    held = core.submit("r", "llm", stage="draft")
    waiting = core.submit("r", "llm", stage="draft")
    core.step()
    scheduler.suspend_run("r")
    assert held not in core.tasks
    assert waiting not in core.tasks
    assert core.backends["llm"].running == {}
    assert core.backends["llm"].waiting == {}


def test_a_run_never_resumed_expires_unlearned(
    scheduler: LocalScheduler, models: RecordingModels, now: list[float]
) -> None:
    scheduler.start_run("r", "hitl")
    scheduler.move_run("r", "ask", visit="ask@1")
    scheduler.suspend_run("r")
    now[0] = SUSPENDED_RUN_TTL_S + 1.0
    scheduler.start_run("other", "qa")  # any step expires it
    assert "r" not in scheduler.core.suspended
    scheduler.resume_run("r", "hitl")  # too late: a new run from here, never learned
    scheduler.move_run("r", "publish")
    scheduler.finish_run("r")
    scheduler.finish_run("other")
    assert [app for app, _ in models.runs] == []  # "other" made no visit: nothing to learn


def test_the_default_implementation_keeps_the_run_active() -> None:
    class Minimal(LocalScheduler):
        suspend_run = Scheduler.suspend_run
        resume_run = Scheduler.resume_run

    scheduler = Minimal(LocalScheduler.in_process().core)
    scheduler.start_run("r", "hitl")
    scheduler.suspend_run("r")
    assert scheduler.has_run("r")
    scheduler.resume_run("r", "hitl")
    scheduler.resume_run("s", "hitl")  # unknown: started
    assert scheduler.has_run("s")
