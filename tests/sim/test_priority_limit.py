"""The floors of engine priority (``hermes_agents.sim.priority_limit``) on a small paper-mix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hermes_agents.scheduling import BackendLimits, SchedulerCore, policy_named
from hermes_agents.sim.enforce import Capacity, EnginePriorities
from hermes_agents.sim.llm import EngineParams
from hermes_agents.sim.priority_limit import (
    BEST_ORDERS,
    PriorityLimit,
    PriorityLimitSpec,
    full_batch_workload_file,
    measure_limit,
)
from hermes_agents.workloads import builtin

SPEC = PriorityLimitSpec(apps=40, seeds=(0,), load=2.0)


@pytest.fixture(scope="module")
def limit() -> PriorityLimit:
    return measure_limit(SPEC)


def test_no_order_beats_the_apps_served_alone(limit: PriorityLimit) -> None:
    assert len(limit.orders) == len(BEST_ORDERS)
    assert {"gittins sum", "oracle sum", "oracle max", "oracle sum exact"} == set(limit.orders)
    for summary in (*limit.orders.values(), limit.fcfs):
        assert summary.apps == 40
        assert summary.mean_s > limit.alone.mean_s
    assert limit.alone.mean_s < limit.alone_full_batch.mean_s  # a full batch's steps are longer
    assert limit.orders[limit.best].mean_s == min(s.mean_s for s in limit.orders.values())
    mean, p95 = limit.reach(limit.alone)
    assert mean == pytest.approx(1 - limit.alone.mean_s / limit.fcfs.mean_s)
    assert 0 < mean < 1
    assert 0 < p95 < 1


def test_the_class_gaps_add_up_to_the_best_orders_excess(limit: PriorityLimit) -> None:
    excess = limit.orders[limit.best].mean_s - limit.alone.mean_s
    assert sum(gap.adds_s for gap in limit.classes) == pytest.approx(excess)
    assert sum(gap.apps for gap in limit.classes) == 40
    assert [gap.adds_s for gap in limit.classes] == sorted(
        (gap.adds_s for gap in limit.classes), reverse=True
    )
    assert 0 < limit.full_batch_share <= 1
    assert 0 < limit.busy_share <= 1


def test_the_full_batch_workload_file_fixes_each_step_at_a_full_batchs(tmp_path: Path) -> None:
    data = json.loads(full_batch_workload_file(SPEC, tmp_path).read_text())
    step_s = EngineParams().step_s(SPEC.max_num_seqs)  # the default engine is paper-mix's
    assert data["backends"]["llm"]["decode_s_per_token"] == pytest.approx(step_s)
    assert data["backends"]["docker"] == {"kind": "tool", "max_concurrency": 8}


def test_exact_priorities_send_the_rank_itself() -> None:
    mix = builtin("paper-mix")
    core = SchedulerCore({"llm": BackendLimits(10)}, policy_named("mean-srjf"), lambda: 0.0)
    exact = EnginePriorities(core, mix.backends, Capacity("engine", exact_priorities=True))
    bucketed = EnginePriorities(core, mix.backends, Capacity("engine"))
    for run, estimate_s in (("a", 100.0), ("b", 104.0)):  # 4% apart: one bucket
        core.start_run(run, "one-call")
        core.submit(run, "llm", estimate_s=estimate_s)
    grants = core.step().grants
    assert [exact.of(g) for g in grants] == [100.0, 104.0]
    assert len({bucketed.of(g) for g in grants}) == 1
