"""``instrument()``: schedule a compiled LangGraph graph as an app, without changing it.

Instrument the compiled graph; use it exactly as before::

    app = instrument(builder.compile(), name="support-bot")
    app.invoke({"question": "..."})                          # same result, scheduled

Or decorate the function that builds the graph::

    @instrument(name="support-bot")
    def build() -> CompiledStateGraph: ...

The result is a LangGraph graph: a copy of the compiled graph whose class is a subclass of the
graph's own (``InstrumentedGraph`` and, say, ``CompiledStateGraph``), so it is a ``Runnable``
and a ``Pregel``, composes (``|``, a node of another graph, ``with_config`` and every other
builder) and copies like the graph, and keeps every attribute and method of it. It overrides
exactly two methods, ``stream`` and ``astream``: every other entry point of LangGraph and
LangChain (``invoke``, ``batch``, ``*_as_completed``, ``astream_events``, ``astream_log``,
``transform``, the async forms, the v3 ``stream_events``) runs through one of them.

A top-level invocation is one app run (``langgraph_runs``): a callback tracker
(``langgraph_tracker``) enters a stage visit for every node, subgraph node and ``@task`` as it
starts, and calls made inside (``@tool``, the OpenAI and LangChain drop-ins) join it through
``hermes_agents.context.current_node()``. An instrumented graph invoked inside another's node
is part of the outer run. A run that stops at an interrupt is suspended, and the resume on the
same thread continues it.

The app's prior PDGraph comes from the builder (``langgraph_prior``); branch probabilities,
fan-out widths and demands are learned from runs (functional-API apps from runs alone).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar, overload

from langchain_core.runnables.config import RunnableConfig
from langgraph.pregel import Pregel

from hermes_agents.dropins.langgraph_prior import graph_prior
from hermes_agents.dropins.langgraph_runs import AppState, Invocation, ServiceDefaults
from hermes_agents.pdgraph import PDGraph
from hermes_agents.scheduling.default import check_environment
from hermes_agents.scheduling.interface import Scheduler

G = TypeVar("G")


class InstrumentedGraph(Pregel[Any, Any, Any, Any]):
    """A compiled graph whose runs are scheduled as apps of class ``app_name`` (see the module).

    ``instrument()`` makes these; the class of each is a subclass of this one and of the
    instrumented graph's own class.
    """

    _hermes: AppState

    def __init__(self, *, _hermes: AppState | None = None, **kwargs: Any) -> None:
        # Pregel.copy() and with_config() rebuild the graph from its attributes: ours too.
        super().__init__(**kwargs)
        self._hermes = _hermes or AppState(self.name, None, graph_prior(self, self.name))

    @property
    def app_name(self) -> str:
        """The app class its runs belong to (``instrument(..., name=...)``)."""
        return self._hermes.name

    @property
    def prior(self) -> PDGraph | None:
        """The structural prior PDGraph from the builder (None for functional-API apps)."""
        return self._hermes.prior

    @property
    def scheduler(self) -> Scheduler:
        """The scheduler the runs go to (the process default unless one was given)."""
        return self._hermes.scheduler()

    @property
    def pdgraph(self) -> PDGraph | None:
        """The app's current PDGraph, learned from its runs, else the prior from the graph's
        structure (None for functional-API apps before any run).

        The scheduler's graph (``Scheduler.learned_graph``): an in-process scheduler's learner,
        a shared daemon's (asked over its socket); when it cannot be had, the prior.
        """
        return self.scheduler.learned_graph(self.app_name) or self.prior

    # -- the two entry points everything else runs through -----------------------------------

    def stream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[Any]:
        """The graph's ``stream``, as one app run (or part of the run it is nested in)."""
        invocation = self._hermes.invocation(self, input, config)
        if invocation is None:
            return super().stream(input, config, **kwargs)
        return self._scheduled(invocation, input, config, kwargs)

    def astream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[Any]:
        """The graph's ``astream``, as one app run (or part of the run it is nested in)."""
        invocation = self._hermes.invocation(self, input, config)
        if invocation is None:
            return super().astream(input, config, **kwargs)
        return self._ascheduled(invocation, input, config, kwargs)

    def _scheduled(
        self,
        invocation: Invocation,
        input: Any,
        config: RunnableConfig | None,
        kwargs: dict[str, Any],
    ) -> Iterator[Any]:
        # The run is current only while the graph steps (its nodes and their threads inherit
        # it), never in the consumer's code between chunks; closing closes the graph at once.
        chunks = super().stream(input, invocation.config(config), **kwargs)
        token = invocation.enter()
        try:
            invocation.start()
        finally:
            invocation.leave(token)
        complete = False
        try:
            while True:
                token = invocation.enter()
                try:
                    chunk = next(chunks)
                except StopIteration:
                    complete = True
                    return
                finally:
                    invocation.leave(token)
                yield chunk
        finally:
            token = invocation.enter()
            try:
                chunks.close()  # type: ignore[attr-defined]
            finally:
                invocation.leave(token)
                invocation.end(complete=complete)

    async def _ascheduled(
        self,
        invocation: Invocation,
        input: Any,
        config: RunnableConfig | None,
        kwargs: dict[str, Any],
    ) -> AsyncIterator[Any]:
        chunks = super().astream(input, invocation.config(config), **kwargs)
        token = invocation.enter()
        try:
            invocation.start()
        finally:
            invocation.leave(token)
        complete = False
        try:
            while True:
                token = invocation.enter()
                try:
                    chunk = await anext(chunks)
                except StopAsyncIteration:
                    complete = True
                    return
                finally:
                    invocation.leave(token)
                yield chunk
        finally:
            token = invocation.enter()
            try:
                await chunks.aclose()  # type: ignore[attr-defined]
            finally:
                invocation.leave(token)
                invocation.end(complete=complete)


