"""The whole simulator: determinism, fairness between policies, metrics, backend wiring."""

from __future__ import annotations

import numpy as np
import pytest

from hermes_agents.errors import ValidationError
from hermes_agents.pdgraph import StageKind, Workload
from hermes_agents.sim import ArrivalProcess, ArrivalSpec, SimConfig, draw_plans, simulate
from hermes_agents.sim.apps import AppRun
from hermes_agents.sim.arrivals import scaled, unit_arrivals
from hermes_agents.sim.demand import ProfiledModels
from hermes_agents.sim.plans import AppPlan, CallPlan, VisitPlan
from hermes_agents.sim.pools import Pool
from hermes_agents.sim.simulator import Simulation, scheduler_cost
from hermes_agents.workloads import builtin
from tests.sim.workloads import plan, pool_workload, tool_app

MIX = builtin("paper-mix")


def test_a_seed_reproduces_every_completion_time() -> None:
    config = SimConfig(policy="gittins", load=2.0, seed=7, apps=60)
    first, second = simulate(MIX, config), simulate(MIX, config)
    np.testing.assert_array_equal(first.act_s, second.act_s)
    assert first.classes == second.classes
    assert first.events == second.events
    other = simulate(MIX, SimConfig(policy="gittins", load=2.0, seed=8, apps=60))
    assert not np.array_equal(first.act_s, other.act_s)


def test_every_policy_and_load_of_a_seed_serves_the_same_apps() -> None:
    results = [
        simulate(MIX, SimConfig(policy=policy, load=load, seed=3, apps=40))
        for policy in ("fcfs", "oracle")
        for load in (1.0, 3.0)
    ]
    assert len({r.classes for r in results}) == 1
    assert all(bool((r.act_s > 0).all()) for r in results)


def test_unit_arrivals_have_unit_rate_and_load_compresses_them() -> None:
    rng = np.random.default_rng(0)
    poisson = unit_arrivals(20_000, ArrivalSpec(), rng)
    assert poisson[-1] / poisson.size == pytest.approx(1.0, rel=0.03)
    bursty = unit_arrivals(20_000, ArrivalSpec(ArrivalProcess.BURSTY, burst_cv=3.0), rng)
    gaps = np.diff(bursty)
    assert gaps.mean() == pytest.approx(1.0, rel=0.1)
    assert gaps.std() / gaps.mean() == pytest.approx(3.0, rel=0.15)
    np.testing.assert_allclose(scaled(poisson, 0.5, 4.0), poisson / 2.0)


def test_a_bad_arrival_process_or_prewarm_mode_is_a_clear_error() -> None:
    with pytest.raises(ValidationError, match="unknown arrival process"):
        ArrivalSpec("weibull")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="--prewarm: unknown prewarm mode 'warm'; use one of"):
        SimConfig(prewarm="warm")
    with pytest.raises(ValidationError, match="--prewarm-k"):
        SimConfig(prewarm="hermes", prewarm_k=0.0)
    with pytest.raises(ValidationError, match="--load"):
        SimConfig(load=0.0)


def calls(*costs: float) -> tuple[CallPlan, ...]:
    return tuple(CallPlan(0, 0, 0, cost, cost) for cost in costs)


def test_true_remaining_work_sums_or_maxes_parallel_calls() -> None:
    visits = (
        VisitPlan("fan", "pool", StageKind.TOOL, calls(1.0, 2.0, 3.0)),
        VisitPlan("last", "pool", StageKind.TOOL, calls(4.0)),
    )
    app = AppPlan(0, "a", 0.0, visits)
    total, path = AppRun(app, 0.0, "sum"), AppRun(app, 0.0, "max")
    assert (total.total_s, path.total_s) == (10.0, 7.0)
    for run in (total, path):
        run.next_visit()
        run.call_done(visits[0].calls[2], 0.0)  # the 3 s call is back
    assert (total.remaining_s(), path.remaining_s()) == (7.0, 6.0)


def test_the_pool_never_runs_more_than_the_backend_allows() -> None:
    workload = pool_workload({"a": tool_app([1.0, 2.0, 3.0])}, capacity=2)
    cost = scheduler_cost(workload, "sum")
    plans = draw_plans(workload, 50, 0, ArrivalSpec(), cost)
    config = SimConfig(policy="fcfs", load=5.0)
    simulation = Simulation(workload, config, plans, ProfiledModels(workload.apps, cost))
    simulation.run()
    pool = simulation.backends.servers["pool"]
    assert isinstance(pool, Pool)
    assert pool.peak_busy == 2


def cold_workload() -> Workload:
    return Workload.from_dict(
        {
            "name": "cold",
            "apps": {"a": tool_app([1.0])},
            "backends": {
                "pool": {
                    "kind": "tool",
                    "max_concurrency": 1,
                    "cold_start_s": 5,
                    "idle_sleep_s": 10,
                }
            },
            "arrivals": {"process": "poisson", "rate_per_s": 1.0, "count": 3},
        }
    )


def test_cold_starts_and_warm_waste_reach_the_results() -> None:
    # app 0 at 0: wakes 0-5, runs 5-6; app 1 at 8: warm, runs 8-9; sleeps at 19;
    # app 2 at 30: wakes 30-35, runs 35-36; sleeps at 46.
    plans = [plan(0, "a", 0.0, ("work", 1.0)), plan(1, "a", 8.0, ("work", 1.0))]
    plans.append(plan(2, "a", 30.0, ("work", 1.0)))
    result = simulate(cold_workload(), SimConfig(policy="fcfs"), plans=plans)
    assert result.act_s.tolist() == pytest.approx([6.0, 1.0, 6.0])
    assert result.cold_wait_s.tolist() == pytest.approx([5.0, 0.0, 5.0])
    assert result.wakeups == 2
    assert result.warm_waste_s == pytest.approx(2.0 + 10.0 + 10.0)
    assert result.makespan_s == pytest.approx(36.0)
