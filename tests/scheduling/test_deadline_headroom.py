"""The headroom ``hermes-ddl`` keeps for runs with a deadline (``scheduling.reserve``): calls of
runs without one hold at most ``sheddable_share`` of a backend's slots while work with a
deadline is about; ``deadline_headroom=False`` and policies without it leave every slot."""

from __future__ import annotations

import pytest

from hermes_agents import StageKind
from hermes_agents.scheduling import BackendLimits, SchedulerCore, policy_named
from hermes_agents.scheduling.policies import HermesDdl, Policy
from hermes_agents.scheduling.reserve import held_back_by, sheddable, without_deadline
from tests.scheduling.test_policies import Clock
from tests.scheduling.test_reserve import running_of, submit


def make_core(policy: Policy, clock: Clock) -> SchedulerCore:
    limits = BackendLimits(8, kind=StageKind.TOOL, sheddable_share=0.25)
    core = SchedulerCore({"pool": limits}, policy, clock)
    core.start_run("urgent", "urgent", deadline=1_000.0)
    core.start_run("free", "free")
    return core


@pytest.mark.parametrize("name", ["hermes-ddl", "hermes-edf"])
def test_runs_without_a_deadline_leave_headroom_while_deadline_work_runs(name: str) -> None:
    core = make_core(policy_named(name), Clock())
    submit(core, "urgent", 1)
    submit(core, "free", 7)
    core.schedule()
    assert running_of(core, "free") == 2  # 0.25 of 8 slots
    submit(core, "urgent", 5)  # the headroom: they start at once
    core.schedule()
    assert running_of(core, "urgent") == 6


def test_without_deadline_work_the_others_take_every_slot() -> None:
    core = make_core(policy_named("hermes-ddl"), Clock())
    submit(core, "free", 10)
    core.schedule()
    assert running_of(core, "free") == 8


@pytest.mark.parametrize("policy", [HermesDdl(deadline_headroom=False), policy_named("edf")])
def test_policies_without_the_headroom_leave_every_slot(policy: Policy) -> None:
    core = make_core(policy, Clock())
    submit(core, "urgent", 1)
    submit(core, "free", 7)
    core.schedule()
    assert running_of(core, "free") == 7


def test_which_runs_a_policy_holds_back() -> None:
    assert held_back_by(policy_named("hermes-ddl")) is without_deadline
    assert held_back_by(policy_named("hermes-ddl+tiers")) is sheddable  # tiers first
    assert held_back_by(policy_named("gittins")) is None
    assert held_back_by(HermesDdl(deadline_headroom=False)) is None
    clock = Clock()
    assert make_core(policy_named("hermes-ddl"), clock).tiered is False
    assert make_core(policy_named("gittins+tiers"), clock).tiered is True
