"""Policies driven through the same core produce their documented orderings (tiny workloads).

One tool pool with one worker, so each admission is a policy decision.
"""

from __future__ import annotations

import pytest

from hermes_agents.errors import ValidationError
from hermes_agents.sim import SimConfig, simulate
from hermes_agents.sim.policies import POLICY_NAMES, choose_policy
from tests.sim.workloads import plan, pool_workload, tool_app


def short_behind_long(policy: str) -> list[float]:
    """A (long, 10 s) runs from 0; B (long) arrives at 1, C (short, 1 s) at 2: who goes next?"""
    workload = pool_workload(
        {"long": tool_app([9.0, 10.0, 11.0]), "short": tool_app([0.5, 1.0, 1.5])}
    )
    plans = [
        plan(0, "long", 0.0, ("work", 10.0)),
        plan(1, "long", 1.0, ("work", 10.0)),
        plan(2, "short", 2.0, ("work", 1.0)),
    ]
    result = simulate(workload, SimConfig(policy=policy), plans=plans)
    return [float(act) for act in result.act_s]


@pytest.mark.parametrize("policy", ["fcfs", "app-fcfs", "vtc", "plas"])
def test_arrival_and_service_orders_serve_b_before_c(policy: str) -> None:
    # B runs 10-20 (ACT 19), C 20-21 (ACT 19)
    assert short_behind_long(policy) == pytest.approx([10.0, 19.0, 19.0])


@pytest.mark.parametrize(
    "policy", ["mean-srjf", "gittins", "oracle", "gittins-class", "gittins-attained"]
)
def test_size_aware_orders_serve_the_short_app_first(policy: str) -> None:
    # C runs 10-11 (ACT 9), B 11-21 (ACT 20)
    assert short_behind_long(policy) == pytest.approx([10.0, 20.0, 9.0])


def two_visits_versus_one(policy: str) -> list[float]:
    """X (two 5 s visits) arrives at 0, Y (one 5 s visit) at 1: who gets the pool at 5?"""
    workload = pool_workload(
        {
            "x": {
                "entry": "a",
                "stages": {
                    "a": {
                        "kind": "tool",
                        "backend": "pool",
                        "seconds": {"const": 5},
                        "next": {"b": 1},
                    },
                    "b": {"kind": "tool", "backend": "pool", "seconds": {"const": 5}},
                },
            },
            "y": tool_app([5.0]),
        }
    )
    plans = [plan(0, "x", 0.0, ("a", 5.0), ("b", 5.0)), plan(1, "y", 1.0, ("work", 5.0))]
    return [float(act) for act in simulate(workload, SimConfig(policy=policy), plans=plans).act_s]


def test_request_fcfs_lets_the_later_app_in_between_two_visits() -> None:
    # X's second call is submitted at 5, after Y's (at 1): Y runs 5-10, X 10-15
    assert two_visits_versus_one("fcfs") == pytest.approx([15.0, 9.0])


def test_app_fcfs_keeps_the_earlier_app_going() -> None:
    # X arrived first: its second visit runs 5-10, Y 10-15
    assert two_visits_versus_one("app-fcfs") == pytest.approx([10.0, 14.0])


@pytest.mark.parametrize("policy", ["vtc", "plas", "gittins", "oracle"])
def test_least_service_and_least_remaining_serve_y_first(policy: str) -> None:
    # at 5: X has 5 s attained and 5 s left, Y none attained and 5 s left (tie broken for Y
    # by the earlier submission)
    assert two_visits_versus_one(policy) == pytest.approx([15.0, 9.0])


def test_every_policy_name_resolves_and_unknown_names_are_clear() -> None:
    for name in POLICY_NAMES:
        assert choose_policy(name).name == name
    with pytest.raises(ValidationError, match="unknown policy 'sjf'"):
        choose_policy("sjf")
