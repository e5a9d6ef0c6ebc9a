"""Tests for hermes_agents.gittins against an independent brute-force definition."""

from __future__ import annotations

import math
from itertools import pairwise
from statistics import NormalDist

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from hermes_agents.errors import ValidationError
from hermes_agents.gittins import GittinsTable, gittins_rank

FAST = settings(max_examples=300, deadline=None, derandomize=True)
EPS = float(np.finfo(np.float64).eps)


def brute_rank(samples: list[float], attained: float, min_share: float = 0.0) -> float:
    """The definition: inf over D of E[min(R, D)] / P(R <= D), R the remaining work of survivors.

    Only D at a survivor value (where P jumps) or D = inf (the mean) can attain the infimum.
    With ``min_share``, D ranges over quanta at least the ceil(min_share * m)-th smallest
    survivor (they finish at least that share of the survivors).
    """
    remaining = [s - attained for s in samples if s > attained]
    if not remaining:
        return attained
    m = len(remaining)
    smallest_quantum = sorted(remaining)[max(1, math.ceil(min_share * m - 1e-9)) - 1]
    best = math.fsum(remaining) / m
    for d in {r for r in remaining if r >= smallest_quantum}:
        cost = math.fsum(min(r, d) for r in remaining) / m
        done = sum(1 for r in remaining if r <= d) / m
        best = min(best, cost / done)
    return best


def table_tolerance(samples: list[float]) -> float:
    """Absolute error the table may add: prefix sums round at about n * eps * sum(samples)."""
    return 8.0 * len(samples) * EPS * math.fsum(samples)


values = st.one_of(
    st.just(0.0),
    st.integers(0, 1000).map(float),
    st.floats(min_value=1e-3, max_value=1e6),  # no subnormals: they lose relative precision
)


@st.composite
def sample_lists(draw: st.DrawFn) -> list[float]:
    """Sample lists, half of them drawn from a small pool so that ties are common."""
    if draw(st.booleans()):
        pool = draw(st.lists(values, min_size=1, max_size=5))
        return draw(st.lists(st.sampled_from(pool), min_size=1, max_size=40))
    return draw(st.lists(values, min_size=1, max_size=40))


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[float], float]:
    """(samples, attained) with attained inside, at, just below, or beyond the samples."""
    samples = draw(sample_lists())
    top = max(samples)
    at_sample = st.sampled_from(samples)
    attained = draw(
        st.one_of(
            st.just(0.0),
            at_sample,
            at_sample.map(lambda s: float(np.nextafter(s, 0.0))),
            st.floats(min_value=0.0, max_value=top * 1.5 + 1.0),
            st.floats(min_value=top, max_value=top * 4.0 + 10.0),
        )
    )
    return samples, attained


@FAST
@given(cases(), st.sampled_from([0.0, 0.1, 0.25, 0.5]))
def test_matches_brute_force(case: tuple[list[float], float], share: float) -> None:
    samples, attained = case
    expected = brute_rank(samples, attained, share)
    rank = gittins_rank(samples, attained, min_share=share)
    assert rank == pytest.approx(expected, rel=1e-9, abs=0.0)
    table = GittinsTable(samples, min_share=share)
    tol = table_tolerance(samples)
    assert table.rank(attained) == pytest.approx(expected, rel=1e-9, abs=tol)
    many = table.ranks([attained, 0.0, attained])
    assert many[0] == table.rank(attained)
    assert many[1] == pytest.approx(brute_rank(samples, 0.0, share), rel=1e-9, abs=tol)


def test_default_quantum_floor_tames_sampling_noise() -> None:
    """Random exponential samples (true rank 3 at every age): the literal infimum on 1000
    samples falls far below 3; with the default 10% quantum floor it stays close."""
    literal, floored = [], []
    for seed in range(20):
        samples = np.random.default_rng(seed).exponential(3.0, 1000)
        literal.append(gittins_rank(samples, 0.0, min_share=0.0))
        floored.append(gittins_rank(samples, 0.0))
        assert GittinsTable(samples).rank(1.0) == pytest.approx(3.0, rel=0.3)
    assert float(np.mean(literal)) < 2.0
    assert float(np.mean(floored)) == pytest.approx(3.0, rel=0.1)
    assert min(floored) > 2.0


def test_min_share_is_validated() -> None:
    with pytest.raises(ValidationError, match="argument 'min_share'"):
        gittins_rank([1.0], min_share=1.0)
    with pytest.raises(ValidationError, match="argument 'min_share'"):
        GittinsTable([1.0], min_share=-0.1)


