"""The LangChain drop-ins (``HermesChatModel``, ``HermesEmbeddings``) with langchain-core fakes."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator, Iterator, Sequence
from operator import itemgetter
from typing import Any, cast

import httpx2
import pytest
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models import (
    BaseChatModel,
    FakeListChatModel,
    GenericFakeChatModel,
    LanguageModelInput,
    ParrotFakeChatModel,
)
from langchain_core.language_models.fake_chat_models import FakeListChatModelError
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ToolCall
from langchain_core.messages.ai import UsageMetadata
from langchain_core.output_parsers import PydanticOutputParser
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableBinding, RunnableMap, RunnablePassthrough
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, Field, PrivateAttr

from hermes_agents.errors import ValidationError
from hermes_agents.langchain import HermesChatModel, HermesEmbeddings, scheduled
from hermes_agents.openai import OpenAI
from hermes_agents.scheduling import LocalScheduler
from tests.doubles import RecordingModels, capacity_one_scheduler
from tests.fake_openai import MODEL, FakeOpenAI

USAGE: UsageMetadata = {"input_tokens": 7, "output_tokens": 3, "total_tokens": 10}


class Answer(BaseModel):
    """The answer to a sum."""

    value: int


class ProviderFake(GenericFakeChatModel):
    """A fake provider: ``bind_tools`` formats tools and binds them, as real providers do;
    ``with_structured_output(method="json_schema")`` binds a ``response_format``. It records
    each call's keyword arguments with the number of running slots ``probe`` saw then."""

    probe: Callable[[], int] = lambda: 0
    delay_s: float = 0.0
    calls: list[tuple[dict[str, Any], int]] = Field(default_factory=list)
    peak: int = 0
    _inside: int = PrivateAttr(default=0)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        with self._lock:
            self.calls.append((kwargs, self.probe()))
            self._inside += 1
            self.peak = max(self.peak, self._inside)
        time.sleep(self.delay_s)
        try:
            return super()._generate(messages, stop, run_manager, **kwargs)
        finally:
            with self._lock:
                self._inside -= 1

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        yield from super()._stream(messages, stop, run_manager, **kwargs)
        usage = AIMessageChunk(content="", usage_metadata=USAGE, chunk_position="last")
        yield ChatGenerationChunk(message=usage)

    def bind_tools(
        self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any
    ) -> Runnable[LanguageModelInput, AIMessage]:
        formatted = [convert_to_openai_tool(tool) for tool in tools]
        return self.bind(tools=formatted, tool_choice=tool_choice, **kwargs)

    def with_structured_output(
        self, schema: dict[str, Any] | type, *, include_raw: bool = False, **kwargs: Any
    ) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        if kwargs.pop("method", None) != "json_schema":
            return super().with_structured_output(schema, include_raw=include_raw, **kwargs)
        assert isinstance(schema, type)
        assert issubclass(schema, BaseModel)
        llm = self.bind(response_format={"type": "json_schema", "schema": schema.__name__})
        parser: PydanticOutputParser[BaseModel] = PydanticOutputParser(pydantic_object=schema)
        if include_raw:
            return RunnableMap(raw=llm) | RunnablePassthrough.assign(
                parsed=itemgetter("raw") | parser
            )
        return llm | parser


class OpenAIBacked(BaseChatModel):
    """A chat model that calls the drop-in OpenAI client (a wrapper around a wrapper)."""

    client: Any

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = str(messages[-1].content)
        reply = self.client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": text}]
        )
        message = AIMessage(content=reply.choices[0].message.content or "")
        return ChatResult(generations=[ChatGeneration(message=message)])

    @property
    def _llm_type(self) -> str:
        return "openai-backed"


@pytest.fixture
def models() -> RecordingModels:
    return RecordingModels()


@pytest.fixture
def scheduler(models: RecordingModels) -> LocalScheduler:
    return capacity_one_scheduler(models)


def running(scheduler: LocalScheduler, backend: str = "llm") -> int:
    return len(scheduler.core.backends[backend].running)


def granted(scheduler: LocalScheduler, backend: str = "llm") -> int:
    return scheduler.core.backends[backend].granted


def provider(scheduler: LocalScheduler, *replies: AIMessage | str, **fields: Any) -> ProviderFake:
    return ProviderFake(messages=iter(replies), probe=lambda: running(scheduler), **fields)


def tool_call(value: int) -> AIMessage:
    call = ToolCall(name="Answer", args={"value": value}, id="call_1", type="tool_call")
    return AIMessage(content="", tool_calls=[call], usage_metadata=USAGE)


# -- calls are scheduled, results unchanged -------------------------------------------------------


