"""The planner's rules on small graphs with known answers."""

from __future__ import annotations

import pytest

from hermes_agents.errors import ValidationError
from hermes_agents.prewarm import PrewarmPlanner, WarmupSpec
from hermes_agents.prewarm.pace import Pace
from tests.prewarm.graphs import FakeRun, at, branch, chain, graph, tool


def planner(*specs: WarmupSpec, **options: object) -> PrewarmPlanner:
    """A planner that trusts the walks' seconds as wall time (no pace learning)."""
    options.setdefault("learn_pace", False)
    return PrewarmPlanner({s.backend: s for s in specs}, **options)  # type: ignore[arg-type]


GPU = WarmupSpec("gpu", warmup_s=3.0)


def test_a_chain_with_exact_times_wakes_just_in_time() -> None:
    plans, run = planner(GPU), at("r1", chain(plan_s=4.0), "plan")
    early = plans.plan([run], now_s=10.0, awake={"gpu": False})
    assert early.hints == []
    assert early.next_check_s == pytest.approx(11.0)  # arrival at 14, warm-up of 3
    (hint,) = plans.plan([run], now_s=11.0, awake={"gpu": False}).hints
    assert (hint.backend, hint.action, hint.run_id, hint.app) == ("gpu", "wake", "r1", "chain")
    assert hint.probability == pytest.approx(1.0)  # p = 1, arrives as the warm-up completes
    assert hint.expected_in_s == pytest.approx(3.0)
    assert hint.issued_at_s == 11.0


def test_an_arrival_sooner_than_the_warm_up_fails_the_plain_rule_but_not_partial() -> None:
    slow = WarmupSpec("gpu", warmup_s=5.0)
    run = at("r1", chain(plan_s=4.0), "plan")
    step = planner(slow, partial=False).plan([run], now_s=0.0, awake={})
    assert (step.hints, step.next_check_s) == ([], None)  # P(T >= 5) = 0
    (hint,) = planner(slow).plan([run], now_s=0.0, awake={}).hints  # partial by default
    assert hint.action == "wake"  # hides 4 of the 5 s: 0.8 >= 0.5
    assert hint.probability == 0.0  # the contract's number: it cannot complete in time


@pytest.mark.parametrize(("p_gpu", "threshold", "hinted"), [(0.3, 0.5, False), (0.3, 0.25, True)])
def test_a_branch_below_k_gets_no_hint(p_gpu: float, threshold: float, hinted: bool) -> None:
    spec = WarmupSpec("gpu", warmup_s=1.0, threshold=threshold)
    run, plans = at("r1", branch(p_gpu), "plan", walks=4000), planner(spec)
    plans.plan([run], now_s=0.0, awake={"gpu": False})  # the run enters its position
    step = plans.plan([run], now_s=3.0, awake={"gpu": False})
    assert bool(step.hints) is hinted
    if hinted:
        assert step.hints[0].probability == pytest.approx(p_gpu, abs=0.03)


def test_only_the_best_ranked_run_asks_and_one_wake_is_in_flight() -> None:
    plans = planner(GPU, min_interval_s=1.0)
    runs = [at("slow", chain(), "plan", rank=9.0), at("fast", chain(), "plan", rank=2.0)]
    plans.plan(runs, now_s=0.0, awake={"gpu": False})
    (hint,) = plans.plan(runs, now_s=1.0, awake={"gpu": False}).hints
    assert hint.run_id == "fast"
    # still asleep as far as the driver knows: the wake is in flight for warmup_s = 3 s
    step = plans.plan(runs, now_s=2.0, awake={"gpu": False})
    assert step.hints == []
    assert step.next_check_s == pytest.approx(4.0)
    (again,) = plans.plan(runs, now_s=4.0, awake={"gpu": False}).hints
    assert again.action == "wake"


def test_the_rate_limit_spaces_hints_of_one_backend() -> None:
    quick = WarmupSpec("gpu", warmup_s=0.5)
    plans = planner(quick, min_interval_s=5.0)
    run = at("r1", chain(plan_s=4.0), "plan")
    assert plans.plan([run], now_s=0.0, awake={"gpu": False}).next_check_s == 3.5
    assert len(plans.plan([run], now_s=3.5, awake={"gpu": False}).hints) == 1
    step = plans.plan([run], now_s=4.0, awake={"gpu": False})
    assert step.hints == []
    assert step.next_check_s == pytest.approx(8.5)


def test_competing_warm_ups_serve_the_best_ranked_app_first() -> None:
    specs = [WarmupSpec(name, warmup_s=1.0, pool="vram") for name in ("gpu-a", "gpu-b")]
    plans = planner(*specs, memory={"vram": 1.0})
    to_a = graph("a", "plan", {"plan": tool("cpu", 4.0, {"infer": 1.0}), "infer": tool("gpu-a", 1)})
    to_b = graph("b", "plan", {"plan": tool("cpu", 4.0, {"infer": 1.0}), "infer": tool("gpu-b", 1)})
    runs = [at("worse", to_a, "plan", rank=8.0), at("better", to_b, "plan", rank=1.0)]
    hints = plans.plan(runs, now_s=0.0, awake={"gpu-a": False, "gpu-b": False}).hints
    assert hints == []  # both due at 3 s
    hints = plans.plan(runs, now_s=3.0, awake={"gpu-a": False, "gpu-b": False}).hints
    assert [(h.backend, h.run_id) for h in hints] == [("gpu-b", "better")]
    # with gpu-b awake and holding the pool, gpu-a still does not fit
    for budget, awake, woken in ((1.0, {"gpu-b": True}, 0), (2.0, {}, 2)):
        other = planner(*specs, memory={"vram": budget})
        other.plan(runs, now_s=0.0, awake=awake)
        assert len(other.plan(runs, now_s=3.0, awake=awake).hints) == woken