_CLASSES: dict[type[Any], type[InstrumentedGraph]] = {}


def _instrumented_class(base: type[Any]) -> type[InstrumentedGraph]:
    """The subclass of both ``InstrumentedGraph`` and the graph's class ``base``.

    It bears ``base``'s name and module, as LangChain's serialisation (``get_graph().to_json()``,
    tracing) reads them from the class: an instrumented graph is drawn and dumped as the graph.
    """
    if issubclass(base, InstrumentedGraph):
        return base
    cls = _CLASSES.get(base)
    if cls is None:
        namespace = {
            "__module__": base.__module__,
            "__qualname__": base.__qualname__,
            "__doc__": base.__doc__,
        }
        bases = (InstrumentedGraph,) if base is Pregel else (InstrumentedGraph, base)
        cls = type(base.__name__, bases, namespace)
        _CLASSES[base] = cls
    return cls


@overload
def instrument(
    graph: Callable[..., G],
    /,
    *,
    name: str | None = None,
    scheduler: Scheduler | None = None,
    slo_s: float | None = None,
    tier: str | None = None,
) -> Callable[..., InstrumentedGraph]: ...


@overload
def instrument(
    graph: None = None,
    /,
    *,
    name: str | None = None,
    scheduler: Scheduler | None = None,
    slo_s: float | None = None,
    tier: str | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., InstrumentedGraph]]: ...


@overload
def instrument(
    graph: Pregel[Any, Any, Any, Any],
    /,
    *,
    name: str | None = None,
    scheduler: Scheduler | None = None,
    slo_s: float | None = None,
    tier: str | None = None,
) -> InstrumentedGraph: ...


def instrument(
    graph: Any = None,
    /,
    *,
    name: str | None = None,
    scheduler: Scheduler | None = None,
    slo_s: float | None = None,
    tier: str | None = None,
) -> Any:
    """Instrument a compiled graph, or decorate a function that returns one (bare or with
    arguments).

    ``name`` is the app class (default: the graph's or the function's name); ``scheduler``
    defaults to the process's (``get_scheduler()``). The graph passed in is left as it was;
    instrumenting an instrumented graph gives it a new name and scheduler (one run, not two).

    ``slo_s``: every run's deadline, that many seconds after it starts; ``tier``: its tier
    (``critical``, ``standard``, ``sheddable``). One invocation may set its own in its config's
    metadata: ``config={"metadata": {"hermes_deadline_s": 5.0, "hermes_tier": "critical"}}``.
    None of them: the class's from the configuration (``[apps.NAME]``).
    """
    service = ServiceDefaults.checked(slo_s, tier)
    if scheduler is None:
        check_environment()  # a bad HERMES_SCHEDULER / HERMES_CONFIG fails here, not later
    if graph is None:
        return functools.partial(_decorate, name=name, scheduler=scheduler, service=service)
    if isinstance(graph, Pregel):
        return _instrument(graph, name or _graph_name(graph), scheduler, service)
    if callable(graph) and not hasattr(graph, "invoke"):
        return _decorate(graph, name=name, scheduler=scheduler, service=service)
    raise TypeError(
        f"instrument() takes a compiled LangGraph graph (StateGraph(...).compile() or an "
        f"@entrypoint), or a function that returns one; got {type(graph).__name__}"
    )


def _instrument(
    graph: Pregel[Any, Any, Any, Any],
    name: str,
    scheduler: Scheduler | None,
    service: ServiceDefaults | None = None,
) -> Any:
    instrumented = copy.copy(graph)  # every attribute, as it is: nothing is rebuilt
    instrumented.__class__ = _instrumented_class(type(graph))
    state = AppState(name, scheduler, graph_prior(graph, name), service)
    instrumented.__dict__["_hermes"] = state
    return instrumented


def _decorate(
    build: Callable[..., Any],
    *,
    name: str | None,
    scheduler: Scheduler | None,
    service: ServiceDefaults | None = None,
) -> Callable[..., InstrumentedGraph]:
    @functools.wraps(build)
    def instrumented(*args: Any, **kwargs: Any) -> InstrumentedGraph:
        graph = build(*args, **kwargs)
        slo_s, tier = (service.slo_s, service.tier) if service is not None else (None, None)
        instrumented: InstrumentedGraph = instrument(
            graph, name=name or build.__name__, scheduler=scheduler, slo_s=slo_s, tier=tier
        )
        return instrumented

    return instrumented


def _graph_name(graph: Any) -> str:
    name = getattr(graph, "name", None)
    return name if isinstance(name, str) and name else type(graph).__name__


__all__ = ["InstrumentedGraph", "instrument"]
