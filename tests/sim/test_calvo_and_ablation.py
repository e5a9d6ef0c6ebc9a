"""The CALVO micro-benchmark's orderings, and the ablation's class-level ranks."""

from __future__ import annotations

import pytest

from hermes_agents.cost import LLMCost
from hermes_agents.sim.calvo import KINDS, compare, estimate_s
from hermes_agents.sim.demand import ProfiledModels
from hermes_agents.sim.kv import KvMode
from hermes_agents.sim.simulator import scheduler_cost
from hermes_agents.workloads import builtin


def test_prefill_only_pricing_makes_the_remote_long_request_look_cheapest() -> None:
    profile = LLMCost()
    prefill = {name: estimate_s("prefill", kind, profile) for name, kind in KINDS.items()}
    aware = {name: estimate_s("load-aware", kind, profile) for name, kind in KINDS.items()}
    assert min(prefill, key=prefill.__getitem__) == "remote-long"
    assert max(aware, key=aware.__getitem__) == "remote-long"


@pytest.mark.parametrize(("mode", "rate"), [(KvMode.COUPLED, 3.5), (KvMode.OVERLAP, 4.0)])
def test_prefill_ordering_is_worse_than_fifo_and_load_aware_is_best(
    mode: KvMode, rate: float
) -> None:
    ttft = compare(kv_mode=mode, seeds=3, requests=500, rate_per_s=rate)
    assert ttft["prefill"] > ttft["fifo"] > ttft["load-aware"]


def test_class_rank_ignores_the_position_and_conditions_on_service_only() -> None:
    mix = builtin("paper-mix")
    models = ProfiledModels(mix.apps, scheduler_cost(mix, "sum"))
    demand = models.demand("react_alfw")
    assert demand is not None
    assert models.class_rank("react_alfw") == pytest.approx(demand.rank("thought"))
    assert models.class_rank("react_alfw", 30.0) != pytest.approx(models.class_rank("react_alfw"))
    assert models.stage_mean_s("hugginggpt", "dnn_execution") == pytest.approx(
        mix.apps["hugginggpt"].stages["dnn_execution"].seconds.mean  # type: ignore[union-attr]
    )