def react(tool_s: float) -> FakeRun:
    """A run in a tool pause (``tool_s``) of a think/tool loop on the ``llm`` backend."""
    g = graph(
        "react",
        "think",
        {
            "think": tool("llm", 1.0, {"tool": 0.9, "END": 0.1}),
            "tool": tool("sandbox", tool_s, {"think": 1.0}),
        },
    )
    return at("r1", g, "tool")


def test_an_awake_backend_the_app_returns_to_soon_is_kept_awake() -> None:
    llm = WarmupSpec("llm", warmup_s=2.0, idle_sleep_s=30.0)
    (hint,) = planner(llm).plan([react(10.0)], now_s=0.0, awake={"llm": True}).hints
    assert (hint.action, hint.keep_s, hint.probability) == ("keep_awake", 30.0, 1.0)
    never_sleeps = WarmupSpec("llm", warmup_s=2.0)
    assert planner(never_sleeps).plan([react(10.0)], now_s=0.0, awake={"llm": True}).hints == []
    far = planner(llm).plan([react(100.0)], now_s=0.0, awake={"llm": True})
    assert far.hints == []
    assert far.next_check_s == pytest.approx(70.0)  # from then on it returns within 30 s


def test_keep_awake_is_renewed_only_when_half_of_it_is_spent() -> None:
    llm = WarmupSpec("llm", warmup_s=2.0, idle_sleep_s=30.0)
    plans, run = planner(llm, min_interval_s=1.0), react(100.0)
    plans.plan([run], now_s=0.0, awake={"llm": True})
    assert plans.plan([run], now_s=70.0, awake={"llm": True}).hints
    step = plans.plan([run], now_s=75.0, awake={"llm": True})
    assert step.hints == []
    assert step.next_check_s == pytest.approx(85.0)
    assert plans.plan([run], now_s=85.0, awake={"llm": True}).hints


def test_runs_without_a_model_or_a_position_are_skipped() -> None:
    runs = [FakeRun("a", None, "plan"), FakeRun("b", at("x", chain(), "plan").demand, None)]
    runs.append(FakeRun("c", at("x", chain(), "plan").demand, "not-a-stage"))
    step = planner(GPU).plan(runs, now_s=0.0, awake={})
    assert (step.hints, step.next_check_s) == ([], None)


def test_a_broken_model_fails_open_for_that_run_only(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        graph = chain()

        def first_passage(self, *args: object) -> None:
            raise RuntimeError("boom")

    broken = FakeRun("bad", Broken(), "plan", app="bad")  # type: ignore[arg-type]
    good = at("good", chain(), "plan")
    plans = planner(GPU)
    for now_s in (1.0, 5.0):
        hints = plans.plan([broken, good], now_s=now_s, awake={"gpu": False}).hints
    assert [h.run_id for h in hints] == ["good"]
    assert caplog.text.count("prewarm planning for 'bad' failed") == 1


def test_the_pace_learned_from_moves_retimes_the_next_run() -> None:
    g = chain(plan_s=4.0)
    plans = PrewarmPlanner({"gpu": WarmupSpec("gpu", warmup_s=1.0)})
    first = at("r1", g, "plan")
    plans.plan([first], now_s=0.0, awake={"gpu": True})
    first.stage, first.visits = "infer", {"plan": 1, "infer": 1}
    plans.plan([first], now_s=2.0, awake={"gpu": True})  # plan took 2 s, predicted 4 s
    step = plans.plan([at("r2", g, "plan")], now_s=10.0, awake={"gpu": False})
    assert step.next_check_s == pytest.approx(11.0)  # arrival in 2 s, not 4: wake at 1 s


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("threshold", 0.0, "threshold"),
        ("threshold", 1.5, "threshold"),
        ("warmup_s", -1.0, "warmup_s"),
        ("idle_sleep_s", 0.0, "idle_sleep_s"),
        ("memory", -1.0, "memory"),
    ],
)
def test_bad_specs_name_the_backend_and_the_field(field: str, value: float, message: str) -> None:
    with pytest.raises(ValidationError, match=f"backend 'gpu', {message}"):
        WarmupSpec(**{"backend": "gpu", "warmup_s": 1.0, field: value})  # type: ignore[arg-type]


def test_bad_planner_arguments_are_clear_errors() -> None:
    with pytest.raises(ValidationError, match="specs\\['cpu'\\]"):
        PrewarmPlanner({"cpu": GPU})
    with pytest.raises(ValidationError, match="lead"):
        PrewarmPlanner({}, lead=1.0)
    with pytest.raises(ValidationError, match="memory\\['vram'\\]"):
        PrewarmPlanner({}, memory={"vram": -1.0})


def test_a_few_visits_priced_by_the_prior_do_not_skew_the_pace_for_long() -> None:
    pace = Pace()
    key = ("llm", "rag", "draft")
    for _ in range(2):  # the prior prices the call at 2.5 s; it takes 0.2 s
        pace.observe(key, observed_s=0.2, predicted_s=2.5)
    for _ in range(3):  # the learned model prices it at 0.25 s
        pace.observe(key, observed_s=0.2, predicted_s=0.25)
    assert pace.factor(key) == pytest.approx(0.8)
    assert pace.factor(("llm", "rag", "answer")) == pytest.approx(0.8)  # the backend's


def test_bad_pace_settings_are_clear_errors() -> None:
    with pytest.raises(ValidationError, match="window"):
        Pace(window=0)
    with pytest.raises(ValidationError, match="min_visits"):
        Pace(window=3, min_visits=4)
