"""LangChain's standard test suites (the ``langchain-tests`` package) for the drop-ins.

The unit suites run ``HermesChatModel(inner=ChatOpenAI(...))`` and ``HermesEmbeddings`` as
langchain-tests documents: subclass the suite, name the class and its constructor arguments.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models import BaseChatModel
from langchain_core.load import dumpd, load
from langchain_openai import ChatOpenAI, OpenAIEmbeddings
from langchain_tests.integration_tests import ChatModelIntegrationTests, EmbeddingsIntegrationTests
from langchain_tests.unit_tests import ChatModelUnitTests, EmbeddingsUnitTests
from pydantic import SecretStr
from syrupy.assertion import SnapshotAssertion

from hermes_agents.langchain import HermesChatModel, HermesEmbeddings
from hermes_agents.local import LlamaServer

_ENV = {"OPENAI_API_KEY": "sk-test"}
_SERDES_ALLOWLIST = (
    "the suite loads with allowed_objects='all', which admits only the classes in "
    "langchain-core's own import mapping: no package outside LangChain can pass it; "
    "test_serdes_with_an_explicit_allowlist runs the same round trip"
)


class TestHermesChatModelUnit(ChatModelUnitTests):
    """The chat-model unit suite, for the wrapper around ``ChatOpenAI``."""

    @property
    def chat_model_class(self) -> type[HermesChatModel]:
        return HermesChatModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        inner = ChatOpenAI(model="gpt-4o-mini", api_key=SecretStr("sk-test"), temperature=0)
        return {"inner": inner}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        # The inner model's settings read through the wrapper; the key is loaded from the
        # environment by test_serdes.
        inner = ChatOpenAI(model="gpt-4o-mini", api_key=SecretStr("sk-test"))
        expected = {"model_name": "gpt-4o-mini", "openai_api_key": "sk-test"}
        return _ENV, {"inner": inner}, expected

    @pytest.mark.xfail(reason=_SERDES_ALLOWLIST, raises=ValueError, strict=True)
    def test_serdes(self, model: BaseChatModel, snapshot: SnapshotAssertion) -> None:
        super().test_serdes(model, snapshot)

    def test_serdes_with_an_explicit_allowlist(
        self, model: BaseChatModel, snapshot: SnapshotAssertion
    ) -> None:
        """``test_serdes`` with ``allowed_objects=[HermesChatModel, ChatOpenAI]``."""
        with mock.patch.dict(os.environ, _ENV):
            assert dumpd(model) == snapshot(name="serialized")
            loaded = load(
                dumpd(model),
                valid_namespaces=model.get_lc_namespace()[:1],
                allowed_objects=[HermesChatModel, ChatOpenAI],
                secrets_from_env=True,
            )
        assert isinstance(loaded, HermesChatModel)
        assert loaded.dict() == model.dict()


class TestHermesEmbeddingsUnit(EmbeddingsUnitTests):
    """The embeddings unit suite, for the wrapper around a deterministic fake."""

    @property
    def embeddings_class(self) -> type[HermesEmbeddings]:
        return HermesEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"inner": DeterministicFakeEmbedding(size=6)}


class TestBareChatOpenAIUnit(ChatModelUnitTests):
    """The same suite for the bare ``ChatOpenAI``: what the wrapper is held to."""

    @property
    def chat_model_class(self) -> type[ChatOpenAI]:
        return ChatOpenAI

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": "gpt-4o-mini", "api_key": "sk-test", "temperature": 0}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return _ENV, {"model": "gpt-4o-mini"}, {"openai_api_key": "sk-test"}


_LOCAL: dict[str, str] = {}
"""The session's llama.cpp server (``base_url``, ``model``), set by ``_local_server``."""


_BARE_FAILS = frozenset(
    (
        "test_abatch",
        "test_agent_loop[model0]",
        "test_agent_loop[model1]",
        "test_ainvoke",
        "test_ainvoke_with_model_override",
        "test_astream[model0]",
        "test_astream[model1]",
        "test_astream_events_v3",
        "test_astream_with_model_override",
        "test_bind_runnables_as_tools",
        "test_structured_output[json_schema]",
        "test_structured_output[pydantic]",
        "test_structured_output[typeddict]",
        "test_structured_output_async[json_schema]",
        "test_structured_output_async[pydantic]",
        "test_structured_output_async[typeddict]",
        "test_structured_output_optional_param",
        "test_structured_output_pydantic_2_v1",
        "test_tool_calling[model0]",
        "test_tool_calling[model1]",
        "test_tool_calling_async",
        "test_tool_calling_with_no_arguments",
        "test_tool_choice",
        "test_unicode_tool_call_integration",
        "test_usage_metadata_streaming",
    )
)
"""The integration tests the bare ``ChatOpenAI`` fails on the local server (SmolLM2-135M: no
tool calls, structured output or JSON mode), recorded by running ``TestBareChatOpenAILocal``
without this list (langchain-tests 1.1.9): both classes skip exactly these. The wrapper failed
the same 25 and passed the same 15."""


