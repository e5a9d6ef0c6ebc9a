"""Remaining-demand sampling: exact cases, conditioning on progress, caching and cost folding."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from hermes_agents import CostModel, KVTier, LLMCost, PDGraph, RemainingDemand, ValidationError
from hermes_agents.pdgraph import Call, Learner, StageKind, Visit
from tests.pdgraph.graphs import app, tool_stage


def chain() -> PDGraph:
    return PDGraph.from_dict(
        app(
            "a",
            {
                "a": tool_stage(1.0, {"b": 1.0}),
                "b": tool_stage(2.0, {"c": 1.0}, fanout={"const": 3}),
                "c": tool_stage(4.0, {"END": 1.0}),
            },
        )
    )


def test_deterministic_chain_is_exact() -> None:
    demand = RemainingDemand(chain())
    assert set(demand.samples("a").tolist()) == {1 + 6 + 4}
    assert set(demand.samples("b").tolist()) == {6 + 4}
    assert set(demand.samples("c").tolist()) == {4}


def test_fanout_sums_work_or_takes_critical_path() -> None:
    assert RemainingDemand(chain()).mean("b") == 10
    assert RemainingDemand(chain(), CostModel(fanout="max")).mean("b") == 6


def test_geometric_loop_matches_its_expectation() -> None:
    graph = PDGraph.from_dict(app("t", {"t": tool_stage(1.0, {"t": 0.8, "END": 0.2})}))
    samples = RemainingDemand(graph, walks=20000).samples("t")
    assert samples.mean() == pytest.approx(5.0, rel=0.03)  # 1 / 0.2 visits of 1 s


def test_llm_cost_uses_backend_profile_and_kv_tier() -> None:
    stage: dict[str, Any] = {
        "kind": "llm",
        "backend": "gpu0",
        "prompt_tokens": {"const": 1000},
        "output_tokens": {"const": 10},
        "prefix_tokens": {"const": 800},
    }
    graph = PDGraph.from_dict(app("x", {"x": stage}))
    on_gpu = LLMCost(prefill_s_per_token=1e-3, decode_s_per_token=0.1)
    on_cpu = LLMCost(prefill_s_per_token=1e-3, decode_s_per_token=0.1, kv_tier=KVTier.CPU)
    assert RemainingDemand(graph, CostModel(llm={"gpu0": on_gpu})).mean("x") == pytest.approx(
        200 * 1e-3 + 10 * 0.1
    )
    cpu_mean = RemainingDemand(graph, CostModel(llm={"gpu0": on_cpu})).mean("x")
    assert cpu_mean == pytest.approx(
        200 * 1e-3 + 800 * on_cpu.kv_load_s_per_token[KVTier.CPU] + 10 * 0.1
    )


def fixed_loop(turns: int) -> PDGraph:
    learner = Learner("loop")
    for _ in range(60):
        learner.observe([Visit("t", StageKind.TOOL, "x", (Call(seconds=1.0),))] * turns)
    return learner.graph()


def test_conditioning_on_visits_predicts_a_fixed_loop() -> None:
    demand = RemainingDemand(fixed_loop(5), walks=4000)
    means = [demand.mean("t", {"t": k}) for k in range(1, 6)]
    for k, mean in enumerate(means, start=1):
        assert mean == pytest.approx(6 - k, abs=0.25)
    ranks = [demand.rank("t", {"t": k}) for k in range(1, 6)]
    assert ranks == sorted(ranks, reverse=True)


def test_rank_conditions_on_work_done_in_the_stage() -> None:
    graph = PDGraph.from_dict(
        app("a", {"a": {"kind": "tool", "backend": "t", "seconds": {"samples": [1, 10]}}})
    )
    demand = RemainingDemand(graph)
    short = float((demand.samples("a") == 1).mean())
    # Best quantum D = 1: E[min(S, 1)] = 1 over P(S <= 1) = the share of short samples.
    assert demand.rank("a") == pytest.approx(1 / short)
    assert demand.rank("a", done_in_stage_s=5.0) == pytest.approx(5.0)


def test_cache_hits_and_query_order_do_not_change_results() -> None:
    graph = PDGraph.from_dict(
        app(
            "t",
            {
                "t": tool_stage(1.0, {"t": 0.5, "END": 0.5}),
            },
        )
    )
    first = RemainingDemand(graph, seed=9)
    second = RemainingDemand(graph, seed=9)
    a = first.samples("t")
    assert first.samples("t") is a
    assert first.table("t") is first.table("t")
    assert np.array_equal(second.samples("t"), a)
    assert not np.array_equal(RemainingDemand(graph, seed=10).samples("t"), a)


def test_cache_is_bounded() -> None:
    demand = RemainingDemand(fixed_loop(5), cache_size=2)
    for k in range(1, 6):
        demand.samples("t", {"t": k})
    assert len(demand._cache) == 2


def test_runaway_walks_are_capped_and_counted() -> None:
    graph = PDGraph.from_dict(app("t", {"t": tool_stage(1.0, {"t": 0.999, "END": 0.001})}))
    demand = RemainingDemand(graph, walks=100, max_steps=50)
    assert demand.samples("t").max() <= 50
    assert demand.truncated_walks > 90


def test_unknown_stage_is_named() -> None:
    with pytest.raises(ValidationError, match="stage 'zz'"):
        RemainingDemand(chain()).samples("zz")
