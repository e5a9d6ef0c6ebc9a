"""Tests for hermes_agents.cost: the cost formula, calibration, config parsing, CostModel."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.typing import NDArray

from hermes_agents.cost import (
    LLM_COST_FIELDS,
    CostModel,
    KVTier,
    LLMCost,
    combine_fanout,
)
from hermes_agents.cost_fit import CallObservation, fit
from hermes_agents.errors import ValidationError

# --- the CALVO example -------------------------------------------------------------------------


def _mean_sequential_ttft(ttfts: NDArray[np.float64], order: NDArray[np.intp]) -> float:
    """Mean TTFT when requests are served one after the other in ``order``, all arriving at 0."""
    return float(np.mean(np.cumsum(ttfts[order])))


def test_calvo_load_aware_order_beats_compute_only_order() -> None:
    cost = LLMCost(prefill_s_per_token=1e-4, kv_load_s_per_token={KVTier.REMOTE: 1e-5})
    prompt = np.array([36100 + 190, 19900 + 250])  # A, B
    cached = np.array([36100, 19900])
    ttft = cost.ttft_seconds(prompt, cached, KVTier.REMOTE)
    np.testing.assert_allclose(ttft, [0.361 + 0.019, 0.199 + 0.025])
    compute_only = cost.prefill_s_per_token * (prompt - cached)
    by_compute = np.argsort(compute_only, kind="stable")
    by_ttft = np.argsort(ttft, kind="stable")
    assert by_compute.tolist() == [0, 1]
    assert by_ttft.tolist() == [1, 0]  # load-aware: A after B
    assert _mean_sequential_ttft(ttft, by_compute) == pytest.approx(0.49, abs=0.005)
    assert _mean_sequential_ttft(ttft, by_ttft) == pytest.approx(0.41, abs=0.005)


# --- the formula -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tier", "load_rate"), [(KVTier.GPU, 0.0), (KVTier.CPU, 2e-5), (KVTier.REMOTE, 6e-5)]
)
def test_seconds_by_hand_for_each_tier(tier: KVTier, load_rate: float) -> None:
    cost = LLMCost(request_s=0.5)
    expected = 0.5 + load_rate * 800 + 1e-4 * 200 + 0.06 * 10
    assert cost.seconds_one(1000, 10, 800, tier) == pytest.approx(expected, rel=1e-12)
    assert float(cost.ttft_seconds(1000, 800, tier)) == pytest.approx(expected - 0.6, rel=1e-12)


def test_default_tier_is_used_when_call_does_not_say() -> None:
    cost = LLMCost(kv_tier=KVTier.REMOTE)
    assert cost.seconds_one(1000, 0, 1000) == pytest.approx(6e-5 * 1000)
    assert cost.seconds_one(1000, 0, 1000, KVTier.GPU) == 0.0


def test_defaults_match_documented_profile() -> None:
    cost = LLMCost()
    assert (cost.prefill_s_per_token, cost.decode_s_per_token, cost.request_s) == (1e-4, 0.06, 0)
    assert dict(cost.kv_load_s_per_token) == {"gpu": 0.0, "cpu": 2e-5, "remote": 6e-5}
    assert cost.kv_tier is KVTier.GPU


def test_cached_tokens_beyond_prompt_are_clipped() -> None:
    cost = LLMCost()
    assert cost.seconds_one(100, 0, 500, KVTier.CPU) == pytest.approx(2e-5 * 100)


def test_seconds_broadcasts_and_keeps_zero_d() -> None:
    cost = LLMCost()
    out = cost.seconds(np.array([[100], [200]]), np.array([1, 2, 3]))
    assert out.shape == (2, 3)
    assert out.dtype == np.float64
    assert out[1, 2] == pytest.approx(1e-4 * 200 + 0.06 * 3)
    zero_d = cost.seconds(100, 1)
    assert isinstance(zero_d, np.ndarray)
    assert zero_d.shape == ()
    assert cost.seconds_one(100, 1, 50, KVTier.CPU) == float(cost.seconds(100, 1, 50, KVTier.CPU))


def test_negative_tokens_rejected() -> None:
    with pytest.raises(ValidationError, match="output_tokens"):
        LLMCost().seconds(10, -1)


def test_load_mapping_is_immutable_and_hashable() -> None:
    source = {KVTier.CPU: 1e-5}
    cost = LLMCost(kv_load_s_per_token=source)
    source[KVTier.CPU] = 9.0
    assert cost.kv_load_s_per_token[KVTier.CPU] == 1e-5
    assert cost.kv_load_s_per_token[KVTier.REMOTE] == 6e-5  # missing tier takes the default
    with pytest.raises(TypeError):
        cost.kv_load_s_per_token[KVTier.CPU] = 2.0  # type: ignore[index]
    assert hash(cost) == hash(LLMCost(kv_load_s_per_token={KVTier.CPU: 1e-5}))
    assert cost == LLMCost(kv_load_s_per_token={KVTier.CPU: 1e-5})
    assert cost != LLMCost()


@pytest.mark.parametrize("field", ["prefill_s_per_token", "decode_s_per_token", "request_s"])
@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf])
def test_constructor_rejects_bad_rates(field: str, bad: float) -> None:
    kwargs: dict[str, Any] = {field: bad}
    with pytest.raises(ValidationError, match=f"field '{field}'"):
        LLMCost(**kwargs)


# --- fit ---------------------------------------------------------------------------------------


def _synthetic(
    truth: LLMCost, rng: np.random.Generator, n: int, noise: float
) -> list[CallObservation]:
    tiers = rng.choice(np.array(list(KVTier)), size=n)
    prompt = rng.integers(500, 20_000, size=n)
    cached = (prompt * rng.uniform(0, 0.9, size=n)).astype(int)
    output = rng.integers(5, 200, size=n)
    exact = [
        truth.seconds_one(p, o, c, KVTier(t))
        for p, o, c, t in zip(prompt, output, cached, tiers, strict=True)
    ]
    seconds = np.array(exact) * (1 + noise * rng.standard_normal(n))
    return [
        CallObservation(int(p), int(o), float(s), int(c), KVTier(t))
        for p, o, s, c, t in zip(prompt, output, seconds, cached, tiers, strict=True)
    ]


def test_fit_recovers_known_coefficients() -> None:
    truth = LLMCost(
        prefill_s_per_token=1.2e-4,
        decode_s_per_token=0.01,
        kv_load_s_per_token={KVTier.GPU: 0.0, KVTier.CPU: 3e-5, KVTier.REMOTE: 7e-5},
        request_s=0.2,
    )
    observations = _synthetic(truth, np.random.default_rng(7), 200, 0.02)
    got = fit(observations)
    assert got.prefill_s_per_token == pytest.approx(truth.prefill_s_per_token, rel=0.05)
    assert got.decode_s_per_token == pytest.approx(truth.decode_s_per_token, rel=0.05)
    for tier in (KVTier.CPU, KVTier.REMOTE):
        assert got.kv_load_s_per_token[tier] == pytest.approx(
            truth.kv_load_s_per_token[tier], rel=0.05
        )
    assert got.request_s == pytest.approx(truth.request_s, rel=0.05)
    assert got.kv_load_s_per_token[KVTier.GPU] >= 0.0


def test_fit_keeps_coefficients_non_negative() -> None:
    rng = np.random.default_rng(3)
    prompt = rng.integers(100, 5000, size=50)
    output = rng.integers(1, 100, size=50)
    # true decode rate is 0, but a noise term anti-correlated with output drags lstsq below 0
    seconds = 0.5 + 1e-4 * prompt - 1e-3 * output + 0.01 * rng.standard_normal(50)
    design = np.column_stack([np.ones(50), prompt, output]).astype(np.float64)
    plain = np.linalg.lstsq(design, seconds, rcond=None)[0]
    assert plain[2] < 0  # the case under test: plain least squares goes negative
    got = fit(
        [
            CallObservation(int(p), int(o), float(s))
            for p, o, s in zip(prompt, output, seconds, strict=True)
        ]
    )
    assert got.decode_s_per_token == 0.0
    assert got.prefill_s_per_token > 0
    assert got.request_s >= 0
    # with decode pinned at 0 the rest is least squares on the remaining columns
    refit = np.linalg.lstsq(design[:, :2], seconds, rcond=None)[0]
    assert got.prefill_s_per_token == pytest.approx(refit[1], rel=1e-6)
    assert got.request_s == pytest.approx(refit[0], rel=1e-6)


def test_fit_unseen_features_keep_base_values() -> None:
    base = LLMCost(
        kv_load_s_per_token={KVTier.REMOTE: 9e-5}, decode_s_per_token=0.03, kv_tier=KVTier.CPU
    )
    truth = LLMCost(prefill_s_per_token=2e-4, kv_load_s_per_token={KVTier.CPU: 1e-5})
    observations = [
        CallObservation(p, 0, truth.seconds_one(p, 0, c, KVTier.CPU), c, KVTier.CPU)
        for p, c in [(1000, 0), (2000, 500), (3000, 2500), (4000, 1000), (500, 100)]
    ]
    got = fit(observations, base)
    assert got.kv_load_s_per_token[KVTier.REMOTE] == 9e-5
    assert got.kv_load_s_per_token[KVTier.GPU] == 0.0
    assert got.decode_s_per_token == 0.03
    assert got.kv_tier is KVTier.CPU
    assert got.prefill_s_per_token == pytest.approx(2e-4, rel=1e-6)
    assert got.kv_load_s_per_token[KVTier.CPU] == pytest.approx(1e-5, rel=1e-6)


def test_fit_too_few_observations() -> None:
    observations = [CallObservation(100, 10, 1.0), CallObservation(200, 20, 2.0)]
    with pytest.raises(ValidationError, match=r"argument 'observations'.*at least 3"):
        fit(observations)
    with pytest.raises(ValidationError, match="observations"):
        fit([])


def test_fit_rank_deficient_names_feature_to_vary() -> None:
    # every call has the same prompt length: prefill is confounded with request_s
    observations = [CallObservation(1000, o, 0.1 + 0.01 * o) for o in (1, 5, 9, 20, 40)]
    with pytest.raises(ValidationError, match="observations") as info:
        fit(observations)
    assert "vary uncached prompt tokens" in str(info.value)


# --- config form -------------------------------------------------------------------------------


def test_mapping_round_trip() -> None:
    cost = LLMCost(
        prefill_s_per_token=2e-4,
        decode_s_per_token=0.02,
        kv_load_s_per_token={KVTier.CPU: 1e-5},
        request_s=0.1,
        kv_tier=KVTier.REMOTE,
    )
    data = cost.to_mapping()
    assert set(data) == LLM_COST_FIELDS
    assert data["kv_tier"] == "remote"
    assert LLMCost.from_mapping(data) == cost


def test_from_mapping_partial_and_defaults() -> None:
    cost = LLMCost.from_mapping({"decode_s_per_token": 1, "kv_load_s_per_token": {"cpu": 0}})
    assert cost.decode_s_per_token == 1.0
    assert cost.kv_load_s_per_token[KVTier.CPU] == 0.0
    assert cost.kv_load_s_per_token[KVTier.REMOTE] == 6e-5
    assert cost.prefill_s_per_token == 1e-4


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"prefill": 1e-4}, "'prefill'"),
        ({"decode_s_per_token": True}, "field 'decode_s_per_token'"),
        ({"request_s": "0.1"}, "field 'request_s'"),
        ({"prefill_s_per_token": -1e-4}, "field 'prefill_s_per_token'"),
        ({"prefill_s_per_token": math.nan}, "field 'prefill_s_per_token'"),
        ({"kv_tier": "disk"}, "field 'kv_tier'"),
        ({"kv_load_s_per_token": {"disk": 1.0}}, "field 'kv_load_s_per_token'"),
        ({"kv_load_s_per_token": {"cpu": -1.0}}, "tier 'cpu'"),
        ({"kv_load_s_per_token": 1.0}, "field 'kv_load_s_per_token'"),
    ],
)
def test_from_mapping_rejects_bad_input(data: dict[str, object], named: str) -> None:
    with pytest.raises(ValidationError) as info:
        LLMCost.from_mapping(data, "backend 'llama'")
    assert named in str(info.value)
    assert info.value.location[0] == "backend 'llama'"


def test_unknown_key_error_lists_allowed_keys() -> None:
    with pytest.raises(ValidationError, match="allowed keys: decode_s_per_token"):
        LLMCost.from_mapping({"bogus": 1})


# --- CostModel ---------------------------------------------------------------------------------


def test_cost_model_backend_lookup() -> None:
    fast = LLMCost(decode_s_per_token=0.01)
    model = CostModel(llm={"fast": fast})
    assert model.for_backend("fast") is fast
    assert model.for_backend("other") == LLMCost()
    assert float(model.llm_seconds("fast", 0, 10)) == pytest.approx(0.1)
    assert float(model.llm_seconds("other", 0, 10)) == pytest.approx(0.6)
    np.testing.assert_allclose(model.llm_seconds("fast", [0, 0], [1, 2]), [0.01, 0.02])
    hash(model)


def test_cost_model_visit_sum_vs_max() -> None:
    calls = [0.5, 2.0, 1.0]
    assert CostModel().visit_seconds(calls) == pytest.approx(3.5)
    assert CostModel(fanout="max").visit_seconds(calls) == 2.0
    assert CostModel(fanout="max").visit_seconds([]) == 0.0
    assert combine_fanout(np.array(calls), "max") == 2.0


def test_cost_model_rejects_bad_input() -> None:
    with pytest.raises(ValidationError, match="fanout"):
        CostModel(fanout="mean")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="seconds"):
        CostModel().tool_seconds([1.0, -0.5])
    with pytest.raises(ValidationError, match="seconds"):
        CostModel().visit_seconds([math.nan])
    tools = CostModel().tool_seconds([1, 2])
    assert tools.dtype == np.float64


@given(
    st.integers(0, 100_000),
    st.integers(0, 10_000),
    st.integers(0, 100_000),
    st.sampled_from(list(KVTier)),
)
def test_one_call_in_floats_prices_exactly_like_the_vectorised_form(
    prompt: int, output: int, cached: int, tier: KVTier
) -> None:
    cost = LLMCost(request_s=0.01)
    assert cost.seconds_one(prompt, output, cached, tier) == float(
        cost.seconds(prompt, output, cached, tier)
    )


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf")])
def test_one_call_rejects_bad_token_counts(bad: float) -> None:
    with pytest.raises(ValidationError, match="prompt_tokens"):
        LLMCost().seconds_one(bad, 1)