def test_invoke_runs_in_a_slot_and_reports_usage(
    scheduler: LocalScheduler, models: RecordingModels
) -> None:
    inner = provider(scheduler, AIMessage(content="Four.", usage_metadata=USAGE))
    model = HermesChatModel(inner=inner, scheduler=scheduler)
    with scheduler.run("maths"):
        assert model.invoke("2 + 2?").content == "Four."
    assert inner.calls == [({}, 1)]
    assert running(scheduler) == 0
    ((app, visits),) = models.runs
    calls = [(c.prompt_tokens, c.output_tokens) for v in visits for c in v.calls]
    assert (app, calls) == ("maths", [(7, 3)])


def test_outputs_match_the_unwrapped_model(scheduler: LocalScheduler) -> None:
    replies = ["The sky is blue.", "Water is wet."]
    plain = FakeListChatModel(responses=replies)
    model = scheduled(FakeListChatModel(responses=replies), scheduler=scheduler)
    assert model.invoke("sky?").content == plain.invoke("sky?").content
    chunks = [chunk.content for chunk in model.stream("water?")]
    assert chunks == [chunk.content for chunk in plain.stream("water?")]
    contents = [reply.content for reply in model.batch(["a", "b"])]
    assert contents == [reply.content for reply in plain.batch(["a", "b"])]
    assert granted(scheduler) == 4


def test_settings_and_identity_come_from_the_inner_model(scheduler: LocalScheduler) -> None:
    inner = FakeListChatModel(responses=["x"], tags=["fast"], metadata={"team": "a"})
    model = HermesChatModel(inner=inner, backend="small", scheduler=scheduler)
    assert model.tags == ["fast"]
    assert model.metadata is not None
    assert model.metadata["team"] == "a"
    assert model._llm_type == inner._llm_type == "fake-list-chat-model"
    assert model._identifying_params == {"responses": ["x"], "hermes_backend": "small"}
    model.invoke("hi")
    assert scheduler.core.backends["small"].granted == 1


def test_errors_pass_through_and_release(scheduler: LocalScheduler) -> None:
    model = scheduled(
        FakeListChatModel(responses=["abc"], error_on_chunk_number=1), scheduler=scheduler
    )
    with pytest.raises(FakeListChatModelError):
        list(model.stream("hi"))
    assert running(scheduler) == 0
    failing = scheduled(GenericFakeChatModel(messages=iter([])), scheduler=scheduler)
    with pytest.raises(StopIteration):
        failing.invoke("hi")
    assert running(scheduler) == 0


def test_capacity_one_serialises_threads(scheduler: LocalScheduler) -> None:
    inner = provider(scheduler, *(f"reply {i}" for i in range(6)), delay_s=0.002)
    model = scheduled(inner, scheduler=scheduler)
    replies = model.batch([f"q{i}" for i in range(6)], config={"max_concurrency": 6})
    assert sorted(str(reply.content) for reply in replies) == [f"reply {i}" for i in range(6)]
    assert inner.peak == 1
    assert granted(scheduler) == 6


def test_capacity_one_serialises_asyncio(scheduler: LocalScheduler) -> None:
    inner = provider(scheduler, *(f"reply {i}" for i in range(6)), delay_s=0.002)
    model = scheduled(inner, scheduler=scheduler)

    async def main() -> list[BaseMessage]:
        return await asyncio.gather(*(model.ainvoke(f"q{i}") for i in range(6)))

    assert len(asyncio.run(main())) == 6
    assert inner.peak == 1
    assert granted(scheduler) == 6


# -- streams hold the slot ------------------------------------------------------------------------


def test_a_stream_holds_its_slot_and_reports_usage(
    scheduler: LocalScheduler, models: RecordingModels
) -> None:
    model = scheduled(provider(scheduler, "one two three"), scheduler=scheduler)
    seen = []
    with scheduler.run("talk"):
        for chunk in model.stream("count"):
            seen.append((chunk.content, running(scheduler)))
    assert [content for content, _ in seen][:5] == ["one", " ", "two", " ", "three"]
    assert all(slots == 1 for content, slots in seen if content)
    assert running(scheduler) == 0
    ((_, visits),) = models.runs
    assert [(c.prompt_tokens, c.output_tokens) for v in visits for c in v.calls] == [(7, 3)]


def test_a_stream_left_early_is_released_when_closed(scheduler: LocalScheduler) -> None:
    model = scheduled(provider(scheduler, "one two three"), scheduler=scheduler)
    chunks = cast(Generator[BaseMessage, None, None], model.stream("count"))
    next(chunks)
    assert running(scheduler) == 1
    chunks.close()
    assert running(scheduler) == 0


def test_async_streams_hold_their_slot(scheduler: LocalScheduler) -> None:
    model = scheduled(FakeListChatModel(responses=["abc", "def"]), scheduler=scheduler)

    async def main() -> None:
        async for _ in model.astream("x"):
            assert running(scheduler) == 1
        assert running(scheduler) == 0
        chunks = cast(AsyncGenerator[BaseMessage, None], model.astream("y"))
        await anext(chunks)
        assert running(scheduler) == 1
        await chunks.aclose()
        assert running(scheduler) == 0

    asyncio.run(main())
    assert granted(scheduler) == 2


