"""Each example app against the real llama.cpp server and SmolLM2: it runs to END, its plan
shapes the run the scheduler sees, and instrumenting it changes nothing the plan decides.

Generated text is compared only where the plan decides it: llama.cpp reuses cached prompt
prefixes and batches parallel requests, so greedy text is not bit-stable from run to run.
How the PDGraphs are learned from such runs is in test_learning.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from hermes_agents.apps import EXAMPLES, Toolkit, map_reduce, rag
from hermes_agents.langgraph import InstrumentedGraph, instrument
from hermes_agents.pdgraph import Visit
from hermes_agents.scheduling import LocalScheduler
from tests.doubles import RecordingModels

pytestmark = pytest.mark.slow

TASKS: dict[str, dict[str, Any]] = {
    "rag": {"question": "What is the capital of France?"},
    "react": {
        "messages": [HumanMessage("Use the tools for: lookup nile; calculator 6650 / 2.", id="q")],
        "plan": [
            {"tool": "lookup", "input": "nile"},
            {"tool": "calculator", "input": "6650 / 2"},
        ],
    },
    "code_test": {"problem": "add", "failures": 1},
    "map_reduce": {"document": "\n\n".join(map_reduce.PARAGRAPHS[:3])},
    "supervisor": {"topic": "how penguins dive", "turns": ["researcher", "writer"]},
}
"""Small tasks that take every branch, so that the file stays fast."""


def _stages(visits: Sequence[Visit]) -> list[tuple[str, str, int]]:
    """(stage, backend, calls) of each visit."""
    return [(visit.stage, visit.backend, len(visit.calls)) for visit in visits]


def _rag(result: dict[str, Any], visits: Sequence[Visit]) -> Any:
    draft, retrieve = ("draft", "llm", 1), ("retrieve", "embeddings", 1)
    assert _stages(visits) == [draft, retrieve, ("answer", "llm", 1)]
    assert 0 < visits[0].calls[0].output_tokens <= rag.DRAFT_TOKENS
    assert 0 < visits[2].calls[0].output_tokens <= rag.ANSWER_TOKENS
    assert len(result["passages"]) == rag.TOP_K
    assert set(result["passages"]) <= set(rag.CORPUS)
    return result["passages"]


def _react(result: dict[str, Any], visits: Sequence[Visit]) -> Any:
    thought, tools = ("thought", "llm", 1), ("tools", "tools", 1)
    assert _stages(visits) == [thought, tools, thought, tools, thought]  # 2 planned calls
    observations = [m.text for m in result["messages"] if isinstance(m, ToolMessage)]
    assert observations == ["The Nile is 6650 kilometres long.", "3325"]
    assert sum(isinstance(m, AIMessage) for m in result["messages"]) == 3
    return observations


def _code_test(result: dict[str, Any], visits: Sequence[Visit]) -> Any:
    generate, run_tests = ("generate", "llm", 1), ("run_tests", "sandbox", 1)
    assert _stages(visits) == [generate, run_tests, generate, run_tests]  # 1 planned failure
    assert all(visit.calls[0].seconds > 0 for visit in visits[1::2])  # the subprocess ran
    assert "AssertionError" in result["reports"][0]  # the wrong program really failed
    assert result["reports"][1] == "passed"  # and the right one really passed
    return result["reports"], result["program"], result["attempt"]


def _map_reduce(result: dict[str, Any], visits: Sequence[Visit]) -> Any:
    assert _stages(visits)[1:] == [("summarize_chunk", "llm", 3), ("combine", "llm", 1)]
    assert visits[0].stage == "split"  # no calls: a stage without demand
    indices = [index for index, _ in sorted(result["summaries"])]
    assert indices == [0, 1, 2]  # the fan-out width is the number of chunks
    return result["chunks"], indices


def _supervisor(result: dict[str, Any], visits: Sequence[Visit]) -> Any:
    nodes = [visit.stage for visit in visits]
    assert nodes == ["supervisor", "researcher", "supervisor", "writer", "supervisor"]
    routes = [decision.split(":")[0] for decision in result["decisions"]]
    assert routes == ["researcher", "writer", "done"]
    return routes, len(result["notes"])


CHECKS: dict[str, Callable[[dict[str, Any], Sequence[Visit]], Any]] = {
    "rag": _rag,
    "react": _react,
    "code_test": _code_test,
    "map_reduce": _map_reduce,
    "supervisor": _supervisor,
}
"""Per app: assert what the plan decides; return the parts that must not change."""

_GENERATED = ("answer", "drafts", "summaries", "summary", "report", "notes", "decisions")
"""State keys that hold the model's text."""


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_app_on_the_real_server(
    name: str,
    bare_toolkit: Toolkit,
    scheduled_toolkit: Toolkit,
    scheduler: LocalScheduler,
    models: RecordingModels,
) -> None:
    app = EXAMPLES[name]
    hermes: InstrumentedGraph = instrument(
        app.build(scheduled_toolkit), name=name, scheduler=scheduler
    )
    scheduled = hermes.invoke(TASKS[name])
    bare = app.build(bare_toolkit).invoke(TASKS[name])
    runs = [visits for app_name, visits in models.runs if app_name == name]
    assert len(runs) == 1
    assert CHECKS[name](scheduled, runs[0]) == CHECKS[name](bare, runs[0])
    assert bare.keys() == scheduled.keys()
    texts = [value for key, value in scheduled.items() if key in _GENERATED]
    assert texts
    assert all(texts)  # the model's text reached the state
    assert scheduler.unscheduled_calls == 0
    assert scheduler.core.runs == {}
