"""instrument(): real LangGraph graphs behave the same, and their runs are scheduled and learned."""

from __future__ import annotations

import asyncio
import operator
import random
from collections.abc import Generator
from typing import Annotated, Any, Literal, TypedDict

import numpy as np
import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.func import entrypoint
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, Send, interrupt

from hermes_agents.context import current_node
from hermes_agents.langgraph import InstrumentedGraph, instrument
from hermes_agents.scheduling import BackendLimits, LocalScheduler, Usage
from tests.doubles import Gauge


class State(TypedDict, total=False):
    seed: int
    width: int
    path: Annotated[list[str], operator.add]
    results: Annotated[list[int], operator.add]


@pytest.fixture
def scheduler() -> LocalScheduler:
    return LocalScheduler.in_process({"llm": BackendLimits(1)}, policy="gittins")


def _call_llm(scheduler: LocalScheduler, gauge: Gauge, value: int) -> int:
    """What a drop-in does: a scheduled call in the current node's stage visit."""
    node = current_node()
    assert node is not None
    with scheduler.slot("llm", stage=node.node, visit=node.visit) as slot, gauge:
        slot.usage = Usage(prompt_tokens=100 + value, output_tokens=10)
        return value * 2


def _branching(scheduler: LocalScheduler, gauge: Gauge) -> Any:
    def route(state: State) -> dict[str, Any]:
        return {"path": ["route"]}

    def choose(state: State) -> Literal["left", "right"]:
        return "left" if random.Random(state["seed"]).random() < 0.3 else "right"

    def left(state: State) -> dict[str, Any]:
        return {"path": ["left"], "results": [_call_llm(scheduler, gauge, 1)]}

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


def _fanout(scheduler: LocalScheduler, gauge: Gauge) -> Any:
    def plan(state: State) -> dict[str, Any]:
        return {"path": ["plan"]}

    def spread(state: State) -> list[Send]:
        return [Send("work", {"seed": i}) for i in range(state["width"])]

    def work(state: State) -> dict[str, Any]:
        return {"results": [_call_llm(scheduler, gauge, state["seed"])]}

    builder = StateGraph(State)
    builder.add_node("plan", plan)
    builder.add_node("work", work)
    builder.add_edge(START, "plan")
    builder.add_conditional_edges("plan", spread, ["work"])
    builder.add_edge("work", END)
    return builder.compile()


def test_outputs_are_identical_in_every_calling_style(scheduler: LocalScheduler) -> None:
    gauge = Gauge()
    graph = _fanout(scheduler, gauge)
    app = instrument(graph, name="fanout", scheduler=scheduler)
    inputs: list[State] = [{"width": w, "path": [], "results": []} for w in (1, 3, 4)]

    def sorted_results(result: Any) -> Any:
        return {**result, "results": sorted(result["results"])}

    for item in inputs:
        assert sorted_results(app.invoke(item)) == sorted_results(graph.invoke(item))
        assert asyncio.run(app.ainvoke(item)).keys() == asyncio.run(graph.ainvoke(item)).keys()
        assert len(list(app.stream(item))) == len(list(graph.stream(item)))

    async def chunks(source: Any, item: State) -> list[Any]:
        return [chunk async for chunk in source.astream(item, stream_mode="updates")]

    assert len(asyncio.run(chunks(app, inputs[1]))) == len(asyncio.run(chunks(graph, inputs[1])))
    batched = [sorted_results(r) for r in app.batch(inputs, {"max_concurrency": 2})]
    assert batched == [sorted_results(r) for r in graph.batch(inputs)]
    assert len(asyncio.run(app.abatch(inputs))) == 3
    assert gauge.peak == 1  # capacity 1 held across worker threads and runs
    assert app.get_graph().nodes.keys() == graph.get_graph().nodes.keys()
    assert scheduler.core.runs == {}
    assert scheduler.unscheduled_calls == 0


def test_branch_probabilities_are_learned_within_007(scheduler: LocalScheduler) -> None:
    app = instrument(_branching(scheduler, Gauge()), scheduler=scheduler)
    assert app.app_name == "branching"
    prior = app.pdgraph
    assert prior is not None
    assert prior.successors("route") == {"left": 0.5, "right": 0.5}  # from the Literal
    for seed in range(200):
        app.invoke({"seed": seed, "path": [], "results": []})
    learned = app.pdgraph
    assert learned is not None
    truth = sum(random.Random(seed).random() < 0.3 for seed in range(200)) / 200
    assert abs(learned.successors("route")["left"] - truth) <= 0.07
    assert abs(learned.successors("route")["left"] - 0.3) <= 0.07
    assert learned.stages["left"].backend == "llm"
    assert learned.stages["right"].backend == "local"  # pure code: no demand


def test_send_fanout_widths_are_learned(scheduler: LocalScheduler) -> None:
    app = instrument(_fanout(scheduler, Gauge()), name="mapper", scheduler=scheduler)
    rng = np.random.default_rng(7)
    widths = rng.integers(2, 6, size=60)
    for width in widths:
        app.invoke({"width": int(width), "path": [], "results": []})
    learned = app.pdgraph
    assert learned is not None
    fanout = learned.stages["work"].fanout.samples
    assert sorted(set(fanout.tolist())) == sorted(set(widths.tolist()))
    assert abs(float(fanout.mean()) - float(widths.mean())) < 0.05


def test_interrupts_and_state_apis_pass_through(scheduler: LocalScheduler) -> None:
    def ask(state: State) -> dict[str, Any]:
        answer = interrupt("which way?")
        return {"path": [answer]}

    builder = StateGraph(State)
    builder.add_node("ask", ask)
    builder.add_edge(START, "ask")
    builder.add_edge("ask", END)
    app = instrument(
        builder.compile(checkpointer=InMemorySaver()), name="hitl", scheduler=scheduler
    )
    config: Any = {"configurable": {"thread_id": "t1"}}
    first = app.invoke({"path": []}, config)
    assert "__interrupt__" in first
    assert app.get_state(config).next == ("ask",)
    resumed = app.invoke(Command(resume="left"), config)
    assert resumed["path"] == ["left"]
    assert scheduler.core.runs == {}


def test_decorator_forms_and_functional_api(scheduler: LocalScheduler) -> None:
    @instrument(name="built", scheduler=scheduler)
    def build() -> Any:
        return _branching(scheduler, Gauge())

    app = build()
    assert isinstance(app, InstrumentedGraph)
    assert app.app_name == "built"
    assert app.name == "branching"  # the graph's own name is left alone

    @entrypoint()
    def double(value: int) -> int:
        return value * 2

    functional = instrument(double, name="double", scheduler=scheduler)
    assert functional.prior is None  # learned from runs alone
    assert functional.invoke(21) == 42


def test_streams_keep_the_run_out_of_the_consumers_context(scheduler: LocalScheduler) -> None:
    app = instrument(_branching(scheduler, Gauge()), scheduler=scheduler)
    stream: Generator[Any, None, None] = app.stream({"seed": 1, "path": [], "results": []})
    next(stream)
    assert scheduler.core.runs  # the run is active while the stream is
    with scheduler.slot("llm") as slot:  # a call between chunks is not part of that run
        assert slot.ticket is not None
        assert slot.ticket.run_id is None
    stream.close()
    assert scheduler.core.runs == {}
