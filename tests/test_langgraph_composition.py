"""An instrumented graph is a LangGraph graph: it composes, nests, copies and takes attribute
writes like the plain one, and every entry point of LangGraph and LangChain is scheduled."""

from __future__ import annotations

import asyncio
import copy
import operator
from collections.abc import Callable
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.runnables import Runnable, RunnableLambda
from langchain_core.utils.aiter import aclosing
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.pregel import Pregel

from hermes_agents.langgraph import InstrumentedGraph, instrument
from hermes_agents.scheduling import LocalScheduler, SchedulerCore, Usage, policy_named
from hermes_agents.scheduling.state import UNLIMITED
from tests.doubles import RecordingModels

pytestmark = [
    pytest.mark.filterwarnings("ignore:The v3 streaming protocol"),
    pytest.mark.filterwarnings("ignore:astream_log is deprecated"),
]


class State(TypedDict, total=False):
    path: Annotated[list[str], operator.add]


X: State = {"path": []}


@pytest.fixture
def models() -> RecordingModels:
    return RecordingModels()


@pytest.fixture
def scheduler(models: RecordingModels) -> LocalScheduler:
    core = SchedulerCore({}, policy_named("fcfs"), lambda: 0.0, models=models)
    core.default_limits = UNLIMITED
    return LocalScheduler(core)


def _work_graph(scheduler: LocalScheduler, runs_seen: list[str | None]) -> Any:
    """START -> work (one scheduled call; records the run it is part of) -> END."""

    def work(state: State) -> dict[str, Any]:
        runs_seen.append(scheduler.current_run_id())
        with scheduler.slot("llm") as slot:
            slot.usage = Usage(prompt_tokens=10, output_tokens=5)
        return {"path": ["work"]}

    builder = StateGraph(State)
    builder.add_node("work", work)
    builder.add_edge(START, "work")
    builder.add_edge("work", END)
    return builder.compile(name="work-graph")


def test_it_is_the_graph_and_leaves_the_original_alone(scheduler: LocalScheduler) -> None:
    graph = _work_graph(scheduler, [])
    app = instrument(graph, name="worker", scheduler=scheduler)
    assert isinstance(app, Runnable)
    assert isinstance(app, Pregel)
    assert isinstance(app, CompiledStateGraph)
    assert isinstance(app, InstrumentedGraph)
    assert type(app).__name__ == "CompiledStateGraph"  # drawn and dumped as the graph
    assert not isinstance(graph, InstrumentedGraph)
    assert (app.name, app.app_name, app.builder) == ("work-graph", "worker", graph.builder)
    assert app.get_graph().to_json() == graph.get_graph().to_json()
    app.step_timeout = 5.0  # attribute writes land on the instrumented graph
    assert (app.step_timeout, graph.step_timeout) == (5.0, None)
    assert app.with_config(recursion_limit=7).step_timeout == 5.0


def test_copies_stay_instrumented(scheduler: LocalScheduler, models: RecordingModels) -> None:
    seen: list[str | None] = []
    app = instrument(_work_graph(scheduler, seen), name="worker", scheduler=scheduler)
    for twin in (copy.copy(app), app.copy(), app.with_config(tags=["t"])):
        assert isinstance(twin, InstrumentedGraph)
        assert twin.app_name == "worker"
        assert twin.invoke(X) == {"path": ["work"]}
    assert len(models.runs) == 3
    assert all(run is not None for run in seen)
    again = instrument(app, name="renamed", scheduler=scheduler)  # one layer, a new name
    again.invoke(X)
    assert [app for app, _ in models.runs] == ["worker"] * 3 + ["renamed"]


async def _async_entry_points(app: Any) -> None:
    await app.ainvoke(X)
    [_ async for _ in app.astream(X)]
    await app.abatch([X, X])
    [_ async for _ in app.abatch_as_completed([X])]
    [_ async for _ in app.astream_events(X, version="v2")]
    [_ async for _ in app.astream_log(X)]

    async def one() -> Any:
        yield X

    [_ async for _ in app.atransform(one())]


