"""Distribution specs: forms, rounding, seeding and errors."""

from __future__ import annotations

import numpy as np
import pytest

from hermes_agents.errors import ValidationError
from hermes_agents.pdgraph.distributions import derived_rng, parse_distribution


def parse(spec: object, *, integer: bool = False, minimum: int = 0, seed: int = 0) -> np.ndarray:
    rng = derived_rng(seed, "app", "stage", "field")
    return parse_distribution(spec, minimum=minimum, integer=integer, rng=rng, size=20000).samples


def test_const_is_one_sample() -> None:
    assert parse({"const": 7}).tolist() == [7.0]


def test_normal_matches_mean_and_sd_and_is_truncated_at_zero() -> None:
    values = parse({"normal": [100, 20]})
    assert values.mean() == pytest.approx(100, rel=0.02)
    assert values.std() == pytest.approx(20, rel=0.05)
    assert parse({"normal": [1, 5]}).min() >= 0


def test_lognormal_parameters_are_those_of_the_values() -> None:
    values = parse({"lognormal": [25, 14]})
    assert values.mean() == pytest.approx(25, rel=0.03)
    assert values.std() == pytest.approx(14, rel=0.08)


def test_uniform_bounds() -> None:
    values = parse({"uniform": [2, 11]})
    assert values.min() >= 2
    assert values.max() <= 11


def test_counts_round_and_fanout_floor_is_one() -> None:
    tokens = parse({"normal": [3, 4]}, integer=True)
    assert np.array_equal(tokens, np.rint(tokens))
    assert tokens.min() == 0
    fanout = parse({"normal": [2, 3]}, integer=True, minimum=1)
    assert fanout.min() == 1


def test_seeded_reproducible_and_seed_sensitive() -> None:
    spec = {"normal": [10, 3]}
    assert np.array_equal(parse(spec, seed=1), parse(spec, seed=1))
    assert not np.array_equal(parse(spec, seed=1), parse(spec, seed=2))


def test_samples_kept_verbatim_and_read_only() -> None:
    values = parse({"samples": [3, 1, 2]})
    assert values.tolist() == [3.0, 1.0, 2.0]
    with pytest.raises(ValueError, match="read-only"):
        values[0] = 5


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"samples": [1, -2]}, "negative, NaN or infinite"),
        ({"samples": [1, float("nan")]}, "negative, NaN or infinite"),
        ({"samples": [float("inf")]}, "negative, NaN or infinite"),
        ({"samples": []}, "non-empty list"),
        ({"const": -1}, ">= 0"),
        ({"normal": [5]}, r"two numbers \[mean, sd\]"),
        ({"normal": [5, -1]}, ">= 0, got -1.0"),
        ({"lognormal": [0, 1]}, "> 0"),
        ({"uniform": [5, 1]}, "lo <= hi"),
        ({"gamma": [1, 2]}, "unknown distribution 'gamma'"),
        ({"const": 1, "normal": [1, 1]}, "expected one of"),
        (3, "expected one of"),
        ({"const": True}, "expected a number"),
    ],
)
def test_bad_specs_name_the_problem(spec: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as caught:
        parse_distribution(
            spec,
            minimum=0,
            integer=False,
            rng=derived_rng(0),
            location=("app 'a'", "stage 's'", "field 'seconds'"),
        )
    assert caught.value.location[:3] == ("app 'a'", "stage 's'", "field 'seconds'")
