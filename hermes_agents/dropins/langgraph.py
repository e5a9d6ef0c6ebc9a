"""``instrument()``: schedule a compiled LangGraph graph as an app, without changing it.

Wrap the compiled graph; use it exactly as before::

    app = instrument(builder.compile(), name="support-bot")
    app.invoke({"question": "..."})                          # same result, scheduled

Or decorate the function that builds the graph::

    @instrument(name="support-bot")
    def build() -> CompiledStateGraph: ...

Every ``invoke`` / ``ainvoke`` / ``stream`` / ``astream`` (and each input of ``batch`` /
``abatch``) is one app run. A callback follows which node runs at which step, so each node
visit is a stage visit of the run, and calls made inside the node (``@tool``, the OpenAI and
LangChain drop-ins) join it through ``hermes_agents.context.current_node()``. Parallel tasks
of one node in one step (``Send``) form one visit whose width is the fan-out. A subgraph is one
stage: its parent's node.

The app's prior PDGraph comes from the builder: nodes, edges, joins, conditional branches (their
path map when given), and ``Command`` destinations; branch probabilities, fan-out widths and
demands are learned from runs (functional-API apps are learned from runs alone). Everything
else (``get_state``, ``update_state``, ``get_graph``, ...) is the wrapped graph's own.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
from collections.abc import AsyncGenerator, Callable, Generator, Sequence
from typing import Any, TypeVar, overload
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.runnables.config import (
    RunnableConfig,
    get_config_list,
    get_executor_for_config,
    merge_configs,
)

from hermes_agents.dropins.langgraph_prior import graph_prior
from hermes_agents.pdgraph import PDGraph
from hermes_agents.scheduling.default import get_scheduler
from hermes_agents.scheduling.interface import RunScope, Scheduler

G = TypeVar("G")
logger = logging.getLogger(__name__)


class _NodeTracker(BaseCallbackHandler):
    """Enters a stage visit of the run each time a node of the outermost graph starts."""

    run_inline = True
    raise_error = False

    def __init__(self, scope: RunScope) -> None:
        self.scope = scope

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
        metadata = metadata or {}
        node, step = metadata.get("langgraph_node"), metadata.get("langgraph_step")
        if not isinstance(node, str) or kwargs.get("name") != node:
            return  # a runnable inside a node, not the node itself
        if f"graph:step:{step}" not in (tags or []):
            return
        if "|" in str(metadata.get("langgraph_checkpoint_ns") or ""):
            return  # a node of a subgraph: the parent's node is the stage
        self.scope.enter_stage(node, visit=f"{node}@{step}")


class InstrumentedGraph:
    """A compiled graph whose runs are scheduled as apps of class ``name`` (see the module)."""

    def __init__(self, graph: Any, *, name: str, scheduler: Scheduler | None = None) -> None:
        self.graph = graph
        self.name = name
        self.prior: PDGraph | None = graph_prior(graph, name)
        self._scheduler = scheduler
        self._registered: set[int] = set()

    @property
    def scheduler(self) -> Scheduler:
        """The scheduler the runs go to (the process default unless one was given)."""
        scheduler = self._scheduler or get_scheduler()
        if id(scheduler) not in self._registered:
            self._registered.add(id(scheduler))
            if self.prior is not None:
                scheduler.add_prior(self.name, self.prior)
        return scheduler

    @property
    def pdgraph(self) -> PDGraph | None:
        """The app's current PDGraph, learned from its runs, else the prior from the graph's
        structure (None for functional-API apps before any run).

        The scheduler's graph (``Scheduler.learned_graph``): an in-process scheduler's learner,
        a shared daemon's (asked over its socket); when it cannot be had, the prior.
        """
        return self.scheduler.learned_graph(self.name) or self.prior

    # -- running ------------------------------------------------------------------------------

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        with self.scheduler.run(self.name) as scope:
            return self.graph.invoke(input, _tracked(config, scope), **kwargs)

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        async with self.scheduler.run(self.name) as scope:
            return await self.graph.ainvoke(input, _tracked(config, scope), **kwargs)

    def stream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Generator[Any, None, None]:
        """Chunks as the graph yields them; the run ends when the stream ends or is closed."""
        context = contextvars.copy_context()  # the run lives here, not in the consumer's context
        scope = context.run(self.scheduler.run(self.name).__enter__)
        try:
            chunks = context.run(self.graph.stream, input, _tracked(config, scope), **kwargs)
            while True:
                try:
                    chunk = context.run(next, chunks)
                except StopIteration:
                    return
                yield chunk
        finally:
            context.run(scope.__exit__, None, None, None)

    async def astream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncGenerator[Any, None]:
        """Async chunks; each step runs in the run's own context (see ``stream``)."""
        context = contextvars.copy_context()
        scope = context.run(self.scheduler.run(self.name).__enter__)
        try:
            chunks = context.run(self.graph.astream, input, _tracked(config, scope), **kwargs)
            while True:
                try:
                    chunk = await asyncio.create_task(anext(chunks), context=context)
                except StopAsyncIteration:
                    return
                yield chunk
        finally:
            context.run(scope.__exit__, None, None, None)

    def batch(
        self,
        inputs: Sequence[Any],
        config: RunnableConfig | Sequence[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Any]:
        """One run per input, in parallel up to the config's ``max_concurrency``."""
        if not inputs:
            return []
        configs = get_config_list(config, len(inputs))

        def one(pair: tuple[Any, RunnableConfig]) -> Any:
            try:
                return self.invoke(pair[0], pair[1], **kwargs)
            except Exception as error:
                if return_exceptions:
                    return error
                raise

        with get_executor_for_config(configs[0]) as executor:  # copies the context per input
            return list(executor.map(one, list(zip(inputs, configs, strict=True))))

    async def abatch(
        self,
        inputs: Sequence[Any],
        config: RunnableConfig | Sequence[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Any]:
        """One run per input, concurrently up to the config's ``max_concurrency``."""
        if not inputs:
            return []
        configs = get_config_list(config, len(inputs))
        limit = configs[0].get("max_concurrency")
        gate = asyncio.Semaphore(limit) if limit else None

        async def one(item: Any, item_config: RunnableConfig) -> Any:
            if gate is None:
                return await self.ainvoke(item, item_config, **kwargs)
            async with gate:
                return await self.ainvoke(item, item_config, **kwargs)

        calls = (one(item, cfg) for item, cfg in zip(inputs, configs, strict=True))
        return list(await asyncio.gather(*calls, return_exceptions=return_exceptions))

    # -- everything else is the graph's -------------------------------------------------------

    def with_config(self, config: RunnableConfig | None = None, **kwargs: Any) -> InstrumentedGraph:
        """The graph with a bound config, still instrumented."""
        bound = self.graph.with_config(config, **kwargs)
        return InstrumentedGraph(bound, name=self.name, scheduler=self._scheduler)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.graph, name)

    def __repr__(self) -> str:
        return f"instrument({self.graph!r}, name={self.name!r})"


@overload
def instrument(
    graph: Callable[..., G], /, *, name: str | None = None, scheduler: Scheduler | None = None
) -> Callable[..., InstrumentedGraph]: ...


@overload
def instrument(
    graph: None = None, /, *, name: str | None = None, scheduler: Scheduler | None = None
) -> Callable[[Callable[..., Any]], Callable[..., InstrumentedGraph]]: ...


@overload
def instrument(
    graph: Any, /, *, name: str | None = None, scheduler: Scheduler | None = None
) -> InstrumentedGraph: ...


def instrument(
    graph: Any = None, /, *, name: str | None = None, scheduler: Scheduler | None = None
) -> Any:
    """Wrap a compiled graph, or decorate a function that returns one (bare or with arguments).

    ``name`` is the app class (default: the graph's or the function's name); ``scheduler``
    defaults to the process's (``get_scheduler()``).
    """
    if graph is None:
        return functools.partial(_decorate, name=name, scheduler=scheduler)
    if _is_graph(graph):
        return InstrumentedGraph(graph, name=name or _graph_name(graph), scheduler=scheduler)
    return _decorate(graph, name=name, scheduler=scheduler)


def _decorate(
    build: Callable[..., Any], *, name: str | None, scheduler: Scheduler | None
) -> Callable[..., InstrumentedGraph]:
    @functools.wraps(build)
    def instrumented(*args: Any, **kwargs: Any) -> InstrumentedGraph:
        graph = build(*args, **kwargs)
        return InstrumentedGraph(graph, name=name or build.__name__, scheduler=scheduler)

    return instrumented


def _is_graph(candidate: Any) -> bool:
    return hasattr(candidate, "invoke") and hasattr(candidate, "stream")


def _graph_name(graph: Any) -> str:
    name = getattr(graph, "name", None)
    return name if isinstance(name, str) and name else type(graph).__name__


def _tracked(config: RunnableConfig | None, scope: RunScope) -> RunnableConfig:
    return merge_configs(config, {"callbacks": [_NodeTracker(scope)]})


__all__ = ["InstrumentedGraph", "instrument"]
