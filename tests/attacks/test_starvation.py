"""No starvation by default (issue 13, item 5): a flood of one-call tasks, each better ranked
than an app run's call, holds that call back at most the backend's wait bound (plus the call
that holds the slot then). Without the bound (the policy alone, as the simulator runs it), the
flood holds it back for as long as it lasts."""

from __future__ import annotations

import pytest

from hermes_agents.scheduling import BackendLimits, SchedulerCore, Usage
from hermes_agents.scheduling.policies import policy_named
from hermes_agents.scheduling.state import DEFAULT_MAX_WAIT_S

CALL_S = 0.5
"""Each flood call holds the one slot this long."""
FLOOD_S = 600.0


def _waited_s(max_wait_s: float | None) -> float:
    """Seconds the app run's call waits under a flood of one-call tasks (simulated time)."""
    now = [0.0]
    limits = {"llm": BackendLimits(1, max_wait_s=max_wait_s)}
    core = SchedulerCore(limits, policy_named("gittins"), lambda: now[0])
    core.start_run("app", "big")
    core.enter_stage("app", "think")
    flood = 0

    def one_call() -> int:
        nonlocal flood
        flood += 1
        core.start_run(f"f{flood}", "call:llm")
        return core.submit(f"f{flood}", "llm", estimate_s=CALL_S)  # ranks at 0.5 s

    running = one_call()
    core.step()
    app_task = core.submit("app", "llm", estimate_s=60.0)  # ranks at 60 s: behind every one
    one_call()  # there is always one more flood call waiting
    while now[0] < FLOOD_S:
        now[0] += CALL_S
        holder = core.tasks[running].run.run_id
        core.release(running, Usage(seconds=CALL_S))
        core.finish_run(holder, learn=False)  # a one-call app ends with its call
        (grant,) = core.step().grants
        if grant.task_id == app_task:
            return grant.waited_s
        running = grant.task_id
        one_call()
    return FLOOD_S


@pytest.mark.parametrize("bound_s", [DEFAULT_MAX_WAIT_S, 5.0])
def test_a_flood_holds_an_app_run_back_at_most_the_wait_bound(bound_s: float) -> None:
    waited = _waited_s(bound_s)
    assert bound_s <= waited <= bound_s + CALL_S


def test_without_a_bound_the_flood_starves_it() -> None:
    assert _waited_s(None) == FLOOD_S


def test_one_call_apps_without_an_estimate_rank_as_the_backends_typical_call() -> None:
    now = [0.0]
    core = SchedulerCore({"llm": BackendLimits(1)}, policy_named("gittins"), lambda: now[0])
    for index in range(20):  # the backend's calls take 3 s
        core.start_run(f"r{index}", "call:llm")
        task = core.submit(f"r{index}", "llm", estimate_s=3.0)
        core.step()
        core.release(task, Usage(seconds=3.0))
        core.finish_run(f"r{index}", learn=False)
    core.start_run("unknown", "call:llm")
    core.submit("unknown", "llm")  # no estimate: not rank 0 (the top)
    assert core.runs["unknown"].rank == pytest.approx(3.0, rel=0.05)


def test_a_slot_held_past_the_hold_bound_is_taken_back_and_the_next_call_admitted() -> None:
    now = [0.0]
    limits = {"llm": BackendLimits(1, max_hold_s=60.0)}
    core = SchedulerCore(limits, policy_named("fcfs"), lambda: now[0])
    core.start_run("stuck", "qa")
    stuck = core.submit("stuck", "llm")  # its caller deadlocks holding the slot
    assert [g.task_id for g in core.step().grants] == [stuck]
    core.start_run("next", "qa")
    waiting = core.submit("next", "llm")
    decisions = core.step()
    assert not decisions.grants
    assert decisions.next_check_s == 60.0  # the driver's alarm comes back then
    now[0] = 60.0
    assert [g.task_id for g in core.step().grants] == [waiting]
    assert core.backends["llm"].reclaimed == 1
    core.release(stuck, Usage(seconds=61.0))  # the late release finds nothing: harmless
    assert len(core.backends["llm"].running) == 1
