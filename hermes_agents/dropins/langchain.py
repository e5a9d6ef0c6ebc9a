"""LangChain drop-ins: a chat model and embeddings whose calls wait for a Hermes slot.

>>> from langchain_core.language_models import GenericFakeChatModel
>>> from hermes_agents.langchain import scheduled
>>> model = scheduled(GenericFakeChatModel(messages=iter(["Hello!"])))
>>> model.invoke("hi").content
'Hello!'

``HermesChatModel`` wraps any ``BaseChatModel``: LangChain's own machinery (callbacks, tracing,
cache, rate limiter, ``bind``, ``batch``, ``with_retry``...) runs in the wrapper with the inner
model's settings, and the inner model's ``_generate``/``_stream`` (and async twins) run inside
a slot. A stream holds its slot until it ends or is closed. ``bind_tools`` and
``with_structured_output`` ask the inner model (so its provider formats the tools and picks the
structured-output method) and then rebind the result to the wrapper, so those calls stay
scheduled too. Usage comes from ``AIMessage.usage_metadata``.

``HermesEmbeddings`` does the same for ``Embeddings`` (backend ``"embeddings"``); its slots
report measured seconds. ``scheduled(model_or_embeddings)`` picks the right one.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any, cast, overload

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import (
    BaseChatModel,
    LangSmithParams,
    LanguageModelInput,
    ModelProfile,
)
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.messages.ai import UsageMetadata, add_usage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from pydantic import BaseModel, Field, model_validator

from hermes_agents.config import find_config
from hermes_agents.config_enforce import client_priority
from hermes_agents.dropins.langchain_embeddings import HermesEmbeddings
from hermes_agents.dropins.langchain_models import inner_attribute, rebind_models
from hermes_agents.dropins.langchain_priority import (
    aopen_stream,
    open_stream,
    priority_refused,
    with_priority,
)
from hermes_agents.dropins.sizing import call_slot, rough_tokens
from hermes_agents.errors import ValidationError
from hermes_agents.priority import PriorityStyle
from hermes_agents.scheduling.default import check_environment
from hermes_agents.scheduling.interface import Scheduler
from hermes_agents.scheduling.slot import Slot, nested_calls

__all__ = ["HermesChatModel", "HermesEmbeddings", "scheduled"]

logger = logging.getLogger(__name__)

_SHARED_FIELDS = (
    *("cache", "verbose", "callbacks", "tags", "metadata", "custom_get_token_ids"),
    *("rate_limiter", "disable_streaming", "output_version"),
)
"""``BaseChatModel`` settings the wrapper takes from the inner model unless given its own:
LangChain applies them in the wrapper, which calls the inner model's core methods."""

_MAX_OUTPUT_KEYS = ("max_tokens", "max_completion_tokens", "max_output_tokens")


