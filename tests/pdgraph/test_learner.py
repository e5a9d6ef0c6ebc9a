"""The learner: branch probabilities, windows, priors, fan-out and per-visit loop tables."""

from __future__ import annotations

import numpy as np
import pytest

from hermes_agents import ValidationError
from hermes_agents.pdgraph import Call, Learner, PDGraph, StageKind, Visit, structural_prior


def llm(stage: str, prompt: int = 100, output: int = 10, width: int = 1) -> Visit:
    return Visit(stage, StageKind.LLM, "llm", tuple(Call(prompt, output) for _ in range(width)))


def tool(stage: str, seconds: float) -> Visit:
    return Visit(stage, StageKind.TOOL, "sandbox", (Call(seconds=seconds),))


def branching_run(rng: np.random.Generator, p_search: float) -> list[Visit]:
    run = [llm("plan")]
    run.append(tool("search", 1.0) if rng.random() < p_search else llm("answer"))
    return run


def test_branch_probabilities_converge_to_the_truth() -> None:
    rng = np.random.default_rng(11)
    learner = Learner("router")
    for _ in range(200):
        learner.observe(branching_run(rng, 0.3))
    graph = learner.graph()
    assert graph.successors("plan")["search"] == pytest.approx(0.3, abs=0.07)
    assert graph.successors("plan")["answer"] == pytest.approx(0.7, abs=0.07)
    assert graph.successors("search") == {"END": 1.0}
    assert graph.entry == "plan"
    assert graph.version == 200


def test_window_forgets_old_behaviour() -> None:
    rng = np.random.default_rng(5)
    learner = Learner("router", window=100)
    for _ in range(300):
        learner.observe(branching_run(rng, 0.9))
    for _ in range(100):
        learner.observe(branching_run(rng, 0.1))
    assert learner.graph().successors("plan")["search"] == pytest.approx(0.1, abs=0.07)


def test_demand_windows_keep_the_most_recent_samples() -> None:
    learner = Learner("a", window=10)
    for prompt in range(30):
        learner.observe([llm("ask", prompt=prompt)])
    tokens = learner.graph().stages["ask"].prompt_tokens
    assert tokens is not None
    assert sorted(tokens.samples.tolist()) == list(range(20, 30))


def test_prior_is_used_until_observations_override_it() -> None:
    prior = structural_prior(
        "router",
        "plan",
        {"plan": ["search", "answer"], "search": [], "answer": []},
        kinds={"search": "tool"},
        backends={"search": "sandbox"},
    )
    assert prior.successors("plan") == {"search": 0.5, "answer": 0.5}
    learner = Learner("router", prior, min_samples=5)
    assert learner.graph() is prior
    for _ in range(3):
        learner.observe([llm("plan", prompt=7), llm("answer")])
    graph = learner.graph()
    # 3 observations + 2 pseudo-counts at 0.5/0.5: answer (3 + 1) / 5, search 1 / 5.
    assert graph.successors("plan") == pytest.approx({"answer": 0.8, "search": 0.2})
    prompt = graph.stages["plan"].prompt_tokens
    assert prompt is not None
    assert prompt.samples.mean() > 100  # still the prior's default (500 +- 250)
    for _ in range(2):
        learner.observe([llm("plan", prompt=7), llm("answer")])
    prompt = learner.graph().stages["plan"].prompt_tokens
    assert prompt is not None
    assert prompt.samples.tolist() == [7.0] * 5


def test_a_stage_whose_prior_guessed_another_kind_is_valid_from_the_first_run() -> None:
    # A LangGraph prior guesses every node is an LLM call; a node that calls a tool instead
    # gets the tool defaults (seconds) until its own samples take over, never an invalid graph.
    prior = structural_prior("pause", "think", {"think": ["look_up"], "look_up": []})
    learner = Learner("pause", prior, min_samples=5)
    learner.observe([llm("think"), tool("look_up", 4.0)])
    graph = learner.graph()
    stage = graph.stages["look_up"]
    assert (stage.kind, stage.backend) == (StageKind.TOOL, "sandbox")
    assert stage.seconds is not None
    assert graph.successors("think") == pytest.approx({"look_up": 1.0})


def test_fanout_width_is_learned() -> None:
    learner = Learner("mapreduce")
    for width in [3, 5, 7] * 4:
        learner.observe([llm("map", width=width), llm("reduce")])
    fanout = learner.graph().stages["map"].fanout
    assert sorted(set(fanout.samples.tolist())) == [3.0, 5.0, 7.0]
    assert learner.graph().stages["reduce"].fanout.samples.tolist() == [1.0]


def test_loop_counts_give_per_visit_tables() -> None:
    learner = Learner("react")
    for _ in range(40):
        learner.observe([llm("thought")] * 4)  # always exactly four turns
    graph = learner.graph()
    table = graph.stages["thought"].next_by_visit
    assert table[1] == pytest.approx(
        {"thought": 1.0 * 40 / 42 + 2 * 0.75 / 42, "END": 2 * 0.25 / 42}
    )
    assert table[4]["END"] > 0.95
    assert graph.successors("thought") == pytest.approx({"thought": 0.75, "END": 0.25})


def test_learned_graph_round_trips_through_json() -> None:
    learner = Learner("react")
    for turns in range(1, 30):
        learner.observe([llm("thought", prompt=turns)] * (turns % 5 + 1) + [tool("search", 0.5)])
    graph = learner.graph()
    again = PDGraph.from_json(graph.to_json())
    assert again.to_dict() == graph.to_dict()


def test_window_memory_is_bounded() -> None:
    learner = Learner("a", window=1000)
    for _ in range(3000):
        learner.observe([llm("x"), tool("y", 1.0)])
    assert learner.nbytes <= 2 * 7 * 1000 * 8


def test_bad_observations_are_rejected() -> None:
    with pytest.raises(ValidationError, match="at least one visit"):
        Learner("a").observe([])
    with pytest.raises(ValidationError, match="'prompt_tokens'"):
        Call(prompt_tokens=-1)
    with pytest.raises(ValidationError, match="'stage'"):
        Visit("END")
    with pytest.raises(ValidationError, match="nothing to build"):
        Learner("empty").graph()


def test_a_stage_changing_its_kind_is_counted_and_warned_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    learner = Learner("a")
    assert learner.observe([llm("x")])
    with caplog.at_level("WARNING"):
        assert not learner.observe([tool("x", 1.0)])
        assert not learner.observe([llm("y"), tool("x", 2.0)])  # nothing of it is kept
    assert (learner.runs_observed, learner.runs_rejected) == (1, 2)
    assert [r.getMessage() for r in caplog.records if "not learned" in r.getMessage()] == [
        "a run of 'a' was not learned (stage 'x' was observed as llm before, now tool; a "
        "stage keeps its kind); further runs like it are counted in runs_rejected without "
        "warning"
    ]
    assert "y" not in learner.graph().stages


def test_a_visit_that_did_nothing_fits_any_stage() -> None:
    learner = Learner("a")
    idle = Visit("x", StageKind.TOOL, "local", (Call(seconds=0.0),))
    assert learner.observe([idle])  # first seen doing nothing (a pure-code visit)
    assert learner.observe([llm("x")])  # then calling an LLM: the stage becomes one
    assert learner.observe([idle])
    graph = learner.graph()
    assert graph.stages["x"].kind == StageKind.LLM
    assert graph.stages["x"].backend != "local"
    assert learner.runs_rejected == 0
