"""A LangGraph graph that branches at random with a known share, for learning tests."""

from __future__ import annotations

import operator
import random
from typing import Annotated, Any, Literal, TypedDict

from langgraph.graph import END, START, StateGraph

from hermes_agents.context import current_node
from hermes_agents.scheduling import Usage
from hermes_agents.scheduling.interface import Scheduler


class State(TypedDict, total=False):
    seed: int
    path: Annotated[list[str], operator.add]


def goes_left(seed: int, share: float) -> bool:
    """Whether the run with ``seed`` takes the left branch (true for about ``share`` of seeds)."""
    return random.Random(seed).random() < share


def branching_graph(scheduler: Scheduler, *, share: float, usage: Usage) -> Any:
    """route -> left (one LLM call reporting ``usage``) or right (no call) -> END."""

    def route(state: State) -> dict[str, Any]:
        return {"path": ["route"]}

    def choose(state: State) -> Literal["left", "right"]:
        return "left" if goes_left(state["seed"], share) else "right"

    def left(state: State) -> dict[str, Any]:
        node = current_node()
        assert node is not None
        with scheduler.slot("llm", stage=node.node, visit=node.visit) as slot:
            slot.usage = usage
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
    return builder.compile(name="branching")
