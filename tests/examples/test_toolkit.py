"""The toolkit: scheduled and unscheduled tools, the local toolkit's models, the scripts' flags."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from langchain_openai import ChatOpenAI, OpenAIEmbeddings

from hermes_agents.apps import Toolkit, example_limits, local_toolkit
from hermes_agents.apps.script import parse_args
from hermes_agents.errors import HermesError, ValidationError
from hermes_agents.langchain import HermesChatModel, HermesEmbeddings
from hermes_agents.pdgraph import StageKind
from hermes_agents.scheduling import LocalScheduler
from tests.examples.fakes import fake_toolkit


def _running(scheduler: LocalScheduler, backend: str) -> int:
    return len(scheduler.core.backends[backend].running)


def test_tools_hold_a_slot_on_their_backend_when_scheduled() -> None:
    scheduler = LocalScheduler.in_process(example_limits())
    toolkit = fake_toolkit(scheduler)
    probe = toolkit.tool(lambda: _running(scheduler, "sandbox"), backend="sandbox")
    assert probe() == 1
    assert _running(scheduler, "sandbox") == 0
    default = toolkit.tool(lambda: _running(scheduler, "tools"))
    assert default() == 1


def test_tools_are_the_plain_functions_without_a_scheduler() -> None:
    def double(value: int) -> int:
        return value * 2

    toolkit = Toolkit(chat=fake_toolkit().chat, embeddings=None)
    assert toolkit.tool(double, backend="sandbox") is double


def test_example_limits_give_each_backend_its_kind() -> None:
    limits = example_limits(llm_slots=3)
    assert limits["llm"].max_concurrency == 3
    assert limits["embeddings"].kind == StageKind.EMBEDDING
    assert limits["tools"].kind == limits["sandbox"].kind == StageKind.TOOL


def test_local_toolkit_builds_chat_openai_at_temperature_zero() -> None:
    toolkit = local_toolkit("http://127.0.0.1:9/v1", "smol", max_tokens=16)
    assert isinstance(toolkit.chat, ChatOpenAI)
    assert (toolkit.chat.model_name, toolkit.chat.temperature, toolkit.chat.seed) == ("smol", 0, 0)
    assert toolkit.chat.max_tokens == 16
    assert toolkit.embeddings is None
    assert toolkit.scheduler is None


def test_local_toolkit_schedules_both_models_with_a_scheduler() -> None:
    scheduler = LocalScheduler.in_process()
    toolkit = local_toolkit(
        "http://127.0.0.1:9/v1", "smol", embeddings_url="http://127.0.0.1:9/v1", scheduler=scheduler
    )
    assert isinstance(toolkit.chat, HermesChatModel)
    assert (toolkit.chat.backend, toolkit.chat.scheduler) == ("llm", scheduler)
    assert isinstance(toolkit.embeddings, HermesEmbeddings)
    assert toolkit.embeddings.backend == "embeddings"
    inner = toolkit.embeddings.inner
    assert isinstance(inner, OpenAIEmbeddings)
    assert inner.check_embedding_ctx_length is False  # raw text: no tiktoken download
    assert toolkit.scheduler is scheduler


def test_local_toolkit_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "langchain_openai", None)  # as if not installed
    with pytest.raises(HermesError, match=r"hermes-agents\[local\]"):
        local_toolkit("http://127.0.0.1:9/v1", "smol")


def test_local_toolkit_rejects_an_empty_budget() -> None:
    with pytest.raises(ValidationError, match="max_tokens"):
        local_toolkit("http://127.0.0.1:9/v1", "smol", max_tokens=0)


def test_script_flags(tmp_path: Path) -> None:
    model = tmp_path / "model.gguf"
    args = parse_args("doc", ["--tasks", "2", "--seed", "5", "--model", str(model)])
    assert (args.tasks, args.seed, args.model, args.threads) == (2, 5, model, None)
    with pytest.raises(SystemExit):
        parse_args("doc", ["--tasks", "0", "--model", str(model)])
