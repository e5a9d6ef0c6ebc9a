"""Deadline and tier policies on the core with a fake clock: Hermes-DDL (least slack over
the p95 remaining duration, late runs demoted, never shed), tiers, and the per-class levels."""

from __future__ import annotations

import pytest

from hermes_agents import StageKind
from hermes_agents.errors import ValidationError
from hermes_agents.scheduling import AppModels, BackendLimits, SchedulerCore, Usage, policy_named
from hermes_agents.scheduling.policies import NO_DEADLINE, HermesDdl, Policy, Tiered
from hermes_agents.scheduling.tiers import ClassLevel, Tier
from tests.scheduling.test_policies import Clock, admission_order, one_stage_app, queue


def make_core(
    policy: Policy, clock: Clock, models: AppModels | None = None, **limits: float
) -> SchedulerCore:
    pool = BackendLimits(1, kind=StageKind.TOOL, max_wait_s=limits.get("max_wait_s"))
    return SchedulerCore({"pool": pool}, policy, clock, models=models)


def test_hermes_ddl_is_least_slack_over_the_p95_remaining_duration() -> None:
    clock = Clock()
    models = AppModels()
    models.add("long", one_stage_app("long", [30.0] * 20))
    models.add("short", one_stage_app("short", [2.0] * 20))
    core = make_core(policy_named("hermes-ddl"), clock, models)

    def setup() -> None:
        # deadlines 40 and 35: EDF would take "short" first; its slack (35 - 2) is larger
        # than "long"'s (40 - 30), so least slack takes "long" first
        queue(core, clock, "long", "long", deadline=40.0)
        queue(core, clock, "short", "short", deadline=35.0)
        queue(core, clock, "free", "short")

    assert admission_order(core, clock, setup) == ["long", "short", "free"]


def test_hermes_ddl_demotes_a_run_that_can_no_longer_make_it_and_never_sheds_it() -> None:
    clock = Clock()
    models = AppModels()
    models.add("big", one_stage_app("big", [100.0] * 20))
    models.add("small", one_stage_app("small", [1.0] * 20))
    core = make_core(policy_named("hermes-ddl"), clock, models)

    def setup() -> None:
        queue(core, clock, "hopeless", "big", deadline=10.0)  # needs >= 100 s: demoted
        queue(core, clock, "on-time", "small", deadline=500.0)
        queue(core, clock, "no-deadline", "small")

    order = admission_order(core, clock, setup)
    # the hopeless run joins the runs without a deadline, ranked by Gittins among them
    assert order == ["on-time", "no-deadline", "hopeless"]


def test_hermes_ddl_demotes_a_waiting_run_when_its_deadline_slips_away() -> None:
    clock = Clock()
    models = AppModels()
    models.add("app", one_stage_app("app", [5.0] * 20))
    core = make_core(policy_named("hermes-ddl"), clock, models)
    core.start_run("blocker", "app")
    blocker = core.submit("blocker", "pool", stage="work")
    core.schedule()
    core.start_run("tight", "app", deadline=8.0)  # fits at submission: 8 - 0 >= 5
    core.start_run("loose", "app", deadline=100.0)
    tight = core.submit("tight", "pool", stage="work")
    core.submit("loose", "pool", stage="work")
    clock.now = 6.0  # 2 s left, 5 s of work: it cannot make it any more
    core.release(blocker, Usage(seconds=5.0))
    (grant,) = core.schedule()
    assert grant.run_id == "loose"
    assert tight in core.backends["pool"].waiting  # still queued: late, not shed


def test_hermes_ddl_checks_its_quantiles() -> None:
    with pytest.raises(ValidationError, match="quantile"):
        HermesDdl(quantile=1.5)


def test_tiers_go_first_whatever_the_inner_order() -> None:
    clock = Clock()
    core = make_core(policy_named("fcfs+tiers"), clock)
    core.levels["batch"] = ClassLevel(Tier.SHEDDABLE)
    core.levels["chat"] = ClassLevel(Tier.CRITICAL)

    def setup() -> None:
        queue(core, clock, "b1", "batch")
        queue(core, clock, "s1", "plain")
        queue(core, clock, "c1", "chat")
        queue(core, clock, "b2", "batch")
        queue(core, clock, "c2", "chat")

    assert admission_order(core, clock, setup) == ["c1", "c2", "s1", "b1", "b2"]


