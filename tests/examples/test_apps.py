"""The example apps' graphs with fake models: each task's plan decides the run's shape, and the
LLM's text flows into the state."""

from __future__ import annotations

import random
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from hermes_agents.apps import EXAMPLES, Toolkit, code_test, map_reduce, rag, react, supervisor
from hermes_agents.errors import ValidationError
from tests.examples.fakes import REPLY, KeywordEmbeddings, fake_toolkit, node_visits


def _tasks(name: str, seed: int, count: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [EXAMPLES[name].make_input(rng) for _ in range(count)]


def test_the_five_apps_are_registered_under_their_names() -> None:
    assert sorted(EXAMPLES) == ["code_test", "map_reduce", "rag", "react", "supervisor"]
    for key, app in EXAMPLES.items():
        assert app.name == key
        assert app.description
        assert "\n" not in app.description
        assert app.build(fake_toolkit()).name == key


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_tasks_are_stable_for_a_seed(name: str) -> None:
    assert _tasks(name, 3, 20) == _tasks(name, 3, 20)
    assert _tasks(name, 3, 20) != _tasks(name, 4, 20)


def test_plans_cover_their_ranges() -> None:
    steps = {len(task["plan"]) for task in _tasks("react", 0, 200)}
    failures = {task["failures"] for task in _tasks("code_test", 0, 200)}
    chunks = {task["document"].count("\n\n") + 1 for task in _tasks("map_reduce", 0, 200)}
    turns = [task["turns"] for task in _tasks("supervisor", 0, 200)]
    assert steps == set(range(1, react.MAX_STEPS + 1))
    assert failures == {0, 1, 2, 3}
    assert chunks == set(range(map_reduce.MIN_CHUNKS, map_reduce.MAX_CHUNKS + 1))
    assert {len(plan) for plan in turns} == set(range(1, supervisor.MAX_TURNS + 1))
    assert all(plan[-1] == "writer" for plan in turns)


def test_rag_retrieves_by_cosine_similarity_and_answers_with_the_llm() -> None:
    embeddings = KeywordEmbeddings(["capital", "france", "nile", "everest", "python"])
    graph = rag.build(fake_toolkit(embeddings=embeddings))
    assert embeddings.documents_embedded == len(rag.CORPUS)  # once, when built
    visits, result = node_visits(graph, {"question": "What is the capital of France?"})
    assert visits == ["draft", "retrieve", "answer"]
    assert result["draft"] == REPLY  # the hypothetical answer, embedded with the question
    assert result["passages"][0] == rag.CORPUS[2]
    assert len(result["passages"]) == rag.TOP_K
    assert result["answer"] == REPLY
    assert embeddings.documents_embedded == len(rag.CORPUS)


def test_rag_needs_embeddings() -> None:
    toolkit = Toolkit(chat=fake_toolkit().chat, embeddings=None)
    with pytest.raises(ValidationError, match="embeddings"):
        rag.build(toolkit)


@pytest.mark.parametrize("task", _tasks("react", 1, 4))
def test_react_thinks_once_per_planned_tool_call_and_once_more(task: dict[str, Any]) -> None:
    visits, result = node_visits(react.build(fake_toolkit()), task)
    plan = task["plan"]
    assert visits == ["thought", "tools"] * len(plan) + ["thought"]
    observations = [m.text for m in result["messages"] if isinstance(m, ToolMessage)]
    tools = {"lookup": react.lookup, "calculator": react.calculator}
    assert observations == [tools[step["tool"]](step["input"]) for step in plan]
    thoughts = [m for m in result["messages"] if isinstance(m, AIMessage)]
    assert [m.text for m in thoughts] == [REPLY] * (len(plan) + 1)
    assert result["answer"] == REPLY


def test_calculator_does_arithmetic_and_nothing_else() -> None:
    assert react.calculator("6650 / 2") == "3325"
    assert react.calculator("-3 * (2 + 5)") == "-21"
    assert react.calculator("__import__('os').getcwd()").startswith("error")
    assert react.calculator("1 / 0").startswith("error")
    assert react.lookup("Nile") == react.FACTS["nile"]


@pytest.mark.parametrize("failures", [0, 1, 3])
def test_code_test_fails_as_planned_then_passes(failures: int) -> None:
    task = {"problem": "fizzbuzz", "failures": failures}
    visits, result = node_visits(code_test.build(fake_toolkit()), task)
    assert visits == ["generate", "run_tests"] * (failures + 1)
    assert result["reports"][-1] == "passed"
    assert all("AssertionError" in report for report in result["reports"][:-1])
    assert result["passed"] is True
    assert result["drafts"] == [REPLY] * (failures + 1)


def test_code_test_gives_up_after_max_attempts() -> None:
    task = {"problem": "add", "failures": 99}
    visits, result = node_visits(code_test.build(fake_toolkit()), task)
    assert visits.count("run_tests") == code_test.MAX_ATTEMPTS
    assert result["passed"] is False


def test_the_sandbox_really_runs_the_program() -> None:
    problem = code_test.PROBLEMS["factorial"]
    assert code_test.run_program(f"{problem.right}\n{problem.tests}").passed
    for wrong in problem.wrong:
        failed = code_test.run_program(f"{wrong}\n{problem.tests}")
        assert not failed.passed
        assert "AssertionError" in failed.output
    hung = code_test.run_program("while True: pass", timeout_s=0.5)
    assert (hung.passed, hung.output) == (False, "timed out")


@pytest.mark.parametrize("task", _tasks("map_reduce", 2, 3))
def test_map_reduce_fans_out_one_summary_per_chunk(task: dict[str, Any]) -> None:
    visits, result = node_visits(map_reduce.build(fake_toolkit()), task)
    width = len(result["chunks"])
    assert width == task["document"].count("\n\n") + 1
    assert visits == ["split"] + ["summarize_chunk"] * width + ["combine"]
    assert sorted(result["summaries"]) == [(index, REPLY) for index in range(width)]
    assert result["summary"] == REPLY


@pytest.mark.parametrize("task", _tasks("supervisor", 5, 4))
def test_supervisor_routes_the_planned_turns(task: dict[str, Any]) -> None:
    visits, result = node_visits(supervisor.build(fake_toolkit()), task)
    expected = [node for turn in task["turns"] for node in ("supervisor", turn)]
    assert visits == [*expected, "supervisor"]
    assert [d.split(":")[0] for d in result["decisions"]] == [*task["turns"], "done"]
    assert result["notes"] == [REPLY] * task["turns"].count("researcher")
    assert result["report"] == REPLY


def test_supervisor_rejects_an_unknown_agent() -> None:
    with pytest.raises(ValidationError, match="turns"):
        supervisor.build(fake_toolkit()).invoke({"topic": "x", "turns": ["poet"]})


def test_react_input_messages_are_left_alone() -> None:
    task = react.make_input(random.Random(0))
    question = task["messages"][0]
    assert isinstance(question, HumanMessage)
    react.build(fake_toolkit()).invoke(task)
    assert task["messages"] == [question]


def test_react_reports_an_unknown_tool_as_an_observation() -> None:
    task = {"messages": [HumanMessage("?", id="q")], "plan": [{"tool": "search", "input": "x"}]}
    result = react.build(fake_toolkit()).invoke(task)
    observations = [m.text for m in result["messages"] if isinstance(m, ToolMessage)]
    assert observations == ["error: no tool named 'search'"]
