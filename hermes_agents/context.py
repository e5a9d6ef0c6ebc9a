"""Which LangGraph node is running here: what scheduled calls report as their stage.

LangGraph runs each node with its config in LangChain's context variable, and copies the
context into its worker threads and asyncio tasks, so any call made inside a node, however
deep, can find the node's name and step. A subgraph counts as one stage: calls inside it report
the parent graph's node.

>>> current_node() is None  # outside any graph
True
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

_RUNNABLE_CONFIG = "langchain_core.runnables.config"


@dataclass(frozen=True)
class NodeContext:
    """The running node of the outermost graph.

    Attributes:
        node: the node's name (the stage of calls made in it).
        visit: names this visit of the node: parallel tasks of one node in one step (``Send``
            fan-out) share it, so their calls count as one stage visit with a fan-out width.
    """

    node: str
    visit: str


def current_node() -> NodeContext | None:
    """The outermost graph's node running in this context, or None outside any graph.

    Imports nothing: where LangChain was never imported, no graph can be running.
    """
    runnable_config = sys.modules.get(_RUNNABLE_CONFIG)
    if runnable_config is None:
        return None
    config = runnable_config.var_child_runnable_config.get()
    if not config:
        return None
    metadata = config.get("metadata") or {}
    node = metadata.get("langgraph_node")
    if not isinstance(node, str):
        return None
    namespace = str(metadata.get("langgraph_checkpoint_ns") or "")
    if "|" in namespace:  # inside a subgraph: report the parent graph's node
        outer = namespace.split("|", 1)[0]
        return NodeContext(outer.split(":", 1)[0], outer)
    return NodeContext(node, f"{node}@{metadata.get('langgraph_step')}")
