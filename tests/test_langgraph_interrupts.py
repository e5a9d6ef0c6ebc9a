"""Interrupts suspend, resumes continue: a run that stops at ``interrupt()`` (or
``interrupt_before``) holds no slot and has no rank while a human thinks; the resume on the same
thread continues the same app run, learned once, whole; runs never resumed expire unlearned."""

from __future__ import annotations

import operator
import random
from typing import Annotated, Any, Literal, TypedDict

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

from hermes_agents.langgraph import instrument
from hermes_agents.scheduling import BackendLimits, LocalScheduler, SchedulerCore, Usage
from hermes_agents.scheduling.interface import SUSPENDED_RUN_TTL_S
from hermes_agents.scheduling.models import AppModels
from hermes_agents.scheduling.policies import policy_named

RUNS = 200
SHARE = 0.3


class State(TypedDict, total=False):
    seed: int
    answer: str
    path: Annotated[list[str], operator.add]


def _publishes(seed: int) -> bool:
    return random.Random(seed).random() < SHARE


@pytest.fixture
def now() -> list[float]:
    return [0.0]


@pytest.fixture
def scheduler(now: list[float]) -> LocalScheduler:
    core = SchedulerCore(
        {"llm": BackendLimits(1)}, policy_named("gittins"), lambda: now[0], models=AppModels()
    )
    return LocalScheduler(core)


def _review(scheduler: LocalScheduler, runs_seen: list[str | None]) -> StateGraph[Any]:
    """draft (an LLM call) -> ask (a human: interrupt) -> publish (an LLM call) | discard."""

    def call(stage: str) -> dict[str, Any]:
        runs_seen.append(scheduler.current_run_id())
        with scheduler.slot("llm") as slot:
            slot.usage = Usage(prompt_tokens=200, output_tokens=40)
        return {"path": [stage]}

    def ask(state: State) -> dict[str, Any]:
        return {"answer": interrupt("publish?"), "path": ["ask"]}

    def decide(state: State) -> Literal["publish", "discard"]:
        return "publish" if state["answer"] == "yes" else "discard"

    builder = StateGraph(State)
    builder.add_node("draft", lambda state: call("draft"))
    builder.add_node("ask", ask)
    builder.add_node("publish", lambda state: call("publish"))
    builder.add_node("discard", lambda state: {"path": ["discard"]})
    builder.add_edge(START, "draft")
    builder.add_edge("draft", "ask")
    builder.add_conditional_edges("ask", decide)
    builder.add_edge("publish", END)
    builder.add_edge("discard", END)
    return builder


def _learner(scheduler: LocalScheduler, app: str) -> Any:
    models = scheduler.core.models
    assert isinstance(models, AppModels)
    return models._learners[app]


def test_a_human_in_the_loop_learns_its_true_branches(scheduler: LocalScheduler) -> None:
    seen: list[str | None] = []
    app = instrument(
        _review(scheduler, seen).compile(checkpointer=InMemorySaver()),
        name="review",
        scheduler=scheduler,
    )
    for seed in range(RUNS):
        config: Any = {"configurable": {"thread_id": f"t{seed}"}}
        first = app.invoke({"seed": seed, "path": []}, config)
        assert "__interrupt__" in first
        assert scheduler.core.runs == {}  # no rank, no slot, no warm-up while a human thinks
        assert len(scheduler.core.suspended) == 1
        answer = "yes" if _publishes(seed) else "no"
        assert app.invoke(Command(resume=answer), config)["path"][-1] in ("publish", "discard")
        assert scheduler.core.suspended == {}
    learner = _learner(scheduler, "review")
    assert (learner.runs_observed, learner.runs_rejected) == (RUNS, 0)  # once each, whole
    learned = app.pdgraph
    assert learned is not None
    truth = sum(_publishes(seed) for seed in range(RUNS)) / RUNS
    published = learned.successors("ask")["publish"]
    assert abs(published - truth) <= 0.07
    assert abs(published - SHARE) <= 0.07
    assert "END" not in learned.successors("ask")  # never learned as ending at the interrupt
    assert learned.successors("draft") == {"ask": 1.0}
    assert learned.entry == "draft"
    assert len(set(seen)) == RUNS  # draft and publish of one thread: one run


