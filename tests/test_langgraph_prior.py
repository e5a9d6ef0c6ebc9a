"""The structural prior never rejects a graph LangGraph compiles: destinations dicts, loops
without an END edge, ``Command``-only routing; subgraphs are inlined under their node."""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal, TypedDict

import pytest
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command

from hermes_agents.dropins.langgraph_prior import graph_prior
from hermes_agents.langgraph import instrument
from hermes_agents.scheduling import LocalScheduler


class State(TypedDict, total=False):
    path: Annotated[list[str], operator.add]


def _step(name: str) -> Any:
    return lambda state: {"path": [name]}


@pytest.fixture
def scheduler() -> LocalScheduler:
    return LocalScheduler.in_process()


def test_a_destinations_dict_names_nodes_by_its_keys() -> None:
    def route(state: State) -> Command[Any]:
        return Command(goto="b")

    builder = StateGraph(State)
    builder.add_node("a", route, destinations={"b": "label of b", "c": "label of c"})
    builder.add_node("b", _step("b"))
    builder.add_node("c", _step("c"))
    builder.add_edge(START, "a")
    prior = graph_prior(builder.compile(), "dests")
    assert prior is not None
    assert prior.successors("a") == {"b": 0.5, "c": 0.5}
    assert prior.successors("b") == {"END": 1.0}


def test_command_only_routing_is_learned_from_runs(scheduler: LocalScheduler) -> None:
    def route(state: State) -> Command[Any]:  # declares nothing: the prior cannot know
        return Command(goto="b", update={"path": ["a"]})

    builder = StateGraph(State)
    builder.add_node("a", route)
    builder.add_node("b", _step("b"))
    builder.add_edge(START, "a")
    builder.add_edge("b", END)
    app = instrument(builder.compile(), name="commands", scheduler=scheduler)
    assert app.prior is not None
    assert app.prior.successors("a") == {"END": 1.0}
    for _ in range(20):
        assert app.invoke({"path": []}) == {"path": ["a", "b"]}
    learned = app.pdgraph
    assert learned is not None
    assert learned.successors("a")["b"] > 0.9


def test_a_loop_with_no_end_edge_may_end_anywhere_in_it() -> None:
    def agent(state: State) -> Command[Literal["tools"]]:
        return Command(goto="tools")

    builder = StateGraph(State)
    builder.add_node("setup", _step("setup"))
    builder.add_node("agent", agent)
    builder.add_node("tools", _step("tools"))
    builder.add_edge(START, "setup")
    builder.add_edge("setup", "agent")
    builder.add_edge("tools", "agent")
    prior = graph_prior(builder.compile(), "loop")
    assert prior is not None
    assert prior.successors("agent") == {"tools": 0.5, "END": 0.5}
    assert prior.successors("tools") == {"agent": 0.5, "END": 0.5}
    assert prior.successors("setup") == {"agent": 0.5, "END": 0.5}


def test_a_subgraph_node_is_inlined_under_its_name() -> None:
    inner = StateGraph(State)
    inner.add_node("x", _step("x"))
    inner.add_node("y", _step("y"))
    inner.add_edge(START, "x")
    inner.add_conditional_edges("x", lambda s: "y", {"go": "y", "stop": END})
    outer = StateGraph(State)
    outer.add_node("sub", inner.compile())
    outer.add_node("after", _step("after"))
    outer.add_edge(START, "sub")
    outer.add_edge("sub", "after")
    outer.add_edge("after", END)
    prior = graph_prior(outer.compile(), "nested")
    assert prior is not None
    assert prior.successors("sub") == {"sub/x": 1.0}
    assert prior.successors("sub/x") == {"sub/y": 0.5, "after": 0.5}
    assert prior.successors("sub/y") == {"after": 1.0}


def test_no_builder_no_prior() -> None:
    assert graph_prior(object(), "nothing") is None