@FAST
@given(
    st.floats(min_value=1e-3, max_value=1e6),
    st.integers(1, 50),
    st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
)
def test_constant_size_ranks_remaining_work(size: float, n: int, share: float) -> None:
    attained = size * share
    assume(attained < size)
    assert gittins_rank([size] * n, attained) == pytest.approx(size - attained, rel=1e-12)
    table = GittinsTable(np.full(n, size))
    assert table.rank(attained) == pytest.approx(size - attained, rel=1e-9, abs=1e-12 * n * size)


@FAST
@given(cases(), st.floats(min_value=1e-2, max_value=1e2))
def test_scaling_time_scales_rank(case: tuple[list[float], float], factor: float) -> None:
    samples, attained = case
    # Keep the order between attained and each sample robust to rounding of the scaled values.
    assume(all(s == attained or abs(s - attained) > 1e-9 * max(s, attained) for s in samples))
    scaled = [factor * s for s in samples]
    expected = factor * gittins_rank(samples, attained)
    assert gittins_rank(scaled, factor * attained) == pytest.approx(expected, rel=1e-9)


def test_worked_example() -> None:
    assert gittins_rank([1, 1, 10]) == 1.5
    assert gittins_rank([1, 1, 10], attained=1.0) == 9.0
    assert gittins_rank([1, 1, 10], attained=5) == 5.0
    assert gittins_rank((10, 1, 1), attained=12.0) == 12.0
    table = GittinsTable(np.array([10, 1, 1]))
    assert [table.rank(a) for a in (0.0, 1.0, 5.0, 12.0)] == [1.5, 9.0, 5.0, 12.0]
    assert (table.size, table.mean, table.max_sample) == (3, 4.0, 10.0)


def test_rank_drops_just_before_an_observed_completion() -> None:
    # Half of the two survivors finish within 1e-6 s: D = 1e-6 costs 1e-6 and succeeds w.p. 1/2.
    assert gittins_rank([1.0, 2.0, 3.0], 2.0 - 1e-6) == pytest.approx(2e-6, rel=1e-6)
    assert GittinsTable([1.0, 2.0, 3.0]).rank(2.0 - 1e-6) == pytest.approx(2e-6, rel=1e-6)


def quantiles(inverse_cdf: npt.NDArray[np.float64]) -> list[float]:
    """The law itself as an empirical distribution (no sampling noise), see the module docs."""
    return [float(v) for v in inverse_cdf]


GRID = np.arange(1, 4001) / 4001.0
NORMAL = np.array([NormalDist().inv_cdf(float(p)) for p in GRID])


def sample_near(samples: list[float], age: float) -> float:
    """The first sample >= age: there the next completion is a full spacing away."""
    ordered = sorted(samples)
    return ordered[int(np.searchsorted(ordered, age))]


def test_exponential_ranks_at_its_mean_at_every_age() -> None:
    samples = quantiles(-3.0 * np.log1p(-GRID))
    table = GittinsTable(samples)
    for age in (0.0, sample_near(samples, 1.0), sample_near(samples, 3.0)):
        assert table.rank(age) == pytest.approx(3.0, rel=0.1)
        assert gittins_rank(samples, age) == pytest.approx(3.0, rel=0.1)


def test_random_exponential_samples_rank_at_most_the_mean() -> None:
    # Sampling noise at small D pulls the exact empirical rank below 3 (module docs).
    samples = np.random.default_rng(7).exponential(3.0, 20000)
    for age in (0.0, 1.0, 3.0):
        survivors = samples[samples > age] - age
        assert 0.0 < gittins_rank(samples, age) <= survivors.mean() * (1 + 1e-12)


@pytest.mark.parametrize(
    ("name", "samples", "ages"),
    [
        ("lognormal", quantiles(np.exp(2.0 * NORMAL)), (1.0, 5.0, 20.0, 100.0)),
        (
            "pareto",
            quantiles((1.0 - GRID) ** (-1.0 / 1.5)),
            (5.0, 10.0, 30.0),
        ),  # rank ~ 2a/3 past the scale
    ],
)
def test_heavy_tail_ranks_worse_with_age(
    name: str, samples: list[float], ages: tuple[float, ...]
) -> None:
    table = GittinsTable(samples)
    ranks = [table.rank(0.0)] + [table.rank(sample_near(samples, age)) for age in ages]
    assert all(a < b for a, b in pairwise(ranks)), (name, ranks)


@pytest.mark.parametrize(
    ("name", "samples", "ages"),
    [
        ("uniform", quantiles(10.0 * GRID), (2.0, 5.0, 8.0)),
        ("normal", quantiles(10.0 + NORMAL), (5.0, 9.0, 10.0, 11.0)),
    ],
)
def test_light_tail_ranks_better_with_age(
    name: str, samples: list[float], ages: tuple[float, ...]
) -> None:
    table = GittinsTable(samples)
    ranks = [table.rank(0.0)] + [table.rank(sample_near(samples, age)) for age in ages]
    assert all(a > b for a, b in pairwise(ranks)), (name, ranks)