class HermesChatModel(BaseChatModel):
    """A chat model whose calls wait for a slot on ``backend`` (see the module docstring).

    >>> from langchain_core.language_models import FakeListChatModel
    >>> model = HermesChatModel(inner=FakeListChatModel(responses=["4"]), backend="llm")
    >>> model.invoke("2 + 2?").content
    '4'
    """

    inner: BaseChatModel
    """The chat model that does the work."""
    backend: str = "llm"
    """The backend its calls are scheduled on."""
    scheduler: Scheduler | None = Field(default=None, exclude=True)
    """The scheduler; None for ``get_scheduler()`` at each call. Not serialised: a loaded
    wrapper uses ``get_scheduler()``."""
    priority: PriorityStyle | None = None
    """The engine's priority convention: each call's rank goes into the request's
    ``extra_body`` as ``priority`` (OpenAI-family models); None: as the backend's config says
    (``enforce = "engine"`` or ``"both"``), else no priority."""

    def __init__(self, **data: Any) -> None:
        if data.get("scheduler") is None:
            check_environment()  # a bad HERMES_SCHEDULER / HERMES_CONFIG fails here, not later
        if data.get("priority") is None:
            data["priority"] = client_priority(find_config(), data.get("backend", "llm"))
        super().__init__(**data)

    @model_validator(mode="before")
    @classmethod
    def _share_inner_settings(cls, data: Any) -> Any:
        inner = data.get("inner") if isinstance(data, dict) else None
        if not isinstance(inner, BaseChatModel):
            return data
        shared = {name: getattr(inner, name) for name in _SHARED_FIELDS}
        shared["metadata"] = dict(inner.metadata) if inner.metadata is not None else None
        return {**shared, **data}

    def __getattr__(self, name: str) -> Any:
        # Reached only for names the wrapper lacks: pydantic's own lookup (private attributes,
        # extras) first, then the inner model's configuration (see _inner_attribute).
        try:
            return cast(Any, super()).__getattr__(name)
        except AttributeError:
            return inner_attribute(self, name)

    @classmethod
    def is_lc_serializable(cls) -> bool:
        """True: ``dumpd(wrapper)`` holds the inner model's own serialisation, not the
        scheduler."""
        return True

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        """``["hermes_agents", "langchain"]``, the public module ``load`` imports it from."""
        return ["hermes_agents", "langchain"]

    def get_name(self, suffix: str | None = None, *, name: str | None = None) -> str:
        """The inner model's name (its ``name`` or class name): the run name callbacks,
        tracers and ``astream_events`` filters see."""
        return self.inner.get_name(suffix, name=name or self.name)

    @property
    def _llm_type(self) -> str:
        return self.inner._llm_type

    @property
    def _identifying_params(self) -> Mapping[str, Any]:
        return {**self.inner._identifying_params, "hermes_backend": self.backend}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        return self.inner._get_ls_params(stop=stop, **kwargs)

    def _resolve_model_profile(self) -> ModelProfile | None:
        return self.inner.profile

    def get_token_ids(self, text: str) -> list[int]:
        """The inner model's tokenizer."""
        return self.inner.get_token_ids(text)

    def get_num_tokens(self, text: str) -> int:
        """The inner model's token count."""
        return self.inner.get_num_tokens(text)

    def get_num_tokens_from_messages(
        self, messages: list[BaseMessage], tools: Sequence[Any] | None = None
    ) -> int:
        """The inner model's token count."""
        return self.inner.get_num_tokens_from_messages(messages, tools=tools)

    def _should_stream(
        self,
        *,
        async_api: bool,
        run_manager: CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> bool:
        # Stream exactly when the inner model would (its `streaming` flag, its _stream).
        return self.inner._should_stream(async_api=async_api, run_manager=run_manager, **kwargs)

    def _should_use_protocol_streaming(
        self,
        *,
        async_api: bool,
        run_manager: CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> bool:
        inner = type(self.inner)
        streams = inner._stream is not BaseChatModel._stream or (
            async_api and inner._astream is not BaseChatModel._astream
        )
        return streams and self.inner._should_use_protocol_streaming(
            async_api=async_api, run_manager=run_manager, **kwargs
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        method = self.inner._generate
        with self._call(messages, kwargs) as call, nested_calls(call):
            hinted = with_priority(self.inner, call, kwargs, self.priority)
            try:
                result = method(messages, stop=stop, **_manager(method, run_manager), **hinted)
            except Exception as error:
                if hinted is kwargs or not self._refused(error):
                    raise
                result = method(messages, stop=stop, **_manager(method, run_manager), **kwargs)
            _report(call, _result_usage(result))
        return result

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        method = self.inner._agenerate
        async with self._call(messages, kwargs) as call:
            hinted = with_priority(self.inner, call, kwargs, self.priority)
            with nested_calls(call):
                try:
                    result = await method(
                        messages, stop=stop, **_manager(method, run_manager), **hinted
                    )
                except Exception as error:
                    if hinted is kwargs or not self._refused(error):
                        raise
                    result = await method(
                        messages, stop=stop, **_manager(method, run_manager), **kwargs
                    )
            _report(call, _result_usage(result))
        return result

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        start = partial(self.inner._stream, messages, stop=stop, run_manager=run_manager)
        with self._call(messages, kwargs) as call:
            usage: UsageMetadata | None = None
            hinted = with_priority(self.inner, call, kwargs, self.priority)
            with nested_calls(call):  # a refused priority: resent before the first chunk only
                chunks, chunk = open_stream(start, hinted, kwargs, self._refused)
            try:
                while chunk is not None:
                    usage = _add_usage(usage, chunk.message)
                    yield chunk
                    with nested_calls(call):  # not across the yield: see nested_calls
                        chunk = next(chunks, None)
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()
            _report(call, usage)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        start = partial(self.inner._astream, messages, stop=stop, run_manager=run_manager)
        async with self._call(messages, kwargs) as call:
            usage: UsageMetadata | None = None
            hinted = with_priority(self.inner, call, kwargs, self.priority)
            with nested_calls(call):
                chunks, chunk = await aopen_stream(start, hinted, kwargs, self._refused)
            try:
                while chunk is not None:
                    usage = _add_usage(usage, chunk.message)
                    yield chunk
                    with nested_calls(call):
                        chunk = await anext(chunks, None)
            finally:
                aclose = getattr(chunks, "aclose", None)
                if aclose is not None:
                    await aclose()
            _report(call, usage)

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | Any],
        *,
        tool_choice: Any = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """The inner model's ``bind_tools`` (its provider formats the tools), rebound to this
        wrapper so that the calls stay scheduled."""
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        return self._adopt(self.inner.bind_tools(tools, **kwargs), "bind_tools")

    def with_structured_output(
        self,
        schema: dict[str, Any] | type,
        *,
        include_raw: bool = False,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        """The inner model's ``with_structured_output`` (its method, its parsers), rebound to
        this wrapper so that the calls stay scheduled."""
        runnable = self.inner.with_structured_output(schema, include_raw=include_raw, **kwargs)
        return self._adopt(runnable, "with_structured_output")

    def _call(self, messages: list[BaseMessage], kwargs: Mapping[str, Any]) -> Slot:
        prompt = rough_tokens([message.content for message in messages])
        limits = [kwargs.get(key) for key in _MAX_OUTPUT_KEYS]
        limits += [getattr(self.inner, key, None) for key in _MAX_OUTPUT_KEYS]
        return call_slot(
            self.scheduler,
            self.backend,
            prompt_tokens=prompt + rough_tokens(kwargs.get("tools")),
            max_output_tokens=next((n for n in limits if _is_count(n)), None),
        )

    def _refused(self, error: Exception) -> bool:
        """The engine refused the priority: stop sending it (``priority_refused``)."""
        if not priority_refused(error, self.backend):
            return False
        self.priority = None
        return True

    def _adopt(self, runnable: Runnable[Any, Any], method: str) -> Runnable[Any, Any]:
        """``runnable`` with every chat model in it replaced by a wrapper like this one."""
        adopted, found = rebind_models(runnable, self, 0)
        if not found:
            logger.warning(
                "%s.%s returned a runnable without a chat model in it; its calls run unscheduled",
                type(self.inner).__name__,
                method,
            )
        return cast(Runnable[Any, Any], adopted)


def _manager(method: Callable[..., Any], run_manager: object) -> dict[str, Any]:
    """``run_manager`` as a keyword, if ``method`` takes one (as LangChain itself checks)."""
    if "run_manager" in inspect.signature(method).parameters:
        return {"run_manager": run_manager}
    return {}


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _add_usage(total: UsageMetadata | None, message: BaseMessage) -> UsageMetadata | None:
    usage = getattr(message, "usage_metadata", None)
    return total if usage is None else add_usage(total, usage)


def _result_usage(result: ChatResult) -> UsageMetadata | None:
    total: UsageMetadata | None = None
    for generation in result.generations:
        total = _add_usage(total, generation.message)
    return total


def _report(call: Slot, usage: UsageMetadata | None) -> None:
    if usage is not None:
        cached = usage.get("input_token_details", {}).get("cache_read", 0)
        call.report(usage.get("input_tokens", 0), usage.get("output_tokens", 0), cached)


@overload
def scheduled(
    model: BaseChatModel, *, backend: str | None = None, scheduler: Scheduler | None = None
) -> HermesChatModel: ...


@overload
def scheduled(
    model: Embeddings, *, backend: str | None = None, scheduler: Scheduler | None = None
) -> HermesEmbeddings: ...


def scheduled(
    model: BaseChatModel | Embeddings,
    *,
    backend: str | None = None,
    scheduler: Scheduler | None = None,
) -> HermesChatModel | HermesEmbeddings:
    """Wrap a chat model (backend ``"llm"``) or embeddings (backend ``"embeddings"``) so that
    their calls are scheduled; a model that is wrapped already comes back unchanged.

    >>> from langchain_core.embeddings import DeterministicFakeEmbedding
    >>> scheduled(DeterministicFakeEmbedding(size=4), backend="embed").backend
    'embed'
    """
    if isinstance(model, HermesChatModel | HermesEmbeddings):
        return model
    if isinstance(model, BaseChatModel):
        return HermesChatModel(inner=model, backend=backend or "llm", scheduler=scheduler)
    if isinstance(model, Embeddings):
        return HermesEmbeddings(model, backend=backend or "embeddings", scheduler=scheduler)
    raise ValidationError(
        f"expected a LangChain chat model or embeddings, got {type(model).__name__}; wrap "
        "OpenAI clients with hermes_agents.openai instead",
        "argument 'model'",
    )
