"""What limits deadline satisfaction (``hermes_agents.sim.deadline_limit``) on a small
paper-mix: the served-alone bound, the clairvoyant oracle, the deadline apps alone."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from hermes_agents.pdgraph import StageKind
from hermes_agents.scheduling.policies import NO_DEADLINE
from hermes_agents.scheduling.tiers import Tier
from hermes_agents.sim.deadline_limit import (
    ALONE,
    ALONE_FULL,
    DDL_NO_HEADROOM,
    ONLY_DDL,
    ONLY_ORACLE,
    ORACLE,
    ORACLE_ENGINE,
    ORACLE_KEEP,
    ORACLE_NO_HEADROOM,
    DeadlineLimit,
    DeadlineLimitSpec,
    DeadlineOracle,
    deadline_apps_only,
    full_batch_workload,
    measure_deadline_limit,
    wall_plans,
)
from hermes_agents.sim.plans import AppPlan, CallPlan, VisitPlan
from hermes_agents.sim.servers import EngineShape
from hermes_agents.sim.wall_cost import wall_cost
from hermes_agents.workloads import builtin

SPEC = DeadlineLimitSpec(apps=60, seeds=(0,), load=2.0, policies=("fcfs", "edf", "hermes-ddl"))
SAME_APPS = (
    ALONE_FULL,
    "fcfs",
    "edf",
    "hermes-ddl",
    DDL_NO_HEADROOM,
    ORACLE,
    ORACLE_NO_HEADROOM,
    ORACLE_KEEP,
    ORACLE_ENGINE,
)


@pytest.fixture(scope="module")
def limit() -> DeadlineLimit:
    return measure_deadline_limit(SPEC)


def test_every_row_serves_the_same_apps_and_deadlines(limit: DeadlineLimit) -> None:
    alone = limit.rows[ALONE]
    assert alone.act_s.size == 60
    for name in SAME_APPS:
        row = limit.rows[name]
        assert row.classes == alone.classes
        np.testing.assert_array_equal(row.deadlines_s, alone.deadlines_s)
    has = ~np.isnan(alone.deadlines_s)
    for name in (ONLY_DDL, ONLY_ORACLE):
        only = limit.rows[name]
        np.testing.assert_array_equal(only.deadlines_s, alone.deadlines_s[has])
        assert only.classes == tuple(np.asarray(alone.classes)[has].tolist())


def test_no_order_beats_the_apps_served_alone(limit: DeadlineLimit) -> None:
    alone = limit.rows[ALONE]
    has = ~np.isnan(alone.deadlines_s)
    for name in SAME_APPS:
        row = limit.rows[name]
        assert (row.act_s >= alone.act_s - 1e-9).all(), name  # app by app
        assert row.met <= alone.met
        assert row.counts(None)[1] == alone.counts(None)[1] > 0
    for name in (ONLY_DDL, ONLY_ORACLE):
        assert (limit.rows[name].act_s >= alone.act_s[has] - 1e-9).all(), name
    full = limit.rows[ALONE_FULL]
    assert (full.act_s >= alone.act_s - 1e-9).all()  # a full batch's steps are longer


def test_the_oracle_meets_at_least_what_hermes_ddl_meets(limit: DeadlineLimit) -> None:
    # on these runs; not a theorem: least slack is not optimal once the engine is overloaded
    assert limit.rows[ORACLE].met >= limit.rows["hermes-ddl"].met
    assert limit.rows[ORACLE_NO_HEADROOM].met >= limit.rows[DDL_NO_HEADROOM].met
    assert limit.rows[ONLY_ORACLE].met >= limit.rows[ONLY_DDL].met
    # the deadline-free apps cost the others though they rank after them; headroom wins some
    assert limit.rows[ONLY_DDL].met > limit.rows[DDL_NO_HEADROOM].met
    assert limit.rows["hermes-ddl"].met >= limit.rows[DDL_NO_HEADROOM].met
    assert limit.rows["hermes-ddl"].met > limit.rows["fcfs"].met


def test_by_class_adds_up_and_names_the_lost_deadlines(limit: DeadlineLimit) -> None:
    table = limit.by_class()
    overall = table.pop("all")
    for row in limit.rows:
        assert sum(cells[row][0] for cells in table.values()) == overall[row][0]
        assert sum(cells[row][1] for cells in table.values()) == overall[row][1]
    free = np.isnan(limit.rows[ALONE].deadlines_s)
    assert limit.rows["fcfs"].free_mean_s == pytest.approx(limit.rows["fcfs"].act_s[free].mean())
    assert limit.rows[ONLY_DDL].free_mean_s is None  # every app there has a deadline
    lost = [limit.lost(name) for name in table]
    assert lost == sorted(lost, reverse=True)
    assert sum(lost) == limit.lost(None)


@dataclass(frozen=True)
class _Run:
    deadline: float | None
    true_remaining_s: float | None


@dataclass(frozen=True)
class _Task:
    submitted_at: float = 0.0
    estimate_s: float = 1.0


def _priority(oracle: DeadlineOracle, run: _Run, now: float = 0.0) -> float:
    return oracle.priority(_Task(), run, now)  # type: ignore[arg-type]


def test_the_oracle_is_the_latest_start_and_demotes_runs_that_cannot_make_it() -> None:
    oracle = DeadlineOracle()
    assert _priority(oracle, _Run(20.0, 5.0)) == 15.0  # deadline - true remaining
    assert _priority(oracle, _Run(20.0, 5.0), now=10.0) == 15.0  # the same at any time
    assert _priority(oracle, _Run(20.0, 5.0), now=16.0) == NO_DEADLINE + 5.0  # late
    assert _priority(oracle, _Run(None, 3.0)) == NO_DEADLINE + 3.0
    assert _priority(DeadlineOracle(demote=False), _Run(20.0, 5.0), now=16.0) == 15.0
    late = oracle.recheck(_Task(), _Run(20.0, 5.0), 16.0, 15.0)  # type: ignore[arg-type]
    assert late == NO_DEADLINE + 5.0
    assert oracle.recheck(_Task(), _Run(20.0, 5.0), 10.0, 15.0) is None  # type: ignore[arg-type]
    with pytest.raises(Exception, match="true remaining"):
        _priority(oracle, _Run(20.0, None))


def _plan(index: int, deadline_s: float | None) -> AppPlan:
    call = CallPlan(300, 100, 0, 0.0, 6.03)
    llm = VisitPlan("s", "llm", StageKind.LLM, (call,))
    return AppPlan(index, "x", float(index), (llm,), deadline_s, Tier.STANDARD)


def test_wall_plans_price_llm_calls_in_wall_seconds_and_keep_the_rest() -> None:
    mix = builtin("paper-mix")
    wall = wall_cost(mix, EngineShape())
    (timed,) = wall_plans([_plan(0, 5.0)], wall)
    (call,) = timed.visits[0].calls
    assert call.cost_s == pytest.approx(wall.for_backend("llm").seconds_one(300, 100))
    assert call.cost_s < 6.03  # the profile's 0.06 s a token against 25 ms
    assert (call.prompt_tokens, call.output_tokens, timed.deadline_s) == (300, 100, 5.0)
    only = deadline_apps_only([_plan(0, None), _plan(1, 5.0), _plan(2, 7.0)])
    assert [(p.index, p.deadline_s, p.unit_arrival) for p in only] == [(0, 5.0, 1.0), (1, 7.0, 2.0)]


def test_the_full_batch_workload_prices_decode_at_the_windows_step() -> None:
    mix = builtin("paper-mix")
    full = full_batch_workload(mix, EngineShape())
    cost = full.backends["llm"].cost
    assert cost is not None
    assert cost.decode_s_per_token == pytest.approx(0.0251, abs=1e-4)
    assert full.backends["docker"] == mix.backends["docker"]
