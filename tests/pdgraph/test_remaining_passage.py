"""First-passage sampling: when walks from a position first reach each backend."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hermes_agents import PDGraph, RemainingDemand
from hermes_agents.pdgraph.synthetic import sample_run
from tests.pdgraph.graphs import app


def stage(backend: str, seconds: float | list[float], nxt: dict[str, float], **extra: Any) -> Any:
    """A tool stage on ``backend`` (constant seconds, or drawn from a sample list)."""
    dist = {"const": seconds} if isinstance(seconds, float) else {"samples": seconds}
    return {"kind": "tool", "backend": backend, "seconds": dist, "next": nxt, **extra}


def chain() -> PDGraph:
    """x (1 s) -> y (2 s, three calls in parallel) -> z (4 s)."""
    return PDGraph.from_dict(
        app(
            "a",
            {
                "a": stage("x", 1.0, {"b": 1.0}),
                "b": stage("y", 2.0, {"c": 1.0}, fanout={"const": 3}),
                "c": stage("z", 4.0, {"END": 1.0}),
            },
        )
    )


def test_a_chain_with_exact_times_arrives_exactly_once_along_the_critical_path() -> None:
    passage = RemainingDemand(chain(), walks=50).first_passage("a")
    assert passage.backends == ("x", "y", "z")
    assert set(passage.times("y").tolist()) == {1.0}
    assert set(passage.times("z").tolist()) == {3.0}  # parallel calls overlap: 1 + 2, not 1 + 6
    assert passage.probability("x") == 0.0  # the current visit does not count
    assert set(passage.visit_s.tolist()) == {1.0}
    assert passage.arrives_after("z", 3.0) == 1.0
    assert passage.arrives_after("z", 3.5) == 0.0
    assert passage.probability("nowhere") == 0.0


def test_from_a_later_stage_only_what_lies_ahead_counts() -> None:
    passage = RemainingDemand(chain(), walks=20).first_passage("b")
    assert (passage.probability("x"), passage.probability("y")) == (0.0, 0.0)
    assert set(passage.times("z").tolist()) == {2.0}


def test_a_branch_and_a_loop_give_their_probabilities() -> None:
    graph = PDGraph.from_dict(
        app(
            "think",
            {
                "think": stage("llm", 1.0, {"tool": 0.3, "END": 0.7}),
                "tool": stage("sandbox", 2.0, {"think": 1.0}),
            },
        )
    )
    passage = RemainingDemand(graph, walks=20_000).first_passage("think")
    # reach the sandbox: 0.3 at once; back to the LLM only through the sandbox
    assert passage.probability("sandbox") == pytest.approx(0.3, abs=0.015)
    assert passage.probability("llm") == pytest.approx(0.3, abs=0.015)
    assert set(passage.times("llm")[np.isfinite(passage.times("llm"))].tolist()) == {3.0}
    from_tool = RemainingDemand(graph, walks=100).first_passage("tool")
    assert from_tool.probability("llm") == 1.0  # a tool pause always returns


def test_passage_tracking_never_changes_the_samples_and_is_cached() -> None:
    graph = PDGraph.from_dict(
        app(
            "t",
            {"t": stage("x", [1.0, 2.0, 5.0], {"t": 0.6, "END": 0.4}, fanout={"uniform": [1, 3]})},
        )
    )
    fresh = RemainingDemand(graph).samples("t").copy()
    demand = RemainingDemand(graph)
    passage = demand.first_passage("t")
    np.testing.assert_array_equal(demand.samples("t"), fresh)
    assert demand.first_passage("t", {"t": 1}) is passage
    # a geometric loop is memoryless: visit counts do not make a new position
    assert demand.first_passage("t", {"t": 2}) is passage
    assert demand.truncated_walks == 0
    assert not passage.times_s.flags.writeable


def brute_force(graph: PDGraph, backend: str, runs: int, seed: int) -> np.ndarray:
    """First arrival times at ``backend`` in runs drawn one by one (inf: never)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(runs):
        elapsed, arrival = 0.0, np.inf
        for index, visit in enumerate(sample_run(graph, rng)):
            if index > 0 and visit.backend == backend:
                arrival = elapsed
                break
            elapsed += max(call.seconds for call in visit.calls)
        out.append(arrival)
    return np.array(out)


@settings(max_examples=8, deadline=None)
@given(
    p_tool=st.floats(0.1, 0.9),
    p_loop=st.floats(0.0, 0.8),
    seconds=st.lists(st.floats(0.1, 5.0), min_size=1, max_size=4),
)
def test_first_passage_matches_a_brute_force_estimate(
    p_tool: float, p_loop: float, seconds: list[float]
) -> None:
    graph = PDGraph.from_dict(
        app(
            "plan",
            {
                "plan": stage("llm", seconds, {"think": 1.0}, fanout={"uniform": [1, 3]}),
                "think": stage(
                    "llm",
                    seconds,
                    {
                        "think": p_loop,
                        "tool": (1 - p_loop) * p_tool,
                        "END": (1 - p_loop) * (1 - p_tool),
                    },
                ),
                "tool": stage("dnn", 1.0, {"END": 1.0}),
            },
        )
    )
    passage = RemainingDemand(graph, walks=3000).first_passage("plan")
    truth = brute_force(graph, "dnn", 3000, seed=1)
    assert passage.probability("dnn") == pytest.approx(np.isfinite(truth).mean(), abs=0.05)
    reached, expected = passage.times("dnn"), truth[np.isfinite(truth)]
    reached = reached[np.isfinite(reached)]
    if expected.size > 200:
        # Two independent Monte-Carlo means: they agree within 4 standard errors of their
        # difference (a loop that rarely exits makes the times spread widely).
        spread = np.sqrt(reached.var() / reached.size + expected.var() / expected.size)
        assert abs(reached.mean() - expected.mean()) <= 4 * spread + 1e-9
