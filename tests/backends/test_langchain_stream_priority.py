"""Streaming LangChain calls against a vLLM that refuses request priorities: resent without the
priority once (one warning, none sent afterwards) when the refusal comes before the first chunk,
as vLLM's streaming answer (a 200 whose first event is the error) or as a plain 400; never once a
chunk has been handed on."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import httpx2
import openai
import pytest
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_openai import ChatOpenAI
from pydantic import Field

from hermes_agents.backends.fakebase import openai_error
from hermes_agents.backends.testing import FakeVLLM
from hermes_agents.capacity.throttle import throttle_of
from hermes_agents.langchain import HermesChatModel
from hermes_agents.scheduling import LocalScheduler
from tests.backends.test_engine_priority import (
    MODEL,
    async_bridge,
    bridge,
    chat_model,
    refusal_warnings,
)
from tests.doubles import RecordingModels, capacity_one_scheduler


@pytest.fixture
def scheduler() -> LocalScheduler:
    return capacity_one_scheduler(RecordingModels())


def _streamed(fake: FakeVLLM) -> list[dict[str, Any]]:
    return [r.body for r in fake.requests if r.path == "/v1/chat/completions"]


def test_the_fake_refuses_a_streamed_priority_inside_the_stream() -> None:
    body = {"model": MODEL, "messages": [], "stream": True, "priority": 7}
    answer = FakeVLLM().handle(httpx.Request("POST", "http://e/v1/chat/completions", json=body))
    assert answer.status_code == 200  # vLLM's engine refuses it once the stream has begun
    assert answer.headers["content-type"].startswith("text/event-stream")
    assert '"Got priority 7 but Priority scheduling is not enabled."' in answer.text


def test_stream_is_resent_without_priority_once(
    scheduler: LocalScheduler, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeVLLM()  # no --scheduling-policy priority
    model = chat_model(fake, scheduler)
    with scheduler.run("qa"):
        first = "".join(str(chunk.content) for chunk in model.stream("hi", max_tokens=500))
        second = "".join(str(chunk.content) for chunk in model.stream("hi", max_tokens=500))
    assert first == second == "ok"  # the user's stream never noticed
    bodies = _streamed(fake)
    assert [body["stream"] for body in bodies] == [True, True, True]
    assert ["priority" in body for body in bodies] == [True, False, False]
    assert model.priority is None
    assert refusal_warnings(caplog) == 1
    assert not scheduler.core.backends["llm"].running  # every slot came back


def test_astream_is_resent_without_priority_once(
    scheduler: LocalScheduler, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeVLLM()
    inner = ChatOpenAI(
        model=MODEL,
        api_key="-",  # type: ignore[arg-type]
        base_url="http://engine/v1",
        http_async_client=httpx2.AsyncClient(transport=async_bridge(fake)),
        max_retries=0,
    )
    model = HermesChatModel(inner=inner, scheduler=scheduler, priority="vllm")

    async def stream_twice() -> list[str]:
        texts = []
        for _ in range(2):
            chunks = [str(chunk.content) async for chunk in model.astream("hi", max_tokens=500)]
            texts.append("".join(chunks))
        return texts

    with scheduler.run("qa"):
        assert asyncio.run(stream_twice()) == ["ok", "ok"]
    assert ["priority" in body for body in _streamed(fake)] == [True, False, False]
    assert model.priority is None
    assert refusal_warnings(caplog) == 1
    assert not scheduler.core.backends["llm"].running


def test_a_plain_400_before_the_stream_is_resent_too(scheduler: LocalScheduler) -> None:
    fake = FakeVLLM(scheduling_policy="priority")  # serves; the proxy in front refuses

    def proxy(request: httpx2.Request) -> httpx2.Response:
        if b'"priority"' in request.read():
            refused = openai_error(
                400, "BadRequestError", "Got priority 5 but Priority scheduling is not enabled."
            )
            return httpx2.Response(400, headers=refused.headers, content=refused.content)
        return bridge(fake).handle_request(request)

    inner = ChatOpenAI(
        model=MODEL,
        api_key="-",  # type: ignore[arg-type]
        base_url="http://engine/v1",
        http_client=httpx2.Client(transport=httpx2.MockTransport(proxy)),
        max_retries=0,
    )
    model = HermesChatModel(inner=inner, scheduler=scheduler, priority="vllm")
    with scheduler.run("qa"):
        assert "".join(str(c.content) for c in model.stream("hi")) == "ok"
    assert fake.priorities == [0]  # only the resent request reached the engine
    assert model.priority is None


class _RefusesLate(BaseChatModel):
    """Yields one chunk, then fails with vLLM's refusal text (a refusal after a chunk)."""

    extra_body: dict[str, Any] | None = None
    starts: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "refuses-late"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        raise NotImplementedError

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        self.starts.append(kwargs)
        yield ChatGenerationChunk(message=AIMessageChunk(content="half"))
        raise ValueError("Got priority 5 but Priority scheduling is not enabled.")


def test_a_refusal_after_a_chunk_is_never_resent(scheduler: LocalScheduler) -> None:
    inner = _RefusesLate()
    model = HermesChatModel(inner=inner, scheduler=scheduler, priority="vllm")
    with scheduler.run("qa"):
        stream = model.stream("hi")
        assert next(stream).content == "half"  # the caller has it: nothing may be sent twice
        with pytest.raises(ValueError, match="Priority scheduling"):
            next(stream)
    assert len(inner.starts) == 1
    assert "priority" in inner.starts[0]["extra_body"]
    assert model.priority == "vllm"
    assert not scheduler.core.backends["llm"].running


def test_stream_errors_other_than_a_refusal_propagate(
    scheduler: LocalScheduler, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeVLLM(sleeping=True)  # 503 before the stream: the user's error, not resent
    model = chat_model(fake, scheduler)
    refused = pytest.raises(openai.InternalServerError, match="sleep mode")
    with caplog.at_level(logging.WARNING), scheduler.run("qa"), refused as caught:
        list(model.stream("hi"))
    assert "sleep mode" in str(caught.value)
    assert throttle_of(caught.value) is None  # langchain-openai's wrapper: still a cold start
    assert len(_streamed(fake)) == 1
    assert model.priority == "vllm"
    assert refusal_warnings(caplog) == 0
