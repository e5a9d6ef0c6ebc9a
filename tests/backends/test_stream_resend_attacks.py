"""Streams that misbehave under the OpenAI drop-in's streamed priority resend (a server that
answers a 200 stream piece by piece, as over a socket): an error after the first event, a
malformed first event, a stream closed before any event, a server that refuses again after the
resend, a connection lost while the first event is read, events framed with CRLF. The resend
happens at most once and never after an event reached the user, the user's stream reads as if
untouched (the server's own errors reach them as ``openai`` raises them), and the slot always
comes back."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx2
import openai
import pytest

from hermes_agents.openai import AsyncOpenAI, OpenAI
from hermes_agents.scheduling import LocalScheduler
from tests.doubles import RecordingModels, capacity_one_scheduler

REFUSAL = (
    b'data: {"error":{"message":"Got priority 3 but Priority scheduling is not enabled.",'
    b'"type":"BadRequestError","param":null,"code":400}}\n\n'
)
DONE = b"data: [DONE]\n\n"


def _chunk(text: str) -> bytes:
    chunk = {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}],
    }
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


class Parts(httpx2.SyncByteStream):
    """A body sent part by part; ``None`` among them: the connection breaks there."""

    def __init__(self, parts: list[bytes | None]) -> None:
        self.parts = parts
        self.pulled = 0
        """Parts read so far."""
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        for part in self.parts:
            if part is None:
                raise httpx2.RemoteProtocolError("peer closed connection mid-stream")
            self.pulled += 1
            yield part

    def close(self) -> None:
        self.closed = True


class Server:
    """Answers each request with the next body of ``bodies``; records what it was sent."""

    def __init__(self, *bodies: list[bytes | None]) -> None:
        self.bodies = [Parts(body) for body in bodies]
        self.sent: list[dict[str, Any]] = []

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        self.sent.append(json.loads(request.read()))
        body = self.bodies[len(self.sent) - 1]
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, stream=body)

    def priorities(self) -> list[bool]:
        return ["priority" in body for body in self.sent]


@pytest.fixture
def scheduler() -> LocalScheduler:
    return capacity_one_scheduler(RecordingModels())


def _client(server: Server, scheduler: LocalScheduler) -> OpenAI:
    return OpenAI(
        api_key="-",
        base_url="http://engine/v1",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(server.handle)),
        hermes_scheduler=scheduler,
        hermes_backend="llm",
        hermes_priority="vllm",
    )


def _stream(client: OpenAI) -> Any:
    return client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}], stream=True
    )


def _texts(stream: Any) -> list[str]:
    return [chunk.choices[0].delta.content for chunk in stream if chunk.choices]


def _released(scheduler: LocalScheduler) -> bool:
    return not scheduler.core.backends["llm"].running


def _read(scheduler: LocalScheduler, read: Callable[[], Any]) -> Any:
    with scheduler.run("qa"):
        return read()


def _plain_error(body: list[bytes | None]) -> type[BaseException]:
    """What ``openai`` itself (no Hermes) raises while reading ``body`` as a stream."""
    plain = openai.OpenAI(
        api_key="-",
        base_url="http://engine/v1",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(Server(body).handle)),
    )
    try:
        _texts(_stream(plain))  # type: ignore[arg-type]
    except Exception as error:
        return type(error)
    raise AssertionError("openai read that body without an error")


def test_an_error_after_the_first_event_is_the_users_and_nothing_is_resent(
    scheduler: LocalScheduler,
) -> None:
    server = Server([_chunk("a"), None])
    client = _client(server, scheduler)
    got: list[str] = []

    def read() -> None:
        for chunk in _stream(client):
            got.append(chunk.choices[0].delta.content)

    with pytest.raises(_plain_error([_chunk("a"), None])):  # openai.APIConnectionError
        _read(scheduler, read)
    assert got == ["a"]  # the user had the first event, then the server's own error
    assert server.priorities() == [True]
    assert client.hermes_priority == "vllm"
    assert _released(scheduler)


def test_a_refusal_after_the_first_event_is_never_resent(scheduler: LocalScheduler) -> None:
    server = Server([_chunk("a"), REFUSAL, DONE])
    client = _client(server, scheduler)
    got: list[str] = []

    def read() -> None:
        for chunk in _stream(client):
            got.append(chunk.choices[0].delta.content)

    with pytest.raises(openai.APIError, match="Priority scheduling"):
        _read(scheduler, read)
    assert got == ["a"]
    assert server.priorities() == [True]
    assert _released(scheduler)


def test_a_malformed_first_event_is_handed_on_untouched(scheduler: LocalScheduler) -> None:
    body: list[bytes | None] = [b"data: {not json at all\n\n", _chunk("a"), DONE]
    server = Server(body)
    client = _client(server, scheduler)
    with pytest.raises(_plain_error(body)):  # what openai itself raises on that stream
        _read(scheduler, lambda: _texts(_stream(client)))
    assert server.priorities() == [True]
    assert _released(scheduler)


def test_a_stream_closed_before_any_event_is_empty_and_not_resent(
    scheduler: LocalScheduler,
) -> None:
    server = Server([])
    client = _client(server, scheduler)
    assert _read(scheduler, lambda: _texts(_stream(client))) == []
    assert server.priorities() == [True]
    assert _released(scheduler)


def test_a_server_that_refuses_again_after_the_resend_is_resent_to_once(
    scheduler: LocalScheduler,
) -> None:
    server = Server([REFUSAL, DONE], [REFUSAL, DONE])
    client = _client(server, scheduler)
    with pytest.raises(openai.APIError, match="Priority scheduling"):
        _read(scheduler, lambda: _texts(_stream(client)))
    assert server.priorities() == [True, False]  # one resend, never a second
    assert server.bodies[0].closed  # the refused answer was closed
    assert client.hermes_priority is None
    assert _released(scheduler)


def test_a_refusal_resent_reads_as_the_plain_stream(scheduler: LocalScheduler) -> None:
    server = Server([REFUSAL, DONE], [_chunk("a"), _chunk("b"), DONE])
    client = _client(server, scheduler)
    assert _read(scheduler, lambda: _texts(_stream(client))) == ["a", "b"]
    assert server.priorities() == [True, False]
    assert _released(scheduler)


def test_a_connection_lost_while_the_first_event_is_read_is_the_users_error(
    scheduler: LocalScheduler,
) -> None:
    """Met while iterating, as ``openai`` raises it (``APIConnectionError``), not as a bare
    transport error out of ``create``: the user's ``except openai.APIError`` still holds."""
    body: list[bytes | None] = [b'data: {"id"', None]
    server = Server(body)
    client = _client(server, scheduler)
    with pytest.raises(_plain_error(body)):
        _read(scheduler, lambda: _texts(_stream(client)))
    assert _plain_error(body) is openai.APIConnectionError
    assert server.priorities() == [True]  # nothing was resent
    assert _released(scheduler)


