"""Configuration errors at startup (issue 13, item 9): a bad ``HERMES_SCHEDULER`` or
``HERMES_CONFIG`` raises when a drop-in is made, with the variable named; at call time it never
raises into the user's call."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models import FakeListChatModel

from hermes_agents.errors import ValidationError
from hermes_agents.langchain import HermesChatModel, HermesEmbeddings
from hermes_agents.langgraph import instrument
from hermes_agents.openai import OpenAI
from hermes_agents.scheduling import set_scheduler
from hermes_agents.scheduling.slot import Slot
from hermes_agents.tools import tool

MAKERS: dict[str, Callable[[], object]] = {
    "openai": lambda: OpenAI(base_url="http://127.0.0.1:9/v1", api_key="-"),
    "chat model": lambda: HermesChatModel(inner=FakeListChatModel(responses=["hi"])),
    "embeddings": lambda: HermesEmbeddings(DeterministicFakeEmbedding(size=2)),
    "tool": lambda: tool(lambda: 1),
    "instrument": lambda: instrument(_graph()),
}


def _graph() -> Any:
    from typing import TypedDict

    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        n: int

    builder = StateGraph(State)
    builder.add_node("step", lambda state: {"n": state["n"] + 1})
    builder.add_edge(START, "step")
    builder.add_edge("step", END)
    return builder.compile()


@pytest.fixture(autouse=True)
def _fresh_default() -> Iterator[None]:
    set_scheduler(None)
    yield
    set_scheduler(None)


@pytest.mark.parametrize("make", MAKERS.values(), ids=MAKERS.keys())
@pytest.mark.parametrize("address", ["http://127.0.0.1:7461", "unix://relative.sock", "tcp://h"])
def test_a_bad_scheduler_address_fails_when_the_drop_in_is_made(
    monkeypatch: pytest.MonkeyPatch, make: Callable[[], object], address: str
) -> None:
    monkeypatch.setenv("HERMES_SCHEDULER", address)
    with pytest.raises(ValidationError, match="HERMES_SCHEDULER"):
        make()


@pytest.mark.parametrize("make", MAKERS.values(), ids=MAKERS.keys())
def test_a_bad_config_file_fails_when_the_drop_in_is_made(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, make: Callable[[], object]
) -> None:
    config = tmp_path / "hermes.toml"
    config.write_text("[backends.llm]\nkind = 'llm'\nmax_concurency = 2\n")
    monkeypatch.setenv("HERMES_CONFIG", str(config))
    monkeypatch.delenv("HERMES_SCHEDULER", raising=False)
    with pytest.raises(ValidationError, match="did you mean 'max_concurrency'"):
        make()


def test_at_call_time_a_bad_setting_never_raises_into_the_call(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("HERMES_SCHEDULER", "http://nowhere")
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            with Slot(None, "llm") as slot:  # made without the startup check
                assert slot.ticket is None  # ran unscheduled
    assert caplog.text.count("no hermes scheduler") <= 1
