"""What every example app shares: ``Toolkit`` (what it is built with), ``ExampleApp`` (what it
is) and ``local_toolkit`` (a toolkit over local llama.cpp servers).

>>> from langchain_core.language_models import FakeListChatModel
>>> toolkit = Toolkit(chat=FakeListChatModel(responses=["hi"]), embeddings=None)
>>> toolkit.tool(len)("abc")  # no scheduler: tools run unscheduled
3
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeAlias, TypeVar

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from langgraph.graph.state import CompiledStateGraph
from pydantic import SecretStr

from hermes_agents.errors import HermesError, ValidationError
from hermes_agents.langchain import scheduled
from hermes_agents.pdgraph import StageKind
from hermes_agents.scheduling.interface import Scheduler
from hermes_agents.scheduling.state import BackendLimits
from hermes_agents.tools import DEFAULT_TOOL_BACKEND
from hermes_agents.tools import tool as scheduled_tool

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "ExampleApp",
    "Graph",
    "Toolkit",
    "example_limits",
    "local_toolkit",
]

P = ParamSpec("P")
R = TypeVar("R")

Graph: TypeAlias = CompiledStateGraph[Any, Any, Any, Any]
"""A compiled LangGraph graph, as every app's ``build`` returns it."""

DEFAULT_MAX_TOKENS = 32
"""Output budget of an LLM call whose app sets none: the apps stay short on a small CPU."""


@dataclass(frozen=True)
class Toolkit:
    """What an app is built with: its models and, optionally, the scheduler of its tools."""

    chat: BaseChatModel
    """The LLM; may be a ``HermesChatModel`` (scheduled) or any LangChain chat model."""
    embeddings: Embeddings | None = None
    """Embeddings for the ``rag`` app; None when the mix has no rag."""
    scheduler: Scheduler | None = None
    """The scheduler of the tools; None runs them unscheduled (the bare baseline)."""
    tool_backend: str = DEFAULT_TOOL_BACKEND
    """The backend of tools that name none."""

    def tool(
        self, fn: Callable[P, R], *, backend: str | None = None, stage: str | None = None
    ) -> Callable[P, R]:
        """``fn`` as a scheduled tool on ``backend`` (default ``tool_backend``), or ``fn``
        itself when the toolkit has no scheduler.

        Apps pass ``stage=`` the name of the node that calls the tool, so that the call joins
        that node's stage visit instead of starting a stage named after the function.
        """
        return scheduled_tool(
            backend=backend or self.tool_backend,
            stage=stage,
            scheduler=self.scheduler,
            enabled=self.scheduler is not None,
        )(fn)


@dataclass(frozen=True)
class ExampleApp:
    """One example app: how to build its graph and how to draw a task for it."""

    name: str
    """The app class name, used as ``instrument(graph, name=...)``."""
    description: str
    """One line: what the app does and what its plan controls."""
    build: Callable[[Toolkit], Any]
    """Returns the compiled LangGraph graph, built with the toolkit's models and tools."""
    make_input: Callable[[random.Random], dict[str, Any]]
    """One task (the graph's input) drawn from the generator; the same seed gives the same
    tasks. A task carries the plan that decides the run's shape (see docs/examples.md)."""


def local_toolkit(
    chat_url: str,
    model_name: str,
    *,
    embeddings_url: str | None = None,
    scheduler: Scheduler | None = None,
    max_tokens: int = DEFAULT_MAX_TOKENS,
) -> Toolkit:
    """A toolkit over OpenAI-compatible servers (llama.cpp's ``LlamaServer.base_url``).

    The chat model is LangChain's ``ChatOpenAI`` at temperature 0 and seed 0 with a small
    default ``max_tokens`` (apps bind their own per call); embeddings, when
    ``embeddings_url`` is given, are ``OpenAIEmbeddings`` sending raw text. With a
    ``scheduler``, both are wrapped by ``scheduled(...)`` on backends ``"llm"`` and
    ``"embeddings"``, and the tools are scheduled too.

    Needs ``langchain-openai``: ``pip install 'hermes-agents[local]'``.
    """
    if max_tokens < 1:
        raise ValidationError(f"must be at least 1, got {max_tokens}", "argument 'max_tokens'")
    chat, embeddings = _openai_models(chat_url, model_name, embeddings_url, max_tokens)
    if scheduler is not None:
        chat = scheduled(chat, backend="llm", scheduler=scheduler)
        if embeddings is not None:
            embeddings = scheduled(embeddings, backend="embeddings", scheduler=scheduler)
    return Toolkit(chat=chat, embeddings=embeddings, scheduler=scheduler)


def _openai_models(
    chat_url: str, model_name: str, embeddings_url: str | None, max_tokens: int
) -> tuple[BaseChatModel, Embeddings | None]:
    """LangChain's OpenAI chat model and (with a URL) embeddings, imported on first use."""
    try:
        from langchain_openai import ChatOpenAI, OpenAIEmbeddings
    except ImportError as exc:
        raise HermesError(
            "the example apps' local toolkit needs langchain-openai; install it with "
            "pip install 'hermes-agents[local]'"
        ) from exc
    chat = ChatOpenAI(
        base_url=chat_url,
        api_key=SecretStr("local"),
        model=model_name,
        temperature=0,
        seed=0,
        max_completion_tokens=max_tokens,  # ChatOpenAI's name for max_tokens (llama.cpp reads it)
        timeout=60.0,
    )
    if embeddings_url is None:
        return chat, None
    # Raw text, not tiktoken ids: tiktoken would download its encodings, and llama.cpp
    # tokenizes with the model's own vocabulary anyway.
    embeddings = OpenAIEmbeddings(
        base_url=embeddings_url,
        api_key=SecretStr("local"),
        model=model_name,
        check_embedding_ctx_length=False,
        timeout=60.0,
    )
    return chat, embeddings


def example_limits(llm_slots: int = 2, tool_slots: int = 2) -> dict[str, BackendLimits]:
    """Scheduler limits for the backends the apps use, each with its kind (so that the
    learner keeps tool seconds and token counts where they belong)::

        scheduler = LocalScheduler.in_process(example_limits())

    ``llm_slots`` should match the chat server's slots; ``embeddings`` gets one.
    """
    return {
        "llm": BackendLimits(llm_slots, kind=StageKind.LLM),
        "embeddings": BackendLimits(1, kind=StageKind.EMBEDDING),
        DEFAULT_TOOL_BACKEND: BackendLimits(tool_slots, kind=StageKind.TOOL),
        "sandbox": BackendLimits(tool_slots, kind=StageKind.TOOL),
    }