@FAST
@given(sample_lists(), st.floats(min_value=0.0, max_value=1e6), st.floats(0.0, 1e3))
def test_runaway_falls_back_to_its_age(samples: list[float], extra: float, more: float) -> None:
    attained = max(samples) + extra
    table = GittinsTable(samples)
    for rank in (gittins_rank(samples, attained), table.rank(attained)):
        assert rank == attained
        assert math.isfinite(rank)
        assert rank > 0.0 or attained == 0.0
        assert rank >= gittins_rank(samples, 0.0)
        assert rank >= table.rank(0.0)
    later = attained + more + 1.0
    assert gittins_rank(samples, later) > gittins_rank(samples, attained)
    assert table.rank(later) > table.rank(attained)


def test_all_zero_samples_at_zero() -> None:
    assert gittins_rank([0, 0, 0]) == 0.0
    assert GittinsTable([0.0]).rank(0) == 0.0
    assert GittinsTable([0.0, 0.0]).ranks([0.0, 2.0]).tolist() == [0.0, 2.0]


@pytest.mark.parametrize(
    ("samples", "fragment"),
    [
        ([], "is empty"),
        ([1.0, math.nan, 2.0], "1 NaN or infinite value(s), first at index 1"),
        ((1.0, 2.0, math.inf, -math.inf), "2 NaN or infinite value(s), first at index 2"),
        (np.array([3.0, -1.0, -2.0]), "2 negative value(s), first at index 1"),
        ([[1.0, 2.0], [3.0, 4.0]], "must be 1-D, got shape (2, 2)"),
        (5.0, "must be 1-D, got shape ()"),
        (["fast", "slow"], "must be a 1-D sequence of job sizes"),
    ],
)
def test_bad_samples_are_rejected(samples: npt.ArrayLike, fragment: str) -> None:
    for build in (gittins_rank, GittinsTable):
        with pytest.raises(ValidationError) as caught:
            build(samples)
        assert "argument 'samples'" in str(caught.value)
        assert fragment in str(caught.value)


@pytest.mark.parametrize(
    ("attained", "fragment"),
    [(-1.0, "must be >= 0, got -1.0"), (math.nan, "is NaN"), (math.inf, "must be finite")],
)
def test_bad_attained_is_rejected(attained: float, fragment: str) -> None:
    table = GittinsTable([1.0, 2.0])
    checks = (
        lambda: gittins_rank([1.0, 2.0], attained),
        lambda: table.rank(attained),
        lambda: table.ranks([0.0, 1.0, attained]),
    )
    for check in checks:
        with pytest.raises(ValidationError) as caught:
            check()
        assert "argument 'attained'" in str(caught.value)
        assert fragment in str(caught.value)
    with pytest.raises(ValidationError, match="first at flat index 2"):
        table.ranks([0.0, 1.0, attained])


@pytest.mark.parametrize("seed", range(4))
def test_table_matches_function_on_large_distributions(seed: int) -> None:
    rng = np.random.default_rng(seed)
    draw = (rng.lognormal(0.0, 2.0, 1000), rng.exponential(3.0, 1000), rng.uniform(0, 9, 1000))
    samples = draw[seed % 3] if seed < 3 else rng.integers(0, 30, 1000).astype(float)
    table = GittinsTable(samples)
    lines_per_interval = np.diff(table._offsets)
    assert lines_per_interval.max() >= (1 if seed == 3 else 3)  # multi-line envelopes are used
    chosen = rng.choice(samples, 300)
    ages = np.concatenate(
        (
            rng.uniform(0.0, samples.max() * 1.2, 300),
            chosen,
            np.nextafter(chosen, 0.0),
            chosen * rng.uniform(0.9, 1.0, 300),
        )
    )
    expected = np.array([gittins_rank(samples, float(a)) for a in ages])
    got = np.array([table.rank(float(a)) for a in ages])
    tol = table_tolerance(samples.tolist())
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=tol)
    np.testing.assert_array_equal(table.ranks(ages), got)


def test_ranks_keeps_shape_and_handles_many_blocks() -> None:
    table = GittinsTable([1.0, 1.0, 10.0])
    ages = np.tile([0.0, 1.0, 5.0, 12.0], 10000)  # more queries than one internal block
    result = table.ranks(ages)
    assert result.dtype == np.float64
    assert result.shape == ages.shape
    assert result[:4].tolist() == [1.5, 9.0, 5.0, 12.0]
    assert np.array_equal(result.reshape(-1, 4), np.tile(result[:4], (10000, 1)))
    assert table.ranks(ages.reshape(2, -1)).shape == (2, 20000)
    assert table.ranks(5.0).shape == ()
