"""Each policy admits in the order its definition says (core + fake clock, capacity 1)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from hermes_agents import PDGraph, StageKind
from hermes_agents.scheduling import (
    Aging,
    AppModels,
    BackendLimits,
    Plas,
    SchedulerCore,
    Usage,
    policy_named,
)
from hermes_agents.scheduling.policies import Policy


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def one_stage_app(name: str, samples: list[float]) -> PDGraph:
    return PDGraph.from_dict(
        {
            "name": name,
            "entry": "work",
            "stages": {
                "work": {"kind": "tool", "backend": "pool", "seconds": {"samples": samples}}
            },
        }
    )


def make_core(policy: Policy, clock: Clock, models: AppModels | None = None) -> SchedulerCore:
    limits = BackendLimits(1, kind=StageKind.TOOL)
    return SchedulerCore(
        {"pool": limits, "side": BackendLimits(100, kind=StageKind.TOOL)},
        policy,
        clock,
        models=models,
    )


def admission_order(core: SchedulerCore, clock: Clock, setup: Callable[[], None]) -> list[str]:
    """Block the pool, run ``setup`` (which queues tasks), then drain one grant at a time."""
    core.start_run("blocker", "blocker")
    blocker = core.submit("blocker", "pool")
    assert [g.task_id for g in core.schedule()] == [blocker]
    setup()
    clock.now += 1
    core.release(blocker)
    order = []
    while grants := core.schedule():
        (grant,) = grants
        order.append(grant.run_id)
        clock.now += 1
        core.release(grant.task_id, Usage(seconds=0.0))
    return order


def queue(core: SchedulerCore, clock: Clock, run: str, app: str = "x", **kw: float) -> None:
    if run not in core.runs:
        core.start_run(
            run, app, deadline=kw.get("deadline"), true_remaining_s=kw.get("true_remaining_s")
        )
    clock.now += 1
    core.submit(run, "pool", stage="work")


def serve(core: SchedulerCore, run: str, seconds: float) -> None:
    """Give ``run`` some attained service on the side backend."""
    core.start_run(run, "x")
    task = core.submit(run, "side", stage="work")
    core.schedule()
    core.release(task, Usage(seconds=seconds))


def served_then_queued(core: SchedulerCore, clock: Clock) -> None:
    """Runs a, b, c with 0.5, 0.1 and 0.3 s of attained service, each queueing one task."""
    for run, seconds in [("a", 0.5), ("b", 0.1), ("c", 0.3)]:
        serve(core, run, seconds)
        queue(core, clock, run)


def test_fcfs_is_task_submission_order() -> None:
    clock = Clock()
    core = make_core(policy_named("fcfs"), clock)

    def setup() -> None:
        for run in "cab":
            queue(core, clock, run)

    assert admission_order(core, clock, setup) == ["c", "a", "b"]


def test_app_fcfs_is_run_arrival_order() -> None:
    clock = Clock()
    core = make_core(policy_named("app-fcfs"), clock)

    def setup() -> None:
        for run in "abc":
            core.start_run(run, "x")
            clock.now += 1
        for run in "cba":
            queue(core, clock, run)

    assert admission_order(core, clock, setup) == ["a", "b", "c"]


def test_vtc_is_least_service_received_first() -> None:
    clock = Clock()
    core = make_core(policy_named("vtc"), clock)

    assert admission_order(core, clock, lambda: served_then_queued(core, clock)) == [
        "b",
        "c",
        "a",
    ]


def test_plas_orders_by_attained_service_before_starvation() -> None:
    clock = Clock()
    core = make_core(Plas(min_wait_s=100.0, starvation_ratio=1000.0), clock)

    assert admission_order(core, clock, lambda: served_then_queued(core, clock)) == [
        "b",
        "c",
        "a",
    ]


def test_plas_promotes_a_starving_task() -> None:
    clock = Clock()
    core = make_core(Plas(min_wait_s=5.0, starvation_ratio=2.0), clock)

    def setup() -> None:
        serve(core, "heavy", 3.0)
        queue(core, clock, "heavy")  # waits from here: starves once wait >= 6 s
        clock.now += 10
        for run in "pq":
            queue(core, clock, run)

    assert admission_order(core, clock, setup)[0] == "heavy"


def gittins_vs_mean_models() -> AppModels:
    # "spiky": usually 1 s, sometimes 100 s (mean 25.75, Gittins rank 4/3);
    # "steady": always 10 s (mean 10, rank 10).
    models = AppModels()
    models.add("spiky", one_stage_app("spiky", [1, 1, 1, 100]))
    models.add("steady", one_stage_app("steady", [10]))
    return models


@pytest.mark.parametrize(("name", "first"), [("mean-srjf", "s2"), ("gittins", "s1")])
def test_gittins_and_mean_srjf_disagree_as_defined(name: str, first: str) -> None:
    clock = Clock()
    core = make_core(policy_named(name), clock, gittins_vs_mean_models())

    def setup() -> None:
        queue(core, clock, "s1", app="spiky")
        queue(core, clock, "s2", app="steady")

    assert admission_order(core, clock, setup)[0] == first


def test_oracle_uses_true_remaining_work() -> None:
    clock = Clock()
    core = make_core(policy_named("oracle"), clock)

    def setup() -> None:
        for run, remaining in [("a", 9.0), ("b", 2.0), ("c", 5.0)]:
            queue(core, clock, run, true_remaining_s=remaining)

    assert admission_order(core, clock, setup) == ["b", "c", "a"]


@pytest.mark.parametrize("name", ["least-slack", "edf"])
def test_deadline_first_and_no_deadline_last(name: str) -> None:
    clock = Clock()
    core = make_core(policy_named(name), clock)

    def setup() -> None:
        queue(core, clock, "none")
        queue(core, clock, "late", deadline=100.0)
        queue(core, clock, "soon", deadline=20.0)

    assert admission_order(core, clock, setup) == ["soon", "late", "none"]


def test_aging_lets_a_long_waiting_task_overtake() -> None:
    clock = Clock()
    core = make_core(Aging(policy_named("gittins"), per_s=1.0), clock, gittins_vs_mean_models())

    def setup() -> None:
        queue(core, clock, "old", app="steady")  # rank 10, but it will have waited 20 s
        clock.now += 20
        queue(core, clock, "new", app="spiky")  # rank 4/3

    assert admission_order(core, clock, setup)[0] == "old"
    assert Aging(policy_named("gittins")).name == "gittins+aging"


def test_unknown_policy_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown policy 'sjf'; use one of"):
        policy_named("sjf")
