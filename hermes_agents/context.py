"""Which LangGraph node is running here: what scheduled calls report as their stage.

LangGraph runs each node with its config in LangChain's context variable, and copies the
context into its worker threads and asyncio tasks, so any call made inside a node, however
deep, can find the node. In an instrumented graph, the run's tracker (a callback in that
config: ``dropins.langgraph_tracker``) named every node, subgraph node and ``@task`` when it
started; a call asks it, so calls and the tracker use one naming scheme:

- a node of the top-level graph: stage ``node``, visit ``node@step`` (parallel tasks of one
  node in one step share the visit: their number is its fan-out);
- inside a subgraph or a task: stage ``outer/inner``, visit ``outer@2/inner@1``.

Outside an instrumented graph (no tracker), the names come from the node's metadata alone:
``node`` and ``node@step`` at the top, ``outer/inner`` and the task's namespace inside.

>>> current_node() is None  # outside any graph
True
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from typing import Any

from hermes_agents.bounds import MAX_NAME_CHARS

_RUNNABLE_CONFIG = "langchain_core.runnables.config"


@dataclass(frozen=True)
class NodeContext:
    """The running node: the stage and the visit its calls belong to.

    Attributes:
        node: the stage of calls made in it: the node's name, after the names of the nodes it
            runs inside (``outer/inner``) in a subgraph or a ``@task``.
        visit: names this visit of the stage: parallel tasks of one node in one step (``Send``
            fan-out) share it, so their calls count as one stage visit with a fan-out width.
    """

    node: str
    visit: str


def current_node() -> NodeContext | None:
    """The node running in this context, or None outside any graph.

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
    tracked = _tracked(config.get("callbacks"), namespace)
    if tracked is not None:
        return tracked
    if "|" in namespace:  # inside a subgraph or a task, seen by no tracker
        stage = "/".join(part.split(":", 1)[0] for part in namespace.split("|"))
        return NodeContext(bounded_name(stage), bounded_name(namespace))
    return NodeContext(node, f"{node}@{metadata.get('langgraph_step')}")


def bounded_name(name: str) -> str:
    """``name``, or, past ``MAX_NAME_CHARS``, its start and a digest of the whole: still one
    name per node, within the bounds every stage and visit name keeps."""
    if len(name) <= MAX_NAME_CHARS:
        return name
    digest = hashlib.blake2s(name.encode("utf-8", "replace"), digest_size=8).hexdigest()
    return f"{name[: MAX_NAME_CHARS - len(digest) - 1]}~{digest}"


def _tracked(callbacks: Any, namespace: str) -> NodeContext | None:
    """What a run's tracker among ``callbacks`` named the task of ``namespace``, if any."""
    if callbacks is None or not namespace:
        return None
    if isinstance(callbacks, list | tuple):
        handlers = list(callbacks)
    else:  # a callback manager: inherited handlers are in both lists
        handlers = [
            *getattr(callbacks, "handlers", ()),
            *getattr(callbacks, "inheritable_handlers", ()),
        ]
    for handler in handlers:
        lookup = getattr(handler, "hermes_node_at", None)
        if callable(lookup):
            found = lookup(namespace)
            if isinstance(found, NodeContext):
                return found
    return None
