"""The drop-in OpenAI clients against a protocol-faithful fake server (``tests/fake_openai``)."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypedDict, cast

import httpx
import httpx2
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from hermes_agents.errors import ValidationError
from hermes_agents.openai import AsyncOpenAI, OpenAI, priority_hint
from hermes_agents.priority import MAX_BUCKET
from hermes_agents.scheduling import LocalScheduler
from tests.doubles import RecordingModels, capacity_one_scheduler
from tests.fake_openai import MODEL, FakeOpenAI

HI: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Say hi."}]


@pytest.fixture
def models() -> RecordingModels:
    return RecordingModels()


@pytest.fixture
def scheduler(models: RecordingModels) -> LocalScheduler:
    return capacity_one_scheduler(models)


@pytest.fixture
def server() -> FakeOpenAI:
    return FakeOpenAI()


def make_client(server: FakeOpenAI, scheduler: LocalScheduler, **hermes: Any) -> OpenAI:
    http = httpx2.Client(transport=server.transport())
    return OpenAI(
        api_key="sk-test",
        base_url="http://fake/v1",
        max_retries=0,
        http_client=http,
        hermes_scheduler=scheduler,
        **hermes,
    )


def make_async_client(server: FakeOpenAI, scheduler: LocalScheduler, **hermes: Any) -> AsyncOpenAI:
    http = httpx2.AsyncClient(transport=server.async_transport())
    return AsyncOpenAI(
        api_key="sk-test",
        base_url="http://fake/v1",
        max_retries=0,
        http_client=http,
        hermes_scheduler=scheduler,
        **hermes,
    )


def running(scheduler: LocalScheduler, backend: str = "llm") -> int:
    return len(scheduler.core.backends[backend].running)


def granted(scheduler: LocalScheduler, backend: str = "llm") -> int:
    return scheduler.core.backends[backend].granted


# -- same behaviour as openai ---------------------------------------------------------------------


def test_results_and_requests_match_the_plain_client(
    server: FakeOpenAI, scheduler: LocalScheduler
) -> None:
    plain = openai.OpenAI(
        api_key="sk-test",
        base_url="http://fake/v1",
        http_client=httpx2.Client(transport=server.transport()),
    )
    ours = make_client(server, scheduler)

    def calls(client: openai.OpenAI) -> list[Any]:
        chat = client.chat.completions.create(model=MODEL, messages=HI, max_tokens=20)
        text = client.completions.create(model=MODEL, prompt="Say hi.", max_tokens=5)
        vectors = client.embeddings.create(model=MODEL, input=["a", "b"])
        reply = client.responses.create(model=MODEL, input="Say hi.")
        chunks = client.chat.completions.create(
            model=MODEL, messages=HI, stream=True, stream_options={"include_usage": True}
        )
        chunk_dumps = [c.model_dump() for c in chunks]  # a stream holds its slot: read it first
        events = client.responses.create(model=MODEL, input="Say hi.", stream=True)
        return [
            chat.model_dump(),
            text.model_dump(),
            vectors.model_dump(),
            reply.model_dump(),
            chunk_dumps,
            [e.model_dump() for e in events],
        ]

    expected = calls(plain)
    sent = list(server.requests)
    server.requests.clear()
    assert calls(ours) == expected
    assert server.requests == sent  # no hint asked for: the requests are byte-for-byte the same
    assert granted(scheduler) == 6
    assert running(scheduler) == 0


def test_other_endpoints_pass_straight_through(
    server: FakeOpenAI, scheduler: LocalScheduler
) -> None:
    client = make_client(server, scheduler)
    assert [m.id for m in client.models.list()] == [MODEL]
    assert granted(scheduler) == 0


def test_server_errors_pass_through_unchanged_and_release(
    server: FakeOpenAI, scheduler: LocalScheduler
) -> None:
    plain = openai.OpenAI(
        api_key="sk-test",
        base_url="http://fake/v1",
        http_client=httpx2.Client(transport=server.transport()),
    )
    with pytest.raises(openai.BadRequestError) as expected:
        plain.chat.completions.create(model="bad-model", messages=HI)
    client = make_client(server, scheduler)
    for stream in (False, True):
        with pytest.raises(openai.BadRequestError) as raised:
            client.chat.completions.create(model="bad-model", messages=HI, stream=stream)
        assert str(raised.value) == str(expected.value)
        assert raised.value.body == expected.value.body
        assert running(scheduler) == 0
    assert granted(scheduler) == 2


def test_hermes_priority_must_be_a_known_style() -> None:
    with pytest.raises(ValidationError, match="hermes_priority"):
        OpenAI(api_key="k", hermes_priority=cast(Any, "lowest-first"))


def test_with_options_keeps_or_replaces_the_hermes_settings(
    server: FakeOpenAI, scheduler: LocalScheduler
) -> None:
    client = make_client(server, scheduler, hermes_priority="vllm")
    copied = client.with_options(timeout=5.0)
    assert isinstance(copied, OpenAI)
    assert (copied.hermes_backend, copied.hermes_scheduler, copied.hermes_priority) == (
        "llm",
        scheduler,
        "vllm",
    )
    embedder = client.with_options(hermes_backend="embeddings", hermes_priority=None)
    embedder.embeddings.create(model=MODEL, input="a")
    assert granted(scheduler, "embeddings") == 1
    assert "priority" not in server.requests[-1]


# -- admission ----------------------------------------------------------------------------------


def test_threads_never_have_two_requests_in_flight(scheduler: LocalScheduler) -> None:
    server = FakeOpenAI(delay_s=0.002)
    client = make_client(server, scheduler)
    errors: list[BaseException] = []

    def ask(stream: bool) -> None:
        try:
            if stream:
                for _ in client.chat.completions.create(model=MODEL, messages=HI, stream=True):
                    pass
            else:
                client.chat.completions.create(model=MODEL, messages=HI)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=ask, args=(i % 2 == 0,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert server.peak == 1
    assert granted(scheduler) == 8
    assert running(scheduler) == 0


def test_asyncio_never_has_two_requests_in_flight(scheduler: LocalScheduler) -> None:
    server = FakeOpenAI(delay_s=0.002)
    client = make_async_client(server, scheduler)

    async def ask(stream: bool) -> str:
        if not stream:
            reply = await client.chat.completions.create(model=MODEL, messages=HI)
            return reply.choices[0].message.content or ""
        chunks = await client.chat.completions.create(model=MODEL, messages=HI, stream=True)
        return "".join([c.choices[0].delta.content or "" async for c in chunks if c.choices])

    async def main() -> list[str]:
        return await asyncio.gather(*(ask(i % 2 == 0) for i in range(8)))

    answers = asyncio.run(main())
    assert len(set(answers)) == 1
    assert server.peak == 1
    assert granted(scheduler) == 8
    assert running(scheduler) == 0


# -- streams hold the slot ------------------------------------------------------------------------


def test_a_stream_holds_its_slot_until_exhausted(
    server: FakeOpenAI, scheduler: LocalScheduler
) -> None:
    client = make_client(server, scheduler)
    stream = client.chat.completions.create(model=MODEL, messages=HI, stream=True)
    seen = []
    for _ in stream:
        seen.append(running(scheduler))
    assert seen
    assert set(seen) == {1}
    assert running(scheduler) == 0


def test_a_stream_left_early_is_released_when_closed(
    server: FakeOpenAI, scheduler: LocalScheduler
) -> None:
    client = make_client(server, scheduler)
    stream = client.chat.completions.create(model=MODEL, messages=HI, stream=True)
    for _ in stream:
        break
    assert running(scheduler) == 1
    stream.close()
    assert running(scheduler) == 0
    stream.close()  # closing twice releases once
    with client.completions.create(model=MODEL, prompt="hi", stream=True) as texts:
        next(iter(texts))
        assert running(scheduler) == 1
    assert running(scheduler) == 0
    assert granted(scheduler) == 2


def test_an_unread_stream_is_released_when_collected(
    server: FakeOpenAI, scheduler: LocalScheduler
) -> None:
    client = make_client(server, scheduler)
    stream = client.chat.completions.create(model=MODEL, messages=HI, stream=True)
    assert running(scheduler) == 1
    del stream
    gc.collect()
    for thread in threading.enumerate():
        if thread.name == "hermes-release":
            thread.join()
    assert running(scheduler) == 0


def test_async_streams_hold_their_slot_until_exhausted_or_closed(
    server: FakeOpenAI, scheduler: LocalScheduler
) -> None:
    client = make_async_client(server, scheduler)

    async def main() -> None:
        stream = await client.chat.completions.create(model=MODEL, messages=HI, stream=True)
        async for _ in stream:
            assert running(scheduler) == 1
        assert running(scheduler) == 0
        stream = await client.chat.completions.create(model=MODEL, messages=HI, stream=True)
        async for _ in stream:
            break
        assert running(scheduler) == 1
        await stream.close()
        assert running(scheduler) == 0
        async with await client.responses.create(model=MODEL, input="hi", stream=True) as events:
            await anext(aiter(events))
            assert running(scheduler) == 1
        assert running(scheduler) == 0

    asyncio.run(main())


def test_raw_and_streamed_responses_are_scheduled(
    server: FakeOpenAI, scheduler: LocalScheduler, models: RecordingModels
) -> None:
    client = make_client(server, scheduler)
    with scheduler.run("raw"):
        raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=HI)
        assert running(scheduler) == 0
        assert raw.parse().choices[0].message.content
        with client.chat.completions.with_streaming_response.create(
            model=MODEL, messages=HI, stream=True, stream_options={"include_usage": True}
        ) as response:
            assert running(scheduler) == 1
            assert len(list(response.parse())) > 2
        assert running(scheduler) == 0
    calls = [call for visit in models.runs[0][1] for call in visit.calls]
    assert [(c.prompt_tokens, c.output_tokens, c.prefix_tokens) for c in calls] == [(9, 12, 4)] * 2


def test_a_client_of_the_older_httpx_works_too(scheduler: LocalScheduler) -> None:
    server = FakeOpenAI()

    def handle(request: httpx.Request) -> httpx.Response:
        ours = httpx2.Request(request.method, str(request.url), content=request.read())
        answer = server.respond(ours)
        body = cast(httpx2.SyncByteStream, answer.stream)

        def parts() -> Iterator[bytes]:
            try:
                yield from body
            finally:
                body.close()

        return httpx.Response(answer.status_code, headers=answer.headers, content=parts())

    http = httpx.Client(transport=httpx.MockTransport(handle))
    client = OpenAI(
        api_key="k",
        base_url="http://fake/v1",
        http_client=cast(Any, http),
        hermes_scheduler=scheduler,
    )
    stream = client.chat.completions.create(model=MODEL, messages=HI, stream=True)
    assert running(scheduler) == 1
    assert len(list(stream)) > 2
    assert running(scheduler) == 0


# -- usage and priority hints ---------------------------------------------------------------------


def test_usage_is_reported_as_the_actual_demand(
    server: FakeOpenAI, scheduler: LocalScheduler, models: RecordingModels
) -> None:
    client = make_client(server, scheduler)
    embedder = client.with_options(hermes_backend="embeddings")
    with scheduler.run("qa"):
        client.chat.completions.create(model=MODEL, messages=HI)
        for _ in client.chat.completions.create(
            model=MODEL, messages=HI, stream=True, stream_options={"include_usage": True}
        ):
            pass
        for _ in client.completions.create(model=MODEL, prompt="hi", stream=True):
            pass  # no usage asked for: measured seconds only
        for _ in client.responses.create(model=MODEL, input="hi", stream=True):
            pass
        embedder.embeddings.create(model=MODEL, input="hi")
    ((app, visits),) = models.runs
    calls = [(c.prompt_tokens, c.output_tokens, c.prefix_tokens) for v in visits for c in v.calls]
    assert app == "qa"
    assert calls == [(9, 12, 4), (9, 12, 4), (0, 0, 0), (36, 87, 6), (5, 0, 0)]
    assert all(c.seconds >= 0 for v in visits for c in v.calls)


def test_priority_is_merged_into_extra_body(server: FakeOpenAI, scheduler: LocalScheduler) -> None:
    vllm = make_client(server, scheduler, hermes_priority="vllm")
    sglang = make_client(server, scheduler, hermes_priority="sglang")
    for client in (vllm, sglang):
        client.chat.completions.create(
            model=MODEL, messages=HI, max_tokens=50, extra_body={"top_k": 5, "min_p": 0.1}
        )
    low_first, high_first = server.requests
    assert (low_first["top_k"], low_first["min_p"]) == (5, 0.1)
    assert isinstance(low_first["priority"], int)
    assert 0 <= low_first["priority"] <= MAX_BUCKET
    assert high_first["priority"] == MAX_BUCKET - low_first["priority"]
    assert {k: v for k, v in high_first.items() if k != "priority"} == {
        k: v for k, v in low_first.items() if k != "priority"
    }


def test_a_priority_the_caller_set_is_kept(server: FakeOpenAI, scheduler: LocalScheduler) -> None:
    client = make_client(server, scheduler, hermes_priority="vllm")
    client.chat.completions.create(model=MODEL, messages=HI, extra_body={"priority": -7})
    assert server.requests[-1]["priority"] == -7


def test_no_hint_without_a_rank(server: FakeOpenAI, scheduler: LocalScheduler) -> None:
    client = make_client(server, scheduler, hermes_priority="vllm")

    def broken(*args: object, **kwargs: object) -> int:
        raise RuntimeError("scheduler bug")

    scheduler.core.submit = broken  # type: ignore[method-assign]
    reply = client.chat.completions.create(model=MODEL, messages=HI)  # fails open
    assert reply.choices[0].message.content
    assert "priority" not in server.requests[-1]
    assert scheduler.unscheduled_calls == 1


def test_priority_hint_is_the_shared_bucketing_in_each_polarity() -> None:
    assert priority_hint(0.25, "vllm") == priority_hint(0.25, "lower-first") == 64
    assert priority_hint(0.25, "sglang") == priority_hint(0.25, "higher-first") == MAX_BUCKET - 64
    assert priority_hint(float("inf"), "vllm") == MAX_BUCKET
    assert priority_hint(float("inf"), "sglang") == 0


def test_calls_inside_a_langgraph_node_report_its_stage(
    server: FakeOpenAI, scheduler: LocalScheduler, models: RecordingModels
) -> None:
    from langgraph.graph import END, START, StateGraph

    class Draft(TypedDict):
        text: str

    client = make_client(server, scheduler)

    def draft(state: Draft) -> Draft:
        reply = client.chat.completions.create(model=MODEL, messages=HI)
        return {"text": reply.choices[0].message.content or ""}

    builder = StateGraph(Draft)
    builder.add_node("draft", draft)
    builder.add_edge(START, "draft")
    builder.add_edge("draft", END)
    with scheduler.run("writer"):
        builder.compile().invoke({"text": ""})
    ((_, visits),) = models.runs
    assert [visit.stage for visit in visits] == ["draft"]


def test_a_client_without_a_base_url_takes_its_backends_address_from_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "hermes.toml"
    config.write_text(
        '[backends.llm]\nkind = "llm"\nbase_url = "http://127.0.0.1:8080"\n'
        '[backends.vllm]\nkind = "llm"\nbase_url = "http://10.0.0.7:8000/v1"\n'
    )
    monkeypatch.setenv("HERMES_CONFIG", str(config))
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    scheduler = LocalScheduler.in_process()
    client = OpenAI(api_key="-", hermes_scheduler=scheduler)
    assert str(client.base_url) == "http://127.0.0.1:8080/v1/"
    other = OpenAI(api_key="-", hermes_backend="vllm", hermes_scheduler=scheduler)
    assert str(other.base_url) == "http://10.0.0.7:8000/v1/"
    explicit = OpenAI(api_key="-", base_url="http://127.0.0.1:9/v1", hermes_scheduler=scheduler)
    assert str(explicit.base_url) == "http://127.0.0.1:9/v1/"  # an explicit one wins
