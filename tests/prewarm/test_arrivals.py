"""The arrival rule: keep a backend awake for apps that have not arrived yet."""

from __future__ import annotations

import math

import pytest

from hermes_agents.errors import ValidationError
from hermes_agents.pdgraph import PDGraph
from hermes_agents.prewarm import ArrivalRates, PlanStep, PrewarmPlanner, WarmupSpec
from tests.prewarm.graphs import FakeRun, at, chain, graph, tool

GPU = WarmupSpec("gpu", warmup_s=5.0, idle_sleep_s=30.0)
"""A backend that takes 5 s to wake and sleeps after 30 idle seconds (K = K_a = 0.5)."""


def planner(*specs: WarmupSpec, **options: object) -> PrewarmPlanner:
    options.setdefault("learn_pace", False)
    return PrewarmPlanner({s.backend: s for s in specs or (GPU,)}, **options)  # type: ignore[arg-type]


def arrive(plans: PrewarmPlanner, g: PDGraph, count: int, gap_s: float = 20.0) -> float:
    """``count`` runs of ``g`` start ``gap_s`` apart (each seen once, at its entry); the time
    of the last start."""
    now_s = 0.0
    for i in range(count):
        now_s = i * gap_s
        plans.plan([at(f"r{i}", g, g.entry)], now_s=now_s, awake={"gpu": False})
    return now_s


def quiet(plans: PrewarmPlanner, now_s: float, awake: bool = True) -> PlanStep:
    """A step with no run in flight: only the arrival rule can hint."""
    return plans.plan([], now_s=now_s, awake={"gpu": awake})


def test_steady_arrivals_that_reach_the_backend_sooner_than_its_warm_up_keep_it_awake() -> None:
    plans = planner()
    last = arrive(plans, chain(plan_s=2.0), count=6)  # gpu 2 s after each start, wake takes 5
    (hint,) = quiet(plans, last + 1.0).hints
    assert (hint.action, hint.backend, hint.run_id, hint.app) == ("keep_awake", "gpu", "", "chain")
    assert hint.keep_s == 30.0
    count = sum(0.9**k for k in range(5))  # five gaps of 20 s, decayed per start
    rate = count / (20.0 * count + 1.0)  # the last gap is still open (1 s)
    assert hint.probability == pytest.approx(1 - math.exp(-rate * 30.0))
    assert hint.expected_in_s == pytest.approx(1 / rate)


def test_without_arrivals_or_without_the_rule_nothing_is_kept_awake() -> None:
    assert quiet(planner(), 1.0).hints == []  # nothing seen yet
    off = planner(learn_arrivals=False)
    assert quiet(off, arrive(off, chain(plan_s=2.0), count=6) + 1.0).hints == []
    few = planner()
    assert quiet(few, arrive(few, chain(plan_s=2.0), count=3) + 1.0).hints == []  # 2 gaps < 3


def test_only_apps_that_a_wake_after_arrival_cannot_serve_count() -> None:
    plans = planner()
    last = arrive(plans, chain(plan_s=8.0), count=6)  # 8 s of lead: a wake hides it all
    assert quiet(plans, last + 1.0).hints == []


def test_an_entry_stage_on_the_backend_counts_as_an_arrival_there() -> None:
    solo = graph("solo", "infer", {"infer": tool("gpu", 1.0)})
    plans = planner()
    (hint,) = quiet(plans, arrive(plans, solo, count=6) + 1.0).hints
    assert (hint.app, hint.action) == ("solo", "keep_awake")


def test_rare_arrivals_a_sleeping_backend_and_a_higher_k_a_get_no_hint() -> None:
    plans = planner()
    last = arrive(plans, chain(plan_s=2.0), count=6)
    assert quiet(plans, last + 300.0).hints == []  # the rate faded: 1 - exp(-30 A) < 0.5
    assert quiet(plans, last + 1.0, awake=False).hints == []  # no wake on these grounds
    for strict in (
        WarmupSpec("gpu", 5.0, idle_sleep_s=30.0, arrival_threshold=0.9),
        WarmupSpec("gpu", 5.0, threshold=0.9, idle_sleep_s=30.0),  # K_a follows K
    ):
        plans = planner(strict)
        assert quiet(plans, arrive(plans, chain(plan_s=2.0), count=6) + 1.0).hints == []


def test_the_keep_awake_is_renewed_when_half_of_it_is_spent() -> None:
    plans = planner()
    last = arrive(plans, chain(plan_s=2.0), count=6)
    assert quiet(plans, last + 1.0).hints
    step = quiet(plans, last + 10.0)
    assert step.hints == []
    assert step.next_check_s == pytest.approx(last + 16.0)
    assert quiet(plans, last + 16.0).hints


def test_runs_first_seen_past_their_entry_are_not_arrivals() -> None:
    plans, g = planner(), chain(plan_s=2.0)
    for i in range(6):
        run = FakeRun(f"r{i}", at("x", g, "plan").demand, "infer", app="chain")
        run.visits = {"plan": 1, "infer": 1}
        plans.plan([run], now_s=i * 20.0, awake={"gpu": False})
    assert quiet(plans, 101.0).hints == []


def test_arrival_rates_learn_fade_and_validate() -> None:
    rates = ArrivalRates(min_gaps=1)
    assert rates.rate("a", 0.0) == 0.0
    rates.started("a", 0.0)
    rates.started("a", 10.0)
    assert rates.rate("a", 10.0) == pytest.approx(0.1)
    assert rates.rate("a", 20.0) == pytest.approx(0.05)  # the open gap counts
    with pytest.raises(ValidationError, match="decay"):
        ArrivalRates(decay=1.0)
    with pytest.raises(ValidationError, match="min_gaps"):
        ArrivalRates(min_gaps=0)
    with pytest.raises(ValidationError, match="arrival_threshold"):
        WarmupSpec("gpu", 1.0, arrival_threshold=0.0)
