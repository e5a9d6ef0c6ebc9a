"""current_node() inside real LangGraph graphs, not instrumented: sync, async, worker threads,
Send, subgraphs (instrumented graphs: tests/test_langgraph_nesting.py)."""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import Send

from hermes_agents.context import NodeContext, current_node


class State(TypedDict):
    items: list[int]
    seen: Annotated[list[Any], operator.add]


def _record(state: State) -> dict[str, Any]:
    return {"seen": [current_node()]}


def _graph() -> Any:
    inner = StateGraph(State)
    inner.add_node("inner", _record)
    inner.add_edge(START, "inner")
    builder = StateGraph(State)
    builder.add_node("plan", _record)
    builder.add_node("work", _record)
    builder.add_node("nested", inner.compile())
    builder.add_edge(START, "plan")
    builder.add_conditional_edges(
        "plan", lambda s: [Send("work", {"items": [i], "seen": []}) for i in s["items"]], ["work"]
    )
    builder.add_edge("work", "nested")
    builder.add_edge("nested", END)
    return builder.compile()


def _check(seen: list[NodeContext | None]) -> None:
    assert seen[0] == NodeContext("plan", "plan@1")
    assert seen[1:4] == [NodeContext("work", "work@2")] * 3  # one visit, fan-out 3
    nested = seen[-1]  # the subgraph hands back the whole list, then its own record
    assert nested is not None
    assert nested.node == "nested/inner"  # outside an instrumented graph: named from metadata
    assert nested.visit.startswith("nested:")


def test_sync_graph_with_worker_threads() -> None:
    _check(_graph().invoke({"items": [1, 2, 3], "seen": []})["seen"])


def test_async_graph() -> None:
    _check(asyncio.run(_graph().ainvoke({"items": [1, 2, 3], "seen": []}))["seen"])


def test_outside_a_graph() -> None:
    assert current_node() is None
