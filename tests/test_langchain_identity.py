"""``HermesChatModel`` keeps the wrapped model's identity: attributes, ``_llm_type``, run names,
LangSmith parameters and LangChain serialisation, compared with the bare ``ChatOpenAI``."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import FakeListChatModel
from langchain_core.load import dumpd, dumps, load
from langchain_core.messages import BaseMessage
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from hermes_agents.langchain import HermesChatModel
from hermes_agents.scheduling import LocalScheduler
from tests.doubles import RecordingModels, capacity_one_scheduler

_SECRETS = {"OPENAI_API_KEY": "sk-test"}


@pytest.fixture
def scheduler() -> LocalScheduler:
    return capacity_one_scheduler(RecordingModels())


def _bare() -> ChatOpenAI:
    return ChatOpenAI(
        model="gpt-4o-mini",
        api_key=SecretStr(_SECRETS["OPENAI_API_KEY"]),
        base_url="http://127.0.0.1:9/v1",
        temperature=0.3,
        max_completion_tokens=20,
    )


def test_provider_attributes_read_through_the_wrapper(scheduler: LocalScheduler) -> None:
    bare = _bare()
    model = HermesChatModel(inner=_bare(), scheduler=scheduler)
    names = [n for n, f in type(bare).model_fields.items() if not f.exclude]
    names.append("model")
    for name in names:
        assert getattr(model, name) == getattr(bare, name), name
    assert model.model == model.model_name == "gpt-4o-mini"
    assert model.openai_api_base == "http://127.0.0.1:9/v1"


def test_methods_private_names_and_clients_are_not_forwarded(scheduler: LocalScheduler) -> None:
    model = HermesChatModel(inner=_bare(), scheduler=scheduler)
    for name in ("client", "root_client", "_client_params", "not_an_attribute"):
        with pytest.raises(AttributeError, match=name):
            getattr(model, name)
    assert model.backend == "llm"  # the wrapper's own fields win


def test_llm_type_and_langsmith_params_are_the_inner_models(scheduler: LocalScheduler) -> None:
    bare = _bare()
    model = HermesChatModel(inner=_bare(), scheduler=scheduler)
    assert model._llm_type == bare._llm_type == "openai-chat"
    assert model._get_ls_params() == bare._get_ls_params()
    assert model._get_ls_params()["ls_model_name"] == "gpt-4o-mini"


class _Names(BaseCallbackHandler):
    """Records the run name and serialised id that ``on_chat_model_start`` receives."""

    def __init__(self) -> None:
        self.seen: list[tuple[str | None, list[str]]] = []

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        **kwargs: Any,
    ) -> None:
        self.seen.append((kwargs.get("name") or serialized.get("name"), serialized["id"]))


def test_callbacks_and_events_see_the_inner_models_name(scheduler: LocalScheduler) -> None:
    bare = FakeListChatModel(responses=["a"] * 4)
    model = HermesChatModel(inner=FakeListChatModel(responses=["a"] * 4), scheduler=scheduler)
    assert model.get_name() == bare.get_name() == "FakeListChatModel"
    named = HermesChatModel(inner=FakeListChatModel(responses=["a"], name="fast"))
    assert named.get_name() == "fast"
    handler = _Names()
    bare.invoke("hi", {"callbacks": [handler]})
    model.invoke("hi", {"callbacks": [handler]})
    assert handler.seen[0][0] == handler.seen[1][0] == "FakeListChatModel"

    async def names(runnable: Any) -> list[str]:
        stream = runnable.astream_events("hi", include_names=["FakeListChatModel"])
        return [event["name"] async for event in stream]

    assert asyncio.run(names(model)) == asyncio.run(names(bare))
    assert asyncio.run(names(model))


def test_dumpd_and_load_round_trip_without_the_scheduler(scheduler: LocalScheduler) -> None:
    model = HermesChatModel(inner=_bare(), backend="small", scheduler=scheduler)
    data = dumpd(model)
    assert data["id"] == ["hermes_agents", "langchain", "HermesChatModel"]
    assert data["kwargs"]["inner"] == dumpd(_bare())
    assert data["kwargs"]["backend"] == "small"
    assert "scheduler" not in data["kwargs"]
    assert "sk-test" not in dumps(model)
    loaded = load(
        data,
        valid_namespaces=["hermes_agents"],
        allowed_objects=[HermesChatModel, ChatOpenAI],
        secrets_map=_SECRETS,
    )
    assert isinstance(loaded, HermesChatModel)
    assert isinstance(loaded.inner, ChatOpenAI)
    assert (loaded.backend, loaded.scheduler, loaded.model_name) == ("small", None, "gpt-4o-mini")
    assert loaded.temperature == 0.3
    assert dumpd(loaded) == data
