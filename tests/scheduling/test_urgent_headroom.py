"""``hermes-ddl-urgent``'s headroom (``reserve.UrgentRule``): while an *urgent* run (a deadline,
on time, at most ``urgent_slack_s`` of slack) has work about, every other run (no deadline,
time to spare, or late) holds at most ``sheddable_share`` of a backend's slots, for the
policy's own ``reserve_window_s``; plain ``hermes-ddl`` holds back only the runs without a
deadline. Runs without a model are judged on their call's estimate (2 s here)."""

from __future__ import annotations

import pytest

from hermes_agents import StageKind
from hermes_agents.errors import ValidationError
from hermes_agents.scheduling import BackendLimits, SchedulerCore, policy_named
from hermes_agents.scheduling.policies import HermesDdl, Policy
from hermes_agents.scheduling.reserve import UrgentRule, held_back_by, without_deadline
from tests.scheduling.test_policies import Clock
from tests.scheduling.test_reserve import running_of

CALL_S = 2.0


def make_core(policy: Policy, clock: Clock) -> SchedulerCore:
    """8 slots, share 0.25 (2 slots held back while urgent work is about); runs: urgent (due
    in 5 s: 3 s of slack), spare (due in 100 s), late (due in 1 s: its 2 s no longer fit)."""
    limits = BackendLimits(8, kind=StageKind.TOOL, sheddable_share=0.25)
    core = SchedulerCore({"pool": limits}, policy, clock)
    for run_id, deadline in (("urgent", 5.0), ("spare", 100.0), ("late", 1.0)):
        core.start_run(run_id, run_id, deadline=deadline)
    core.start_run("free", "free")
    return core


def submit(core: SchedulerCore, run_id: str, count: int = 1) -> None:
    for _ in range(count):
        core.submit(run_id, "pool", stage="work", estimate_s=CALL_S)


def test_runs_with_time_to_spare_leave_headroom_for_an_urgent_one() -> None:
    core = make_core(policy_named("hermes-ddl-urgent"), Clock())
    submit(core, "urgent")
    submit(core, "spare", 7)
    core.schedule()
    assert running_of(core, "spare") == 2  # held back: 0.25 of 8 slots
    submit(core, "urgent", 5)  # the headroom: they start at once
    core.schedule()
    assert running_of(core, "urgent") == 6


def test_plain_hermes_ddl_lets_every_run_with_a_deadline_fill_the_slots() -> None:
    core = make_core(policy_named("hermes-ddl"), Clock())
    submit(core, "urgent")
    submit(core, "spare", 7)
    core.schedule()
    assert running_of(core, "spare") == 7  # what the urgent rule changes


def test_late_runs_are_held_back_with_the_runs_without_a_deadline() -> None:
    core = make_core(policy_named("hermes-ddl-urgent"), Clock())
    submit(core, "urgent")
    submit(core, "late", 4)
    submit(core, "free", 4)
    core.schedule()
    assert running_of(core, "late") + running_of(core, "free") == 2
    plain = make_core(policy_named("hermes-ddl"), Clock())
    submit(plain, "urgent")
    submit(plain, "late", 4)
    submit(plain, "free", 4)
    plain.schedule()
    assert running_of(plain, "late") == 4  # plain hermes-ddl: a late run is not held back


def test_a_run_becomes_urgent_as_its_slack_runs_out() -> None:
    clock = Clock()
    rule = held_back_by(policy_named("hermes-ddl-urgent"), clock)
    assert isinstance(rule, UrgentRule)
    core = make_core(policy_named("hermes-ddl-urgent"), clock)
    spare = core.runs["spare"]
    submit(core, "spare")
    assert rule(spare)  # 98 s of slack over its 2 s
    clock.now = 89.0
    assert not rule(spare)  # 9 s of slack: urgent (at most 10)
    clock.now = 99.0
    assert rule(spare)  # 1 s left for 2 s of work: late, held back again
    assert rule(core.runs["free"])


def test_the_headroom_lasts_the_policy_s_window_after_the_last_urgent_call() -> None:
    clock = Clock()
    core = make_core(policy_named("hermes-ddl-urgent"), clock)
    task = core.submit("urgent", "pool", stage="work", estimate_s=CALL_S)
    core.schedule()
    clock.now = 1.0
    core.release(task)
    submit(core, "spare", 8)
    core.schedule()
    assert running_of(core, "spare") == 2  # within 10 s of the urgent call
    clock.now = 10.5  # past hermes-ddl-urgent's 10 s window (the backend's is 30 s)
    submit(core, "spare")
    core.schedule()
    assert running_of(core, "spare") == 8


def test_which_runs_the_urgent_rule_holds_back_and_its_checks() -> None:
    urgent = policy_named("hermes-ddl-urgent")
    assert isinstance(urgent, HermesDdl)
    assert (urgent.urgent_slack_s, urgent.reserve_window_s) == (10.0, 10.0)
    assert (urgent.quantile, urgent.late_quantile) == (0.8, 0.1)
    assert held_back_by(urgent) is without_deadline  # no clock: only runs without a deadline
    assert held_back_by(policy_named("hermes-ddl"), Clock()) is without_deadline
    assert held_back_by(HermesDdl(urgent_slack_s=5.0, deadline_headroom=False), Clock()) is None
    for field in ("urgent_slack_s", "reserve_window_s"):
        with pytest.raises(ValidationError, match=field):
            HermesDdl(**{field: -1.0})  # type: ignore[arg-type]
        with pytest.raises(ValidationError, match=field):
            HermesDdl(**{field: float("inf")})  # type: ignore[arg-type]
