"""The drop-in clients against the real llama.cpp server and the real SmolLM2 model."""

from __future__ import annotations

import asyncio

import pytest
from openai.types.chat import ChatCompletionMessageParam

from hermes_agents.langchain import HermesChatModel
from hermes_agents.local import LlamaServer
from hermes_agents.openai import AsyncOpenAI, OpenAI
from hermes_agents.scheduling import LocalScheduler
from tests.doubles import RecordingModels, capacity_one_scheduler

pytestmark = pytest.mark.slow

_HI: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Say hi."}]


@pytest.fixture
def models() -> RecordingModels:
    return RecordingModels()


@pytest.fixture
def scheduler(models: RecordingModels) -> LocalScheduler:
    """One slot on "llm": the server has two, the scheduler lets one request in at a time."""
    return capacity_one_scheduler(models)


def _running(scheduler: LocalScheduler) -> int:
    return len(scheduler.core.backends["llm"].running)


def test_openai_dropin_calls_and_streams(
    server: LlamaServer, scheduler: LocalScheduler, models: RecordingModels
) -> None:
    client = OpenAI(
        base_url=server.base_url,
        api_key="local",
        timeout=60.0,
        hermes_scheduler=scheduler,
        hermes_priority="vllm",  # llama.cpp ignores the field: the hint is harmless
    )
    with scheduler.run("local-chat"):
        reply = client.chat.completions.create(model=server.model_name, messages=_HI, max_tokens=8)
        stream = client.chat.completions.create(
            model=server.model_name,
            messages=_HI,
            max_tokens=8,
            stream=True,
            stream_options={"include_usage": True},
        )
        held = _running(scheduler)
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert reply.choices[0].message.content
    assert text
    assert held == 1
    assert _running(scheduler) == 0
    calls = models.calls()
    assert len(calls) == 2
    assert all(c.prompt_tokens > 0 and 0 < c.output_tokens <= 8 for c in calls)


def test_async_dropin_streams_take_turns(server: LlamaServer, scheduler: LocalScheduler) -> None:
    client = AsyncOpenAI(
        base_url=server.base_url,
        api_key="local",
        timeout=60.0,
        hermes_scheduler=scheduler,
    )
    in_flight: list[int] = []

    async def ask() -> str:
        chunks = await client.chat.completions.create(
            model=server.model_name, messages=_HI, max_tokens=8, stream=True
        )
        parts: list[str] = []
        async for chunk in chunks:
            in_flight.append(_running(scheduler))
            parts.extend(choice.delta.content or "" for choice in chunk.choices)
        return "".join(parts)

    async def main() -> list[str]:
        return list(await asyncio.gather(ask(), ask()))

    texts = asyncio.run(main())
    assert all(texts)
    assert set(in_flight) == {1}
    assert scheduler.core.backends["llm"].granted == 2


def test_chat_openai_wrapped_in_hermes(
    server: LlamaServer, scheduler: LocalScheduler, models: RecordingModels
) -> None:
    langchain_openai = pytest.importorskip("langchain_openai")
    inner = langchain_openai.ChatOpenAI(
        base_url=server.base_url,
        api_key="local",
        model=server.model_name,
        max_tokens=8,
        stream_usage=True,
    )
    model = HermesChatModel(inner=inner, scheduler=scheduler)
    with scheduler.run("local-langchain"):
        assert model.invoke("Say hi.").content
        assert "".join(str(chunk.content) for chunk in model.stream("Say hi."))
    assert _running(scheduler) == 0
    calls = models.calls()
    assert len(calls) == 2
    assert all(c.prompt_tokens > 0 and c.output_tokens > 0 for c in calls)
