"""Instrumented example apps (fake models, real tools) teach the scheduler their PDGraphs."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from hermes_agents.apps import EXAMPLES, example_limits
from hermes_agents.langgraph import InstrumentedGraph, instrument
from hermes_agents.pdgraph import END, PDGraph, StageKind
from hermes_agents.scheduling import LocalScheduler
from tests.examples.fakes import fake_toolkit


@pytest.fixture
def scheduler() -> LocalScheduler:
    return LocalScheduler.in_process(example_limits())


def _learn(scheduler: LocalScheduler, name: str, runs: int) -> tuple[PDGraph, list[dict[str, Any]]]:
    """Run ``runs`` seeded tasks of app ``name``; its learned PDGraph and the tasks."""
    example = EXAMPLES[name]
    app: InstrumentedGraph = instrument(
        example.build(fake_toolkit(scheduler)), name=name, scheduler=scheduler
    )
    rng = random.Random(11)
    tasks = [example.make_input(rng) for _ in range(runs)]
    for task in tasks:
        app.invoke(task)
    graph = app.pdgraph
    assert graph is not None
    assert scheduler.unscheduled_calls == 0
    assert scheduler.core.runs == {}
    return graph, tasks


def test_react_learns_its_tool_loop(scheduler: LocalScheduler) -> None:
    graph, tasks = _learn(scheduler, "react", 40)
    assert graph.stages["thought"].backend == "llm"
    assert (graph.stages["tools"].backend, graph.stages["tools"].kind) == ("tools", StageKind.TOOL)
    assert graph.successors("tools") == {"thought": 1.0}
    thoughts = sum(len(task["plan"]) + 1 for task in tasks)
    ends = graph.successors("thought")[END]
    assert abs(ends - len(tasks) / thoughts) <= 0.1  # one END per run, per thought visit
    assert abs(graph.successors("thought")["tools"] + ends - 1.0) < 1e-9


def test_code_test_learns_retries_on_the_sandbox(scheduler: LocalScheduler) -> None:
    graph, tasks = _learn(scheduler, "code_test", 12)
    stage = graph.stages["run_tests"]
    assert (stage.backend, stage.kind) == ("sandbox", StageKind.TOOL)
    assert stage.seconds is not None
    assert float(stage.seconds.samples.min()) > 0.0  # the subprocess ran inside the slot
    assert set(graph.successors("run_tests")) == {"generate", END}
    assert graph.successors("generate") == {"run_tests": 1.0}
    assert {task["failures"] for task in tasks} != {0}  # both branches were taken


def test_map_reduce_learns_its_fanout_widths(scheduler: LocalScheduler) -> None:
    graph, tasks = _learn(scheduler, "map_reduce", 12)
    widths = sorted(task["document"].count("\n\n") + 1 for task in tasks)
    assert sorted(graph.stages["summarize_chunk"].fanout.samples.tolist()) == widths
    assert graph.stages["split"].backend == "local"  # pure code: no demand
    assert graph.successors("summarize_chunk") == {"combine": 1.0}


def test_supervisor_learns_its_command_routes(scheduler: LocalScheduler) -> None:
    graph, _ = _learn(scheduler, "supervisor", 12)
    assert set(graph.successors("supervisor")) == {"researcher", "writer", END}
    assert graph.successors("researcher") == {"supervisor": 1.0}
    assert graph.stages["writer"].backend == "llm"


def test_rag_learns_an_llm_an_embedding_then_an_llm_stage(scheduler: LocalScheduler) -> None:
    graph, _ = _learn(scheduler, "rag", 5)
    assert graph.entry == "draft"
    assert graph.stages["draft"].backend == "llm"
    assert graph.successors("draft") == {"retrieve": 1.0}
    assert graph.stages["retrieve"].backend == "embeddings"
    assert graph.stages["retrieve"].kind == StageKind.EMBEDDING
    assert graph.successors("retrieve") == {"answer": 1.0}
    assert graph.stages["answer"].backend == "llm"


def _prior(scheduler: LocalScheduler, name: str) -> PDGraph:
    graph = EXAMPLES[name].build(fake_toolkit(scheduler))
    app: InstrumentedGraph = instrument(graph, name=name, scheduler=scheduler)
    prior = app.prior
    assert prior is not None
    return prior


def test_the_prior_comes_from_the_graphs_structure(scheduler: LocalScheduler) -> None:
    assert set(_prior(scheduler, "react").successors("thought")) == {"tools", END}  # path map
    assert set(_prior(scheduler, "code_test").successors("run_tests")) == {"generate", END}
    supervised = _prior(scheduler, "supervisor").successors("supervisor")
    assert set(supervised) == {"researcher", "writer", END}  # from Command[Literal[...]]


def test_all_apps_run_concurrently_under_one_scheduler(scheduler: LocalScheduler) -> None:
    toolkit = fake_toolkit(scheduler)
    apps = {
        name: instrument(example.build(toolkit), name=name, scheduler=scheduler)
        for name, example in EXAMPLES.items()
    }
    rng = random.Random(5)
    tasks = [(name, EXAMPLES[name].make_input(rng)) for name in sorted(apps) * 3]

    async def run_all() -> list[Any]:
        return await asyncio.gather(*(apps[name].ainvoke(task) for name, task in tasks))

    results = asyncio.run(run_all())
    assert len(results) == len(tasks)
    for (name, task), result in zip(tasks, results, strict=True):
        if name == "react":
            assert len(result["messages"]) == 2 * len(task["plan"]) + 2
        if name == "code_test":
            assert result["attempt"] == task["failures"] + 1
    assert scheduler.core.runs == {}
    assert scheduler.unscheduled_calls == 0
