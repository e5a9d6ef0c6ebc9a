"""One app run per top-level invocation, whatever it nests: subgraph nodes, graphs invoked in
a node, instrumented graphs inside instrumented graphs, ``@entrypoint`` / ``@task``. Their
nodes are stages ``outer/inner`` of the outer app, named the same way by the tracker and by the
calls made inside them, and each learns its true branch probabilities."""

from __future__ import annotations

import operator
import random
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypedDict

import pytest
from langgraph.func import entrypoint, task
from langgraph.graph import END, START, StateGraph
from langgraph.types import Send

from hermes_agents.context import current_node
from hermes_agents.langgraph import instrument
from hermes_agents.pdgraph import PDGraph
from hermes_agents.scheduling import BackendLimits, LocalScheduler, Usage
from hermes_agents.scheduling.interface import Scheduler
from hermes_agents.scheduling.models import AppModels

RUNS = 200
SHARE = 0.3


class State(TypedDict, total=False):
    seed: int
    path: Annotated[list[str], operator.add]


class Path(TypedDict):
    path: Annotated[list[str], operator.add]


def _left(seed: int) -> bool:
    return random.Random(seed).random() < SHARE


def _truth() -> float:
    return sum(_left(seed) for seed in range(RUNS)) / RUNS


def _call(scheduler: Scheduler, prompt_tokens: int = 100) -> None:
    """A drop-in's call: no stage given, so it is the node's (``current_node()``)."""
    with scheduler.slot("llm") as slot:
        slot.usage = Usage(prompt_tokens=prompt_tokens, output_tokens=10)


def _branching(scheduler: Scheduler, name: str = "inner") -> Any:
    """route -> left (an LLM call) with SHARE, else right (no call) -> END."""

    def route(state: State) -> dict[str, Any]:
        return {"path": ["route"]}

    def choose(state: State) -> Literal["left", "right"]:
        return "left" if _left(state["seed"]) else "right"

    def left(state: State) -> dict[str, Any]:
        _call(scheduler)
        return {"path": ["left"]}

    def right(state: State) -> dict[str, Any]:
        return {"path": ["right"]}

    builder = StateGraph(State)
    builder.add_node("route", route)
    builder.add_node("left", left)
    builder.add_node("right", right)
    builder.add_edge(START, "route")
    builder.add_conditional_edges("route", choose)
    builder.add_edge("left", END)
    builder.add_edge("right", END)
    return builder.compile(name=name)


def _outer(scheduler: Scheduler, middle: Any) -> Any:
    """plan (an LLM call) -> middle (a node: a graph, or a function) -> done -> END."""

    def plan(state: State) -> dict[str, Any]:
        _call(scheduler, 300)
        return {"path": ["plan"]}

    def done(state: State) -> dict[str, Any]:
        return {"path": ["done"]}

    builder = StateGraph(State)
    builder.add_node("plan", plan)
    builder.add_node("middle", middle)
    builder.add_node("done", done)
    builder.add_edge(START, "plan")
    builder.add_edge("plan", "middle")
    builder.add_edge("middle", "done")
    builder.add_edge("done", END)
    return builder.compile(name="outer")


def _subgraph_node(scheduler: Scheduler) -> Any:
    return _outer(scheduler, _branching(scheduler))


def _invoked_in_a_node(scheduler: Scheduler) -> Any:
    inner = _branching(scheduler)
    return _outer(scheduler, lambda state: {"path": inner.invoke({"seed": state["seed"]})["path"]})


def _instrumented_node(scheduler: Scheduler) -> Any:
    return _outer(scheduler, instrument(_branching(scheduler), scheduler=scheduler))


def _instrumented_invoked_in_a_node(scheduler: Scheduler) -> Any:
    inner = instrument(_branching(scheduler), name="inner", scheduler=scheduler)
    return _outer(scheduler, lambda state: {"path": inner.invoke({"seed": state["seed"]})["path"]})


NESTINGS: dict[str, Callable[[Scheduler], Any]] = {
    "subgraph node": _subgraph_node,
    "graph invoked in a node": _invoked_in_a_node,
    "instrumented graph as a node": _instrumented_node,
    "instrumented graph invoked in a node": _instrumented_invoked_in_a_node,
}


@pytest.fixture
def scheduler() -> LocalScheduler:
    return LocalScheduler.in_process({"llm": BackendLimits(2)})


def _learner(scheduler: LocalScheduler, app: str) -> Any:
    models = scheduler.core.models
    assert isinstance(models, AppModels)
    return models._learners.get(app)


def _learned(scheduler: LocalScheduler, app: str) -> PDGraph:
    graph = scheduler.learned_graph(app)
    assert graph is not None
    return graph