@pytest.fixture(autouse=True)
def _skip_what_the_bare_model_fails(request: pytest.FixtureRequest) -> None:
    local = request.cls is not None and request.cls.__name__.endswith("Local")
    if local and request.node.name in _BARE_FAILS:
        pytest.skip("the bare ChatOpenAI fails it on this server too")


@pytest.fixture(scope="module")
def _local_server(model_path: Path) -> Iterator[None]:
    with LlamaServer(model_path, slots=2, ctx_tokens=2048) as server:
        _LOCAL.update(base_url=server.base_url, model=server.model_name)
        yield
        _LOCAL.clear()


def _local_chat_openai() -> ChatOpenAI:
    return ChatOpenAI(
        model=_LOCAL["model"],
        base_url=_LOCAL["base_url"],
        api_key=SecretStr("local"),
        timeout=60.0,
        max_completion_tokens=64,
    )


@pytest.mark.slow
@pytest.mark.usefixtures("_local_server")
class TestHermesChatModelLocal(ChatModelIntegrationTests):
    """The chat-model integration suite, for the wrapper around ``ChatOpenAI`` on the local
    llama.cpp server (SmolLM2-135M)."""

    @property
    def chat_model_class(self) -> type[HermesChatModel]:
        return HermesChatModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"inner": _local_chat_openai()}


@pytest.mark.slow
@pytest.mark.usefixtures("_local_server")
class TestBareChatOpenAILocal(ChatModelIntegrationTests):
    """The same suite for the bare ``ChatOpenAI`` on the same server."""

    @property
    def chat_model_class(self) -> type[ChatOpenAI]:
        return ChatOpenAI

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {
            "model": _LOCAL["model"],
            "base_url": _LOCAL["base_url"],
            "api_key": "local",
            "timeout": 60.0,
            "max_tokens": 64,
        }


_EMBEDDINGS: dict[str, str] = {}
"""The llama.cpp embeddings server (``base_url``, ``model``), set by ``_embeddings_server``."""


@pytest.fixture(scope="module")
def _embeddings_server(model_path: Path) -> Iterator[None]:
    with LlamaServer(model_path, slots=1, embeddings=True) as server:
        _EMBEDDINGS.update(base_url=server.base_url, model=server.model_name)
        yield
        _EMBEDDINGS.clear()


def _local_embeddings() -> OpenAIEmbeddings:
    return OpenAIEmbeddings(
        model=_EMBEDDINGS["model"],
        base_url=_EMBEDDINGS["base_url"],
        api_key=SecretStr("local"),
        check_embedding_ctx_length=False,  # llama.cpp tokenizes itself (no tiktoken offline)
        timeout=60.0,
    )


@pytest.mark.slow
@pytest.mark.asyncio  # the suite's async tests (strict mode runs only marked ones)
@pytest.mark.usefixtures("_embeddings_server")
class TestHermesEmbeddingsLocal(EmbeddingsIntegrationTests):
    """The embeddings integration suite, for the wrapper around ``OpenAIEmbeddings`` on a local
    llama.cpp embeddings server."""

    @property
    def embeddings_class(self) -> type[HermesEmbeddings]:
        return HermesEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"inner": _local_embeddings()}


@pytest.mark.slow
@pytest.mark.asyncio
@pytest.mark.usefixtures("_embeddings_server")
class TestBareOpenAIEmbeddingsLocal(EmbeddingsIntegrationTests):
    """The same suite for the bare ``OpenAIEmbeddings`` on the same server."""

    @property
    def embeddings_class(self) -> type[OpenAIEmbeddings]:
        return OpenAIEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {
            "model": _EMBEDDINGS["model"],
            "base_url": _EMBEDDINGS["base_url"],
            "api_key": "local",
            "check_embedding_ctx_length": False,
            "timeout": 60.0,
        }