ENTRY_POINTS: dict[str, tuple[Callable[[Any], object], int]] = {
    "invoke": (lambda app: app.invoke(X), 1),
    "stream": (lambda app: list(app.stream(X, stream_mode=["updates", "values"])), 1),
    "batch": (lambda app: app.batch([X, X, X]), 3),
    "batch_as_completed": (lambda app: list(app.batch_as_completed([X, X])), 2),
    "transform": (lambda app: list(app.transform(iter([X]))), 1),
    "stream_events v3": (lambda app: app.stream_events(X, version="v3").output, 1),
    "async forms": (lambda app: asyncio.run(_async_entry_points(app)), 8),
    "with_config": (lambda app: app.with_config(run_name="n").invoke(X), 1),
    "with_retry": (lambda app: app.with_retry(stop_after_attempt=2).invoke(X), 1),
    "with_listeners": (lambda app: app.with_listeners(on_end=lambda run: None).invoke(X), 1),
    "with_fallbacks": (lambda app: app.with_fallbacks([RunnableLambda(lambda x: x)]).invoke(X), 1),
    "with_types": (lambda app: app.with_types(input_type=dict).invoke(X), 1),
    "bind": (lambda app: app.bind().invoke(X), 1),
    "map": (lambda app: app.map().invoke([X, X]), 2),
    "pipe": (lambda app: app.pipe(RunnableLambda(lambda out: out["path"])).invoke(X), 1),
    "app | f": (lambda app: (app | RunnableLambda(lambda out: out)).invoke(X), 1),
    "f | app": (lambda app: (RunnableLambda(lambda x: x) | app).invoke(X), 1),
}


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_every_entry_point_is_one_scheduled_run_per_input(
    entry: str, scheduler: LocalScheduler, models: RecordingModels
) -> None:
    seen: list[str | None] = []
    app = instrument(_work_graph(scheduler, seen), name="worker", scheduler=scheduler)
    call, runs = ENTRY_POINTS[entry]
    call(app)
    assert len(seen) == runs
    assert None not in seen
    assert len(set(seen)) == runs  # one run per top-level invocation
    assert [[v.stage for v in run] for _, run in models.runs] == [["work"]] * runs
    assert scheduler.core.runs == {}
    assert scheduler.unscheduled_calls == 0


def test_it_nests_as_a_node_of_a_plain_graph(
    scheduler: LocalScheduler, models: RecordingModels
) -> None:
    seen: list[str | None] = []
    inner = instrument(_work_graph(scheduler, seen), name="inner", scheduler=scheduler)
    builder = StateGraph(State)
    builder.add_node("sub", inner)  # a Runnable and a Pregel: LangGraph takes it as a subgraph
    builder.add_edge(START, "sub")
    builder.add_edge("sub", END)
    outer = builder.compile()
    assert dict(outer.get_subgraphs()) == {"sub": inner}
    assert outer.invoke(X) == {"path": ["work"]}
    assert [(app, [v.stage for v in run]) for app, run in models.runs] == [("inner", ["work"])]


@pytest.mark.parametrize("instrumented", [False, True])
def test_aclose_stops_the_running_nodes_at_once(
    instrumented: bool, scheduler: LocalScheduler
) -> None:
    async def main() -> bool:
        started, cancelled = asyncio.Event(), asyncio.Event()

        async def fast(state: State) -> dict[str, Any]:
            await started.wait()
            return {"path": ["fast"]}

        async def slow(state: State) -> dict[str, Any]:
            started.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.set()
                raise
            return {}

        builder = StateGraph(State)
        builder.add_node("fast", fast)
        builder.add_node("slow", slow)
        builder.add_edge(START, "fast")
        builder.add_edge(START, "slow")
        graph: Any = builder.compile()
        if instrumented:
            graph = instrument(graph, name="racer", scheduler=scheduler)
        async with aclosing(graph.astream(X, stream_mode="updates")) as stream:
            async for _ in stream:
                break
        return cancelled.is_set()

    assert asyncio.run(main())
    assert scheduler.core.runs == {}


def test_instrument_refuses_what_is_not_a_graph() -> None:
    with pytest.raises(TypeError, match="compiled LangGraph graph"):
        instrument(RunnableLambda(lambda x: x))  # type: ignore[call-overload]


@pytest.mark.parametrize("instrument_child", [False, True])
def test_a_child_with_its_own_thread_keeps_its_checkpoints(
    instrument_child: bool, scheduler: LocalScheduler, models: RecordingModels
) -> None:
    child_builder = StateGraph(State)
    child_builder.add_node("step", lambda state: {"path": ["child"]})
    child_builder.add_edge(START, "step")
    child: Any = child_builder.compile(checkpointer=InMemorySaver())
    if instrument_child:
        child = instrument(child, name="child", scheduler=scheduler)
    own: Any = {"configurable": {"thread_id": "child-thread"}}

    def call_child(state: State) -> dict[str, Any]:
        return {"path": child.invoke({"path": []}, own)["path"]}

    builder = StateGraph(State)
    builder.add_node("caller", call_child)
    builder.add_edge(START, "caller")
    app = instrument(builder.compile(checkpointer=InMemorySaver()), scheduler=scheduler)
    parent: Any = {"configurable": {"thread_id": "parent-thread"}}
    assert app.invoke({"path": []}, parent) == {"path": ["child"]}
    assert child.get_state(own).values == {"path": ["child"]}  # under its own thread
    assert [[v.stage for v in run] for _, run in models.runs] == [["caller", "caller/step"]]