def test_a_run_may_carry_its_own_tier() -> None:
    clock = Clock()
    core = make_core(policy_named("gittins+tiers"), clock)

    def setup() -> None:
        queue(core, clock, "plain", "x")
        core.start_run("vip", "x", tier=Tier.CRITICAL)
        queue(core, clock, "vip", "x")

    assert admission_order(core, clock, setup) == ["vip", "plain"]


def test_the_wait_bound_keeps_a_lower_tier_from_starving() -> None:
    """No reserved share: only the wait bound lets a sheddable call past a stream of critical
    ones."""
    clock = Clock()
    core = make_core(policy_named("fcfs+tiers"), clock, max_wait_s=10.0)
    core.levels["batch"] = ClassLevel(Tier.SHEDDABLE)
    core.levels["chat"] = ClassLevel(Tier.CRITICAL)
    core.start_run("batch", "batch")
    core.start_run("hog", "chat")
    running = core.submit("hog", "pool", stage="work")
    core.schedule()
    core.submit("batch", "pool", stage="work")
    order = []
    for _ in range(15):  # a new critical call arrives every second
        clock.now += 1
        core.submit("hog", "pool", stage="work")
        core.release(running, Usage(seconds=1.0))
        (grant,) = core.schedule()
        running = grant.task_id
        order.append(core.tasks[running].run.run_id)
    assert "batch" in order
    assert order.index("batch") >= 9  # only after waiting the bound


def test_tiered_names_and_errors() -> None:
    assert policy_named("hermes-ddl+tiers").name == "hermes-ddl+tiers"
    assert isinstance(policy_named("edf+tiers"), Tiered)
    assert policy_named("plas+tiers").order_stable is False  # type: ignore[attr-defined]
    with pytest.raises(ValidationError, match="unknown policy 'gitins'"):
        policy_named("gitins+tiers")


def test_a_class_slo_is_the_deadline_of_runs_given_none() -> None:
    clock = Clock()
    clock.now = 100.0
    core = make_core(policy_named("hermes-ddl"), clock)
    core.levels["chat"] = ClassLevel(Tier.CRITICAL, slo_s=20.0)
    core.start_run("a", "chat")
    core.start_run("b", "chat", deadline=130.0)
    core.start_run("c", "other")
    assert (core.runs["a"].deadline, core.runs["a"].tier) == (120.0, Tier.CRITICAL)
    assert core.runs["b"].deadline == 130.0
    assert (core.runs["c"].deadline, core.runs["c"].tier) == (None, Tier.STANDARD)


def test_no_deadline_ranks_above_any_deadline_a_year_ahead() -> None:
    # monotonic clocks of a machine up for years, deadlines a year ahead: still below
    assert NO_DEADLINE > 1e9 + 365 * 86_400


def test_hermes_ddl_demotes_a_run_more_likely_to_miss_than_to_make_it() -> None:
    """The late rule judges by the median remaining duration: a run whose shortest walk
    still fits but whose median does not goes behind the runs that can make it (with the
    shortest walk as the test, ``late_quantile=0``, it would go first: least slack)."""
    models = AppModels()
    models.add("coin", one_stage_app("coin", [2.0] * 5 + [15.0] * 15))  # median 15 s
    models.add("small", one_stage_app("small", [1.0] * 20))
    orders = {}
    for name, policy in (
        ("median", policy_named("hermes-ddl")),
        ("shortest", HermesDdl(0.95, 0.0)),
    ):
        clock = Clock()
        core = make_core(policy, clock, models)

        def setup(core: SchedulerCore = core, clock: Clock = clock) -> None:
            queue(core, clock, "long-shot", "coin", deadline=clock.now + 10.0)  # 2 fits, 15 not
            queue(core, clock, "on-time", "small", deadline=clock.now + 50.0)
            queue(core, clock, "free", "small")

        orders[name] = admission_order(core, clock, setup)
    assert orders["median"] == ["on-time", "free", "long-shot"]  # demoted, ranked by Gittins
    assert orders["shortest"] == ["long-shot", "on-time", "free"]