def test_the_resume_continues_the_run_where_it_stopped(scheduler: LocalScheduler) -> None:
    seen: list[str | None] = []
    app = instrument(
        _review(scheduler, seen).compile(checkpointer=InMemorySaver(), interrupt_before=["ask"]),
        name="review",
        scheduler=scheduler,
    )
    config: Any = {"configurable": {"thread_id": "t"}}
    app.invoke({"seed": 1, "path": []}, config)  # stops before ask (a static interrupt)
    ((run_id, (run, _)),) = scheduler.core.suspended.items()
    attained = run.attained_s
    assert attained > 0
    assert run.stage == "draft"
    app.invoke(None, config)  # ask runs, then interrupt() stops it again
    assert list(scheduler.core.suspended) == [run_id]
    app.invoke(Command(resume="yes"), config)
    assert seen == [run_id, run_id]  # draft and publish: one run
    assert _learner(scheduler, "review").runs_observed == 1
    learned = app.pdgraph
    assert learned is not None  # one whole run, blended with the prior's two pseudo-runs
    assert learned.successors("ask") == pytest.approx({"publish": 2 / 3, "discard": 1 / 3})


def test_interrupts_inside_a_subgraph_suspend_the_outer_run(scheduler: LocalScheduler) -> None:
    inner = _review(scheduler, []).compile()
    outer = StateGraph(State)
    outer.add_node("review", inner)
    outer.add_edge(START, "review")
    outer.add_edge("review", END)
    app = instrument(outer.compile(checkpointer=InMemorySaver()), name="outer", scheduler=scheduler)
    config: Any = {"configurable": {"thread_id": "t"}}
    app.invoke({"seed": 1, "path": []}, config)
    assert len(scheduler.core.suspended) == 1
    assert scheduler.core.runs == {}
    state = app.get_state(config, subgraphs=True)
    assert state.tasks
    assert state.tasks[0].state is not None
    app.invoke(Command(resume="no"), config)
    learned = app.pdgraph
    assert learned is not None
    assert _learner(scheduler, "outer").runs_observed == 1
    assert learned.successors("review/ask")["review/discard"] == pytest.approx(2 / 3)


def test_a_run_never_resumed_expires_and_is_not_learned(
    scheduler: LocalScheduler, now: list[float]
) -> None:
    app = instrument(
        _review(scheduler, []).compile(checkpointer=InMemorySaver()),
        name="review",
        scheduler=scheduler,
    )
    config: Any = {"configurable": {"thread_id": "t"}}
    app.invoke({"seed": 1, "path": []}, config)
    now[0] += SUSPENDED_RUN_TTL_S + 1
    scheduler.core.step()
    assert scheduler.core.suspended == {}
    app.invoke(Command(resume="yes"), config)  # too late: the rest is a run of its own
    assert _learner(scheduler, "review").runs_observed == 0
    assert scheduler.core.runs == {}


def test_a_resume_elsewhere_is_a_run_that_is_not_learned(scheduler: LocalScheduler) -> None:
    graph = _review(scheduler, []).compile(checkpointer=InMemorySaver())
    config: Any = {"configurable": {"thread_id": "t"}}
    instrument(graph, name="review", scheduler=scheduler).invoke({"seed": 1, "path": []}, config)
    other_process = instrument(graph, name="review", scheduler=scheduler)
    assert other_process.invoke(Command(resume="yes"), config)["path"][-1] == "publish"
    assert _learner(scheduler, "review").runs_observed == 0
    assert list(scheduler.core.suspended)  # the first one waits, then expires


def test_a_loop_without_an_end_edge_is_accepted(scheduler: LocalScheduler) -> None:
    """human <-> agent, stopping only at interrupt(): instrument() never rejects a graph."""

    def agent(state: State) -> dict[str, Any]:
        return {"path": ["agent"]}

    def human(state: State) -> Command[Literal["agent"]]:
        return Command(goto="agent", update={"answer": interrupt("next?")})

    builder = StateGraph(State)
    builder.add_node("agent", agent)
    builder.add_node("human", human)
    builder.add_edge(START, "agent")
    builder.add_edge("agent", "human")
    app = instrument(builder.compile(checkpointer=InMemorySaver()), scheduler=scheduler)
    assert app.prior is not None
    assert "END" in app.prior.successors("human")
    config: Any = {"configurable": {"thread_id": "t"}}
    app.invoke({"path": []}, config)
    app.invoke(Command(resume="go on"), config)
    assert len(scheduler.core.suspended) == 1  # the same run, suspended again
