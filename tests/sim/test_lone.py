"""The deadline base measured alone (``sim.lone``) and the wall-clock durations Hermes-DDL
judges slack by (``sim.wall_cost``, ``sim.demand.WallClockDemand``), issue 17."""

from __future__ import annotations

import numpy as np
import pytest

from hermes_agents.cost import LLMCost
from hermes_agents.errors import ValidationError
from hermes_agents.pdgraph import RemainingDemand, Workload
from hermes_agents.sim.arrivals import ArrivalSpec
from hermes_agents.sim.bench import load_workload
from hermes_agents.sim.demand import ProfiledModels, WallClockDemand
from hermes_agents.sim.llm import EngineParams
from hermes_agents.sim.lone import lone_base, lone_durations_s, max_lone_duration_s
from hermes_agents.sim.plans import draw_plans
from hermes_agents.sim.servers import EngineShape
from hermes_agents.sim.simulator import scheduler_cost
from hermes_agents.sim.wall_cost import wall_cost
from hermes_agents.workloads import builtin


def chat_workload(fanout: int, cold_start_s: float = 0.0) -> Workload:
    """One LLM stage of ``fanout`` parallel calls, 1000 prompt and 10 output tokens each."""
    ask = {
        "kind": "llm",
        "backend": "llm",
        "prompt_tokens": {"const": 1000},
        "output_tokens": {"const": 10},
        "fanout": {"const": fanout},
    }
    llm: dict[str, object] = {"kind": "llm", "max_concurrency": 16}
    if cold_start_s:
        llm |= {"cold_start_s": cold_start_s, "idle_sleep_s": 5.0}
    return Workload.from_dict(
        {
            "name": "chat",
            "apps": {"chat": {"entry": "ask", "stages": {"ask": ask}}},
            "backends": {"llm": llm},
            "arrivals": {"process": "poisson", "rate_per_s": 1.0, "count": 3},
        }
    )


def test_a_lone_run_takes_what_the_engine_takes_not_what_the_profile_prices() -> None:
    engine = EngineParams.from_profile(LLMCost())
    # four calls join one batch: all four prompts prefilled in the first step, then 10 steps
    # of four sequences; the profile would price one call alone at 0.1 + 10 x 0.06 = 0.7 s
    expected = 4 * 1000 * 1e-4 + 10 * engine.step_s(4)
    alone = lone_durations_s(chat_workload(4), "chat", seed=0, runs=5)
    assert alone == pytest.approx([expected] * 5)
    assert expected < LLMCost().seconds_one(1000, 10)


def test_lone_runs_never_wait_for_each_other_or_a_cold_backend() -> None:
    warm = lone_durations_s(chat_workload(4), "chat", seed=0, runs=30)
    cold = lone_durations_s(chat_workload(4, cold_start_s=30.0), "chat", seed=0, runs=30)
    np.testing.assert_allclose(cold, warm)  # no queueing, no cold start in the profile


def test_a_lone_run_goes_through_the_admission_window() -> None:
    # 20 calls on a 16-slot window: 16 run together, the last four when those are done
    wide = lone_durations_s(chat_workload(20), "chat", seed=0, runs=3)
    sixteen = lone_durations_s(chat_workload(16), "chat", seed=0, runs=3)
    four = lone_durations_s(chat_workload(4), "chat", seed=0, runs=3)
    assert wide == pytest.approx(sixteen + four)


def test_the_deadline_base_is_the_longest_lone_run_and_reproduces() -> None:
    mix = builtin("paper-mix", seed=1)
    first = max_lone_duration_s(mix, "react_fever", seed=0)
    assert first == max_lone_duration_s(mix, "react_fever", seed=0)
    assert first == float(lone_durations_s(mix, "react_fever", seed=0).max())
    other = max_lone_duration_s(builtin("paper-mix", seed=2), "react_fever", seed=0)
    assert other != first  # the cache tells two materialisations apart
    with pytest.raises(ValidationError, match="no such app"):
        lone_durations_s(mix, "nope", seed=0)


def test_drawn_deadlines_are_hermes_factors_of_the_lone_base() -> None:
    mix = load_workload("paper-mix", seed=1)
    from hermes_agents.sim.deadlines import with_deadlines

    timed = with_deadlines(mix, 0.5)
    cost = scheduler_cost(timed, "sum")
    plans = draw_plans(timed, 300, 0, ArrivalSpec(), cost, base_of=lone_base(timed, 0))
    fever = [p.deadline_s for p in plans if p.app == "react_fever" and p.deadline_s]
    base = 0.7 * max_lone_duration_s(timed, "react_fever", seed=0)
    assert fever
    assert {round(d / base, 6) for d in fever} <= {1.2, 1.5, 2.0}
    # the default base is the same measurement (default engine)
    again = draw_plans(timed, 300, 0, ArrivalSpec(), cost)
    assert [p.deadline_s for p in again] == [p.deadline_s for p in plans]


def test_wall_cost_prices_decode_at_the_engine_step_with_the_window_full() -> None:
    mix = builtin("paper-mix")
    engine = EngineParams.from_profile(LLMCost())
    assert wall_cost(mix, EngineShape()).for_backend("llm").decode_s_per_token == pytest.approx(
        engine.step_s(16)
    )
    slow = wall_cost(mix, EngineShape(reference_batch=16)).for_backend("llm")
    assert slow.decode_s_per_token == pytest.approx(0.06)  # the profile's own engine


def test_wall_clock_durations_leave_the_ranks_alone() -> None:
    mix = builtin("paper-mix")
    cost = scheduler_cost(mix, "sum")
    models = ProfiledModels(mix.apps, cost, wall=wall_cost(mix, EngineShape()))
    timed = models.demand("factool_code")
    assert isinstance(timed, WallClockDemand)
    plain = RemainingDemand(mix.apps["factool_code"], cost)
    entry = mix.apps["factool_code"].entry
    assert timed.rank(entry) == plain.rank(entry)
    np.testing.assert_array_equal(timed.samples(entry), plain.samples(entry))
    wall, priced = timed.durations_s(entry), plain.durations_s(entry)
    assert 0.3 < float(np.median(wall / priced)) < 0.6  # 25 ms a token against 60 ms


def test_in_wall_seconds_a_run_with_time_to_spare_is_not_called_late() -> None:
    """The bug this fixes: priced by the profile, the median remaining duration of a
    factool_code run exceeded even its loosest deadline (2 x 0.7 x its longest run alone),
    so Hermes-DDL's late rule demoted such runs at arrival; in wall seconds (the engine with
    its window full) every class's median fits its loosest deadline."""
    mix = builtin("paper-mix", seed=1)
    cost = scheduler_cost(mix, "sum")
    models = ProfiledModels(mix.apps, cost, wall=wall_cost(mix, EngineShape()))
    priced_late = []
    for app, graph in mix.apps.items():
        loosest = 2.0 * 0.7 * max_lone_duration_s(mix, app, seed=0)
        demand = models.demand(app)
        assert demand is not None
        assert np.median(demand.durations_s(graph.entry)) < loosest, app
        if np.median(RemainingDemand(graph, cost).durations_s(graph.entry)) > loosest:
            priced_late.append(app)
    assert {"factool_code", "factool_kbqa"} <= set(priced_late)
