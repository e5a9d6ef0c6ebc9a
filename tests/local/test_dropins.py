"""The drop-in clients against the real llama.cpp server and the real SmolLM2 model."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import pytest
from openai.types.chat import ChatCompletionMessageParam

from hermes_agents.langchain import HermesChatModel
from hermes_agents.local import LlamaServer
from hermes_agents.openai import AsyncOpenAI, OpenAI
from hermes_agents.pdgraph import Call, RemainingDemand, Visit
from hermes_agents.scheduling import BackendLimits, LocalScheduler, SchedulerCore, policy_named
from hermes_agents.scheduling.state import UNLIMITED

pytestmark = pytest.mark.slow

_HI: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Say hi."}]


class RecordingModels:
    """``DemandModels`` that learn nothing and keep every finished run."""

    def __init__(self) -> None:
        self.runs: list[tuple[str, Sequence[Visit]]] = []

    def demand(self, app: str) -> RemainingDemand | None:
        return None

    def observe(self, app: str, run: Sequence[Visit]) -> None:
        self.runs.append((app, run))

    def calls(self) -> list[Call]:
        return [call for _, visits in self.runs for visit in visits for call in visit.calls]


@pytest.fixture
def models() -> RecordingModels:
    return RecordingModels()


@pytest.fixture
def scheduler(models: RecordingModels) -> LocalScheduler:
    """One slot on "llm": the server has two, the scheduler lets one request in at a time."""
    core = SchedulerCore(
        {"llm": BackendLimits(1)},
        policy_named("gittins"),
        time.monotonic,
        models=models,
        default_limits=UNLIMITED,
    )
    return LocalScheduler(core)


def _running(scheduler: LocalScheduler) -> int:
    return len(scheduler.core.backends["llm"].running)


def test_openai_dropin_calls_and_streams(
    server: LlamaServer, scheduler: LocalScheduler, models: RecordingModels
) -> None:
    client = OpenAI(
        base_url=server.base_url,
        api_key="local",
        max_retries=0,
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
        max_retries=0,
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
        max_retries=0,
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
