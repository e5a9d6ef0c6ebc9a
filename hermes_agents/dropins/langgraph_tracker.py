"""Which node of an app run runs where: the stage and visit of every LangGraph node, subgraph
node and ``@task``, followed through LangChain callbacks.

One ``NodeTracker`` follows one top-level invocation of an instrumented graph. LangGraph hands
its callbacks down to every node, subgraph and task, however deep, so the tracker sees each of
them start. It names each one once, and ``hermes_agents.context.current_node()`` asks it for
that name when a call is made inside (the one naming scheme of every scheduled call):

- a node of the top-level graph is the stage ``node``, its visit ``node@step``: parallel tasks
  of one node in one step (``Send``) share the visit, their number is its fan-out;
- a node inside a subgraph (a compiled graph as a node, or a graph invoked inside a node) is
  the stage ``outer/inner``, its visit ``outer@3/inner@1``, so parallel subgraphs share visits
  as parallel nodes do;
- a functional ``@task`` is the stage ``caller/task``; calls of one task that run at the same
  time share a visit (fan-out), one that starts after the others ended is a new visit.

It also notices when the run stops at an interrupt (``interrupted``), through LangGraph's graph
lifecycle callbacks where the installed LangGraph has them, else from the ``GraphInterrupt`` a
top-level node raises (``interrupt()`` only; ``interrupt_before`` needs the lifecycle events).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from itertools import count
from typing import Any
from uuid import UUID

from langgraph.errors import GraphInterrupt

from hermes_agents.context import NodeContext, bounded_name
from hermes_agents.scheduling.interface import Scheduler

try:
    from langgraph.callbacks import GraphCallbackHandler as _Handler
except ImportError:  # langgraph < 1.1: no lifecycle events (interrupts are node errors)
    from langchain_core.callbacks import BaseCallbackHandler as _Handler  # type: ignore[assignment]

SEPARATOR = "/"
"""Joins the names of enclosing nodes and the node in a stage name (``outer/inner``)."""
MAX_NAMED_TASKS = 4096
"""Task namespaces a tracker remembers (the oldest are forgotten first)."""

_trackers = count(1)


class NodeTracker(_Handler):
    """Names the stage visits of one run and enters them (see the module docstring)."""

    run_inline = True  # in the node's own thread and loop, before the node's code runs
    raise_error = False

    def __init__(self, scheduler: Scheduler, run_id: str) -> None:
        super().__init__()
        self.scheduler = scheduler
        self.run_id = run_id
        self.root: UUID | None = None
        """The graph run this tracker was given to (its first chain run)."""
        self.interrupted = False
        """Whether the graph stopped at an interrupt (it can be resumed)."""
        self._nonce = next(_trackers)
        self._ids = count(1)
        self._lock = threading.Lock()
        self._parents: dict[UUID, UUID | None] = {}
        self._node_runs: dict[UUID, NodeContext] = {}
        self._by_namespace: OrderedDict[str, NodeContext] = OrderedDict()
        self._groups: dict[tuple[str, str], list[Any]] = {}
        self._task_runs: dict[UUID, tuple[str, str]] = {}

    def hermes_node_at(self, namespace: str) -> NodeContext | None:
        """The stage and visit of the task with checkpoint namespace ``namespace`` (what
        ``current_node()`` asks), or None if this run has no such task."""
        return self._by_namespace.get(namespace)

    # -- callbacks ----------------------------------------------------------------------------

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        with self._lock:
            if self.root is None:
                self.root = run_id
                return
            self._parents[run_id] = parent_run_id
            context = self._node_started(run_id, parent_run_id, metadata or {}, kwargs)
        if context is not None:
            self.scheduler.move_run(self.run_id, context.node, visit=context.visit)

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._ended(run_id)

    def on_chain_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        if isinstance(error, GraphInterrupt) and parent_run_id == self.root:
            self.interrupted = True  # a top-level node stopped at interrupt()
        self._ended(run_id)

    def on_interrupt(self, event: Any) -> None:
        """LangGraph's lifecycle event: a graph paused at an interrupt (ours, or a child's)."""
        if getattr(event, "run_id", None) == self.root:
            self.interrupted = True

    # -- naming -------------------------------------------------------------------------------

    def _node_started(
        self,
        run_id: UUID,
        parent_run_id: UUID | None,
        metadata: dict[str, Any],
        kwargs: dict[str, Any],
    ) -> NodeContext | None:
        """The new visit a chain run starts, if it is a node's or task's own run (the first
        run named after its node with that task's namespace); else None."""
        node = metadata.get("langgraph_node")
        namespace = metadata.get("langgraph_checkpoint_ns")
        if not isinstance(node, str) or not isinstance(namespace, str) or not namespace:
            return None
        if kwargs.get("name") != node:
            return None  # a runnable inside a node, or a subgraph's own run
        known = self._by_namespace.get(namespace)
        if known is not None:  # a retry of the node, or its inner runnable named the same
            self._node_runs[run_id] = known
            return None
        parent = self._enclosing(namespace, parent_run_id)
        stage = node if parent is None else f"{parent.node}{SEPARATOR}{node}"
        if _is_task_call(metadata.get("langgraph_path")):
            visit = self._task_visit(parent, stage, run_id)
        else:
            step = metadata.get("langgraph_step")
            own = f"{node}@{step}"
            visit = own if parent is None else f"{parent.visit}{SEPARATOR}{own}"
        context = NodeContext(bounded_name(stage), bounded_name(visit))
        self._node_runs[run_id] = context
        self._by_namespace[namespace] = context
        if len(self._by_namespace) > MAX_NAMED_TASKS:
            self._by_namespace.popitem(last=False)
        return context

    def _enclosing(self, namespace: str, parent_run_id: UUID | None) -> NodeContext | None:
        """The node this one runs inside: by namespace (subgraphs, tasks), else by walking up
        the runs (a graph invoked with its own thread starts a namespace of its own)."""
        if "|" in namespace:
            return self._by_namespace.get(namespace.rsplit("|", 1)[0])
        walk = parent_run_id
        while walk is not None and walk != self.root:
            context = self._node_runs.get(walk)
            if context is not None:
                return context
            walk = self._parents.get(walk)
        return None

    def _task_visit(self, parent: NodeContext | None, stage: str, run_id: UUID) -> str:
        """Calls of one task that overlap share a visit; a later call is a new visit."""
        key = (parent.visit if parent is not None else "", stage)
        group = self._groups.get(key)
        if group is None or group[1] == 0:
            own = f"{stage.rsplit(SEPARATOR, 1)[-1]}#{self._nonce}.{next(self._ids)}"
            visit = own if parent is None else f"{parent.visit}{SEPARATOR}{own}"
            group = self._groups[key] = [visit, 0]
        group[1] += 1
        self._task_runs[run_id] = key
        return str(group[0])

    def _ended(self, run_id: UUID) -> None:
        with self._lock:
            self._parents.pop(run_id, None)
            self._node_runs.pop(run_id, None)
            key = self._task_runs.pop(run_id, None)
            if key is not None:
                self._groups[key][1] -= 1


def _is_task_call(path: Any) -> bool:
    """Whether a task's ``langgraph_path`` is a functional ``@task`` call (a push task that
    names the task that called it), not a node or a ``Send``."""
    return isinstance(path, tuple) and len(path) >= 3 and isinstance(path[1], tuple)


def find_tracker(callbacks: Any, scheduler: Scheduler) -> NodeTracker | None:
    """The tracker of ``scheduler`` among ``callbacks`` (a list or a callback manager)."""
    for handler in handlers_of(callbacks):
        if isinstance(handler, NodeTracker) and handler.scheduler is scheduler:
            return handler
    return None


def handlers_of(callbacks: Any) -> list[Any]:
    """The handlers in a config's ``callbacks`` (None, a list, or a callback manager)."""
    if callbacks is None:
        return []
    if isinstance(callbacks, list | tuple):
        return list(callbacks)
    handlers = list(getattr(callbacks, "handlers", None) or [])
    return handlers + list(getattr(callbacks, "inheritable_handlers", None) or [])