def test_a_model_without_streaming_streams_as_it_would_unwrapped(
    scheduler: LocalScheduler,
) -> None:
    model = scheduled(ParrotFakeChatModel(), scheduler=scheduler)
    assert [chunk.content for chunk in model.stream("echo")] == ["echo"]
    assert granted(scheduler) == 1


# -- bind_tools and with_structured_output stay scheduled -----------------------------------------


def test_bind_tools_binds_the_providers_tools_to_the_wrapper(scheduler: LocalScheduler) -> None:
    inner = provider(scheduler, tool_call(4))
    model = scheduled(inner, scheduler=scheduler)
    bound = model.bind_tools([Answer], tool_choice="Answer")
    assert isinstance(bound, RunnableBinding)
    assert bound.bound is model
    reply = bound.invoke("2 + 2?")
    assert reply.tool_calls[0]["args"] == {"value": 4}
    ((kwargs, slots),) = inner.calls
    assert kwargs["tools"] == [convert_to_openai_tool(Answer)]
    assert kwargs["tool_choice"] == "Answer"
    assert slots == 1


@pytest.mark.parametrize("include_raw", [False, True])
def test_structured_output_by_function_calling_is_scheduled(
    scheduler: LocalScheduler, include_raw: bool
) -> None:
    inner = provider(scheduler, tool_call(4))
    model = scheduled(inner, scheduler=scheduler)
    result = model.with_structured_output(Answer, include_raw=include_raw).invoke("2 + 2?")
    parsed = result["parsed"] if isinstance(result, dict) else result
    assert parsed == Answer(value=4)
    ((kwargs, slots),) = inner.calls
    assert kwargs["tool_choice"] == "any"
    assert slots == 1


@pytest.mark.parametrize("include_raw", [False, True])
def test_a_providers_own_structured_output_method_is_kept_and_scheduled(
    scheduler: LocalScheduler, include_raw: bool
) -> None:
    inner = provider(scheduler, '{"value": 4}')
    model = scheduled(inner, scheduler=scheduler)
    structured = model.with_structured_output(Answer, method="json_schema", include_raw=include_raw)
    result = structured.invoke("2 + 2?")
    parsed = result["parsed"] if isinstance(result, dict) else result
    assert parsed == Answer(value=4)
    ((kwargs, slots),) = inner.calls
    assert kwargs == {"response_format": {"type": "json_schema", "schema": "Answer"}}
    assert slots == 1
    assert granted(scheduler) == 1


def test_a_call_through_a_scheduled_openai_client_is_not_scheduled_twice(
    scheduler: LocalScheduler,
) -> None:
    server = FakeOpenAI()
    client = OpenAI(
        api_key="k",
        base_url="http://fake/v1",
        http_client=httpx2.Client(transport=server.transport()),
        hermes_scheduler=scheduler,
        hermes_priority="vllm",
    )
    model = scheduled(OpenAIBacked(client=client), scheduler=scheduler)
    assert model.invoke("hi").content  # capacity 1: a second slot would wait forever
    assert granted(scheduler) == 1
    assert isinstance(server.requests[-1]["priority"], int)  # the outer call's rank


# -- embeddings and scheduled() -------------------------------------------------------------------


def test_embeddings_are_scheduled_and_unchanged(scheduler: LocalScheduler) -> None:
    plain = DeterministicFakeEmbedding(size=8)
    embeddings = HermesEmbeddings(DeterministicFakeEmbedding(size=8), scheduler=scheduler)
    assert embeddings.embed_documents(["a", "b"]) == plain.embed_documents(["a", "b"])
    assert embeddings.embed_query("a") == plain.embed_query("a")

    async def main() -> tuple[list[list[float]], list[float]]:
        return await embeddings.aembed_documents(["c"]), await embeddings.aembed_query("c")

    assert asyncio.run(main()) == (plain.embed_documents(["c"]), plain.embed_query("c"))
    assert granted(scheduler, "embeddings") == 4
    assert running(scheduler, "embeddings") == 0


def test_scheduled_picks_the_wrapper_and_keeps_wrapped_models() -> None:
    chat = scheduled(FakeListChatModel(responses=["x"]))
    embeddings = scheduled(DeterministicFakeEmbedding(size=2), backend="vectors")
    assert isinstance(chat, HermesChatModel)
    assert chat.backend == "llm"
    assert isinstance(embeddings, HermesEmbeddings)
    assert embeddings.backend == "vectors"
    assert scheduled(chat) is chat
    with pytest.raises(ValidationError, match="chat model or embeddings"):
        scheduled(object())  # type: ignore[call-overload]
