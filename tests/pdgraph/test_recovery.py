"""The learner recovers known graphs from runs drawn from them (the paper mix)."""

from __future__ import annotations

import numpy as np
import pytest

from hermes_agents import Learner, LLMCost, RemainingDemand
from hermes_agents.pdgraph import Call, StageKind, Visit
from hermes_agents.pdgraph.synthetic import sample_runs
from hermes_agents.workloads import builtin


@pytest.mark.parametrize("app", ["react_fever", "code_feedback", "langchain_mapreduce"])
def test_branch_probabilities_and_fanout_are_recovered(app: str) -> None:
    truth = builtin("paper-mix").apps[app]
    learner = Learner(app)
    for run in sample_runs(truth, np.random.default_rng(1), 400):
        learner.observe(run)
    learned = learner.graph()
    for name, stage in truth.stages.items():
        for target, probability in stage.next.items():
            assert learned.successors(name).get(target, 0.0) == pytest.approx(probability, abs=0.07)
        assert learned.stages[name].fanout.mean == pytest.approx(stage.fanout.mean, rel=0.15)


def test_learned_model_predicts_like_the_truth() -> None:
    workload = builtin("paper-mix")
    truth = workload.apps["factool_kbqa"]
    learner = Learner(truth.name)
    for run in sample_runs(truth, np.random.default_rng(2), 300):
        learner.observe(run)
    cost = workload.cost_model()
    expected = RemainingDemand(truth, cost).mean(truth.entry)
    assert RemainingDemand(learner.graph(), cost).mean(truth.entry) == pytest.approx(
        expected, rel=0.1
    )


def test_non_geometric_loop_is_conditioned_on_turns_done() -> None:
    """A ReAct loop of 17 +- 3 turns: a run on turn 15 has far less left than one on turn 2."""
    rng = np.random.default_rng(3)
    turns = np.clip(np.rint(rng.normal(17, 3, 400)), 8, 26).astype(int)
    learner = Learner("alfw")
    for count in turns:
        learner.observe([Visit("thought", StageKind.LLM, "llm", (Call(2000, 14),))] * count)
    demand = RemainingDemand(learner.graph())
    per_turn = LLMCost().seconds_one(2000, 14)
    for turn in (2, 10, 15, 18):
        # Turns left, this one included, for runs that reach this turn: E[T - turn + 1 | T >= turn]
        expected = float((turns[turns >= turn] - turn + 1).mean())
        predicted = demand.mean("thought", {"thought": turn}) / per_turn
        assert predicted == pytest.approx(expected, rel=0.15), turn
    assert demand.rank("thought", {"thought": 15}) < demand.rank("thought", {"thought": 2})