def test_events_framed_with_crlf_are_peeked_one_event_only(scheduler: LocalScheduler) -> None:
    """SSE allows CRLF line ends (sse-starlette sends them): the peek stops at the first event,
    it does not read the whole answer before handing the stream on."""
    crlf: list[bytes | None] = [p.replace(b"\n", b"\r\n") for p in (_chunk("a"), _chunk("b"), DONE)]
    server = Server(crlf)
    client = _client(server, scheduler)

    def read() -> list[str]:
        stream = _stream(client)
        assert server.bodies[0].pulled == 1  # create() returned at the first event
        return _texts(stream)

    assert _read(scheduler, read) == ["a", "b"]
    assert server.priorities() == [True]
    assert _released(scheduler)


def test_a_crlf_refusal_is_resent_once(scheduler: LocalScheduler) -> None:
    refusal: list[bytes | None] = [REFUSAL.replace(b"\n", b"\r\n"), DONE.replace(b"\n", b"\r\n")]
    server = Server(refusal, [_chunk("a"), DONE])
    client = _client(server, scheduler)
    assert _read(scheduler, lambda: _texts(_stream(client))) == ["a"]
    assert server.priorities() == [True, False]
    assert _released(scheduler)


class AsyncParts(httpx2.AsyncByteStream):
    """``Parts`` for the asyncio client."""

    def __init__(self, parts: list[bytes | None]) -> None:
        self.parts = parts
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self.parts:
            if part is None:
                raise httpx2.RemoteProtocolError("peer closed connection mid-stream")
            self.pulled += 1
            yield part


@pytest.mark.parametrize(
    ("bodies", "expected"),
    [
        ([[b'data: {"id"', None]], openai.APIConnectionError),  # lost while peeking
        ([[REFUSAL.replace(b"\n", b"\r\n")], [_chunk("a").replace(b"\n", b"\r\n"), DONE]], ["a"]),
        ([[_chunk("a").replace(b"\n", b"\r\n"), _chunk("b"), DONE]], ["a", "b"]),
    ],
)
def test_the_async_client_peeks_the_same_way(
    scheduler: LocalScheduler, bodies: list[list[bytes | None]], expected: Any
) -> None:
    streams = [AsyncParts(body) for body in bodies]
    sent: list[dict[str, Any]] = []

    async def handle(request: httpx2.Request) -> httpx2.Response:
        sent.append(json.loads(await request.aread()))
        body = streams[len(sent) - 1]
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, stream=body)

    client = AsyncOpenAI(
        api_key="-",
        base_url="http://engine/v1",
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handle)),
        hermes_scheduler=scheduler,
        hermes_backend="llm",
        hermes_priority="vllm",
    )

    async def read() -> list[str | None]:
        stream = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        assert streams[-1].pulled <= 1  # create() returned at the first event at the latest
        return [chunk.choices[0].delta.content async for chunk in stream if chunk.choices]

    with scheduler.run("qa"):
        if isinstance(expected, list):
            assert asyncio.run(read()) == expected
        else:
            with pytest.raises(expected):
                asyncio.run(read())
    assert ["priority" in body for body in sent] == [True] + [False] * (len(bodies) - 1)
    assert _released(scheduler)