@pytest.mark.parametrize("nesting", NESTINGS)
def test_nested_graphs_are_stages_of_one_run_and_learn_their_branches(
    nesting: str, scheduler: LocalScheduler
) -> None:
    app = instrument(NESTINGS[nesting](scheduler), name="outer", scheduler=scheduler)
    for seed in range(RUNS):
        result = app.invoke({"seed": seed, "path": []})
        assert result["path"][-1] == "done"
    learned = _learned(scheduler, "outer")
    assert _learner(scheduler, "outer").runs_observed == RUNS  # one run each, none rejected
    assert _learner(scheduler, "outer").runs_rejected == 0
    inner = _learner(scheduler, "inner")
    assert inner is None or inner.runs_observed == 0  # no run of its own: it was a stage
    assert learned.successors("plan")["middle"] >= 0.99
    assert learned.successors("middle")["middle/route"] >= 0.99  # the prior fades (2 pseudo-runs)
    left = learned.successors("middle/route")["middle/left"]
    assert abs(left - _truth()) <= 0.07
    assert abs(left - SHARE) <= 0.07
    assert learned.stages["middle/left"].backend == "llm"  # the call joined the node's visit
    assert learned.stages["middle/right"].backend == "local"
    assert learned.successors("middle/left")["done"] >= 0.99
    assert scheduler.core.runs == {}
    assert scheduler.unscheduled_calls == 0


def test_instrumenting_twice_is_one_run(scheduler: LocalScheduler) -> None:
    app = instrument(instrument(_branching(scheduler), scheduler=scheduler), scheduler=scheduler)
    app.invoke({"seed": 1, "path": []})
    assert _learner(scheduler, "inner").runs_observed == 1


def test_calls_and_nodes_share_one_naming_scheme(scheduler: LocalScheduler) -> None:
    """Parallel subgraphs (``Send``) share their nodes' visits, as parallel nodes do."""
    seen: list[Any] = []

    def work(state: State) -> dict[str, Any]:
        seen.append(current_node())
        _call(scheduler)
        return {"path": ["work"]}

    inner = StateGraph(State, output_schema=Path)
    inner.add_node("work", work)
    inner.add_edge(START, "work")
    builder = StateGraph(State)
    builder.add_node("fan", lambda state: {"path": ["fan"]})
    builder.add_node("sub", inner.compile())
    builder.add_edge(START, "fan")
    builder.add_conditional_edges("fan", lambda s: [Send("sub", {"seed": i}) for i in range(3)])
    app = instrument(builder.compile(), name="fanned", scheduler=scheduler)
    for _ in range(6):  # fan-out widths replace the prior's after 5 observations
        app.invoke({"seed": 0, "path": []})
    assert {(node.node, node.visit) for node in seen} == {("sub/work", "sub@2/work@1")}
    graph = _learned(scheduler, "fanned")
    assert graph.stages["sub/work"].fanout.mean == 3.0  # one visit, three parallel calls
    assert graph.successors("sub") == {"sub/work": 1.0}


def test_functional_tasks_learn_their_branches(scheduler: LocalScheduler) -> None:
    @task
    def search(seed: int) -> str:
        _call(scheduler, 200)
        return "searched"

    @task
    def answer(seed: int) -> str:
        _call(scheduler, 50)
        return "answered"

    @entrypoint()
    def agent(seed: int) -> str:
        first = search(seed).result() if _left(seed) else "skipped"
        return f"{first} {answer(seed).result()}"

    app = instrument(agent, name="agent", scheduler=scheduler)
    assert app.prior is None  # the functional API has no builder: learned from runs alone
    for seed in range(RUNS):
        assert str(app.invoke(seed)).endswith("answered")
    learned = _learned(scheduler, "agent")
    searched = learned.successors("agent")["agent/search"]
    assert abs(searched - _truth()) <= 0.07
    assert abs(searched - SHARE) <= 0.07
    assert learned.successors("agent/search") == {"agent/answer": 1.0}
    assert learned.successors("agent/answer") == {"END": 1.0}
    assert learned.stages["agent/search"].backend == "llm"


def test_overlapping_task_calls_are_one_visit(scheduler: LocalScheduler) -> None:
    @task
    def fetch(index: int) -> int:
        _call(scheduler)
        return index

    @entrypoint()
    def gather(width: int) -> int:
        return sum(future.result() for future in [fetch(i) for i in range(width)])

    seen: list[Any] = []

    @task
    def probe(index: int) -> int:
        seen.append(current_node())
        return index

    @entrypoint()
    def sequential(width: int) -> int:
        return sum(probe(i).result() for i in range(width))

    instrument(sequential, name="sequential", scheduler=scheduler).invoke(3)
    assert len({node.visit for node in seen}) == 3  # one after the other: three visits
    assert {node.node for node in seen} == {"sequential/probe"}
    assert instrument(gather, name="gather", scheduler=scheduler).invoke(3) == 3
