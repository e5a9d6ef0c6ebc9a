"""The headroom higher tiers keep (``scheduling.reserve``) on the core with a fake clock:
sheddable calls hold at most ``sheddable_share`` of a backend's slots while critical or standard
work is about, every slot otherwise; the wait bound does not lift it and does not let it block
a critical call; policies without tiers ignore it."""

from __future__ import annotations

import pytest

from hermes_agents import StageKind
from hermes_agents.errors import ValidationError
from hermes_agents.scheduling import BackendLimits, SchedulerCore, Usage, policy_named
from hermes_agents.scheduling.reserve import orders_by_tier, sheddable_slots
from hermes_agents.scheduling.tiers import Tier
from tests.scheduling.test_policies import Clock


def make_core(
    clock: Clock,
    slots: int = 8,
    share: float = 0.25,
    policy: str = "fcfs+tiers",
    max_wait_s: float | None = None,
) -> SchedulerCore:
    limits = BackendLimits(slots, kind=StageKind.TOOL, max_wait_s=max_wait_s, sheddable_share=share)
    core = SchedulerCore({"pool": limits}, policy_named(policy), clock)
    for run_id, tier in (("chat", Tier.CRITICAL), ("qa", Tier.STANDARD), ("batch", Tier.SHEDDABLE)):
        core.start_run(run_id, run_id, tier=tier)
    return core


def submit(core: SchedulerCore, run_id: str, count: int = 1) -> list[int]:
    return [core.submit(run_id, "pool", stage="work") for _ in range(count)]


def running_of(core: SchedulerCore, run_id: str) -> int:
    return sum(task.run.run_id == run_id for task in core.backends["pool"].running.values())


@pytest.mark.parametrize("higher", ["chat", "qa"])
def test_sheddable_calls_leave_headroom_while_higher_tier_work_runs(higher: str) -> None:
    """8 slots, share 0.25: a critical (or standard) call runs, so a burst of 7 sheddable calls
    gets 2 slots and the 5 left stay free for the higher tier."""
    core = make_core(Clock())
    submit(core, higher)
    submit(core, "batch", 7)
    core.schedule()
    assert running_of(core, "batch") == 2
    assert len(core.backends["pool"].waiting) == 5
    submit(core, higher, 6)  # the headroom: 5 of them start at once
    core.schedule()
    assert running_of(core, higher) == 6
    assert running_of(core, "batch") == 2


def test_without_the_headroom_the_burst_takes_every_slot() -> None:
    """The same burst with ``sheddable_share = 1``: what the rule prevents."""
    core = make_core(Clock(), share=1.0)
    submit(core, "chat")
    submit(core, "batch", 7)
    core.schedule()
    assert running_of(core, "batch") == 7
    submit(core, "chat")
    core.schedule()
    assert running_of(core, "chat") == 1  # the second critical call waits


def test_without_higher_tier_work_sheddable_calls_take_every_slot() -> None:
    core = make_core(Clock())
    submit(core, "batch", 10)
    core.schedule()
    assert running_of(core, "batch") == 8


def test_the_headroom_lapses_reserve_window_s_after_the_last_higher_tier_call() -> None:
    clock = Clock()
    core = make_core(clock)
    (chat,) = submit(core, "chat")
    core.schedule()
    core.release(chat, Usage(seconds=1.0))
    clock.now = 10.0  # a critical call was submitted 10 s ago: still about
    batch = submit(core, "batch", 8)
    core.schedule()
    assert running_of(core, "batch") == 2
    clock.now = 31.0  # more than the 30 s window since: the next release lets the rest in
    core.release(batch[0], Usage(seconds=1.0))
    core.schedule()
    assert running_of(core, "batch") == 7
    assert not core.backends["pool"].waiting


def test_the_wait_bound_does_not_lift_the_headroom_nor_block_critical_calls() -> None:
    """4 slots, share 0.25 (1 slot): a sheddable call promoted by the wait bound still waits
    for its tier's slot, and the critical calls behind it go meanwhile."""
    clock = Clock()
    core = make_core(clock, slots=4, max_wait_s=10.0)
    submit(core, "chat")
    (first, _) = submit(core, "batch", 2)
    core.schedule()
    assert running_of(core, "batch") == 1
    clock.now = 20.0  # the waiting sheddable call is past the wait bound
    submit(core, "chat", 3)
    core.schedule()
    assert running_of(core, "chat") == 3  # 2 took the free slots, past the promoted call
    assert running_of(core, "batch") == 1
    core.release(first, Usage(seconds=1.0))
    granted = core.schedule()
    assert [core.tasks[g.task_id].run.run_id for g in granted] == ["batch"]  # the oldest
    assert core.backends["pool"].promoted == 1


def test_policies_without_tiers_ignore_the_headroom() -> None:
    core = make_core(Clock(), policy="gittins")
    submit(core, "chat")
    submit(core, "batch", 7)
    core.schedule()
    assert running_of(core, "batch") == 7


def test_the_headroom_is_at_least_one_slot() -> None:
    core = make_core(Clock(), slots=2, share=0.125)
    submit(core, "chat")
    submit(core, "batch", 3)
    core.schedule()
    assert running_of(core, "batch") == 1  # one slot for the sheddable tier, none kept back
    assert sheddable_slots(BackendLimits(1, sheddable_share=0.01)) == 1
    assert sheddable_slots(BackendLimits(64, sheddable_share=0.125)) == 8


def test_wrapped_tiered_policies_keep_the_headroom() -> None:
    assert orders_by_tier(policy_named("gittins+tiers"))
    assert orders_by_tier(policy_named("hermes-ddl+tiers"))
    assert not orders_by_tier(policy_named("gittins"))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("sheddable_share", 0),
        ("sheddable_share", 1.5),
        ("sheddable_share", float("nan")),
        ("sheddable_share", True),
        ("sheddable_share", "half"),
        ("reserve_window_s", 0),
        ("reserve_window_s", float("inf")),
    ],
)
def test_bad_headroom_limits_name_the_field(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=f"field '{field}'"):
        BackendLimits(4, **{field: value})  # type: ignore[arg-type]
