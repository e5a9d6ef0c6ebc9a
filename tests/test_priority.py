"""Ranks to engine priorities: stable across processes, monotone, each engine's polarity."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hermes_agents.errors import ValidationError
from hermes_agents.priority import (
    MAX_BUCKET,
    engine_priority,
    parse_enforce,
    rank_bucket,
    style_priority,
)

ranks = st.floats(min_value=0.0, max_value=1e12, allow_nan=False)


def test_fixed_values_so_every_host_sends_the_same_integer() -> None:
    # golden values: changing the constants would split a fleet that mixes versions
    assert [rank_bucket(r) for r in (0.001, 0.002, 0.1, 1.0, 10.0, 60.0, 3600.0)] == [
        0,
        8,
        53,
        80,
        106,
        127,
        174,
    ]


def test_another_process_computes_the_same_priorities() -> None:
    code = (
        "from hermes_agents.priority import engine_priority as p;"
        "print([p(r, 'lower-first') for r in (0.01, 0.5, 7.0, 1e5)])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    here = [engine_priority(r, "lower-first") for r in (0.01, 0.5, 7.0, 1e5)]
    assert out.stdout.strip() == str(here)


@given(ranks, ranks)
def test_monotone_more_remaining_work_never_gets_a_more_urgent_priority(a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert rank_bucket(low) <= rank_bucket(high)
    assert engine_priority(low, "lower-first") <= engine_priority(high, "lower-first")
    assert engine_priority(low, "higher-first") >= engine_priority(high, "higher-first")


@given(ranks)
def test_polarities_mirror_each_other_within_bounds(rank: float) -> None:
    lower, higher = engine_priority(rank, "lower-first"), engine_priority(rank, "higher-first")
    assert 0 <= lower <= MAX_BUCKET
    assert lower + higher == MAX_BUCKET


def test_ranks_a_factor_of_two_apart_are_eight_buckets_apart() -> None:
    assert rank_bucket(2.0) - rank_bucket(1.0) == 8


def test_unknown_and_infinite_ranks_go_last() -> None:
    assert rank_bucket(math.nan) == rank_bucket(math.inf) == MAX_BUCKET
    assert rank_bucket(-5.0) == 0


def test_styles_name_an_engine_or_a_polarity() -> None:
    assert style_priority(1.0, "vllm") == style_priority(1.0, "lower-first") == 80
    assert style_priority(1.0, "sglang") == style_priority(1.0, "higher-first") == 160


def test_unknown_modes_and_polarities_are_named() -> None:
    with pytest.raises(ValidationError, match="did you mean 'engine'"):
        parse_enforce("engin", "field 'enforce'")
    with pytest.raises(ValidationError, match="polarity"):
        engine_priority(1.0, "sideways")  # type: ignore[arg-type]
