"""A streamed call whose ``priority`` the server refuses inside the stream.

vLLM checks a request's priority in its engine, which a streamed answer only reaches once the
stream has begun: a vLLM without ``--scheduling-policy priority`` then answers ``200`` and
sends the refusal as the stream's first event, ``data: {"error": {"message": "Got priority N
but Priority scheduling is not enabled.", ...}}`` (vllm/entrypoints/openai/serving_chat.py,
``chat_completion_stream_generator``). ``openai`` would raise it only when the caller iterates,
too late to send the call again. So when the clients sent a priority with ``stream=True`` they
read the stream's first event before handing the stream on (``create`` returns at the first
event instead of at the headers: the time to the first token is the same); a refusal closes
that response, and the call is sent again without the priority. Anything else is put back: the
stream reads as if untouched. An error while the first event is read (the connection lost) is put
back too: the caller meets it where ``openai`` raises it, while iterating, wrapped as ``openai``
wraps it (``APIConnectionError``), never as a bare transport error from ``create``. Events may
end with LF, CRLF or CR line ends (SSE allows all three; sse-starlette sends CRLF).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator

import httpx2
import openai

from hermes_agents.priority import PRIORITY_REFUSED

__all__ = ["MAX_PEEK_BYTES", "arefused_in_stream", "refused_in_stream"]

MAX_PEEK_BYTES = 64 * 1024
"""Bytes read at most for the first event (a refusal is a few hundred)."""

_REFUSED = PRIORITY_REFUSED.encode()
_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")
"""A blank line: where an event of a server-sent stream ends (any of SSE's line ends)."""


def refused_in_stream(result: object) -> bool:
    """Whether the unread stream ``result`` opens with the server refusing its priority (then
    it is closed); otherwise its first event is put back. Only ``openai.Stream`` results over
    ``httpx2`` are read; anything else is False, untouched."""
    response = result.response if isinstance(result, openai.Stream) else None
    if not isinstance(response, httpx2.Response):
        return False
    if response.is_closed:  # read already (a transport that answers whole bodies)
        return _refused(_content(response))
    body = response.stream
    if not isinstance(body, httpx2.SyncByteStream):  # not a body we can put back: untouched
        return False
    parts = iter(body)
    head = b""
    try:
        for part in parts:
            head += part
            if _ended(head):
                break
    except Exception as error:  # the server's own error: raised where openai would raise it
        parts = _raising(error)
    if _refused(head):
        response.close()
        return True
    response.stream = _Replayed(head, parts, body)
    return False


async def arefused_in_stream(result: object) -> bool:
    """``refused_in_stream`` for ``openai.AsyncStream``."""
    response = result.response if isinstance(result, openai.AsyncStream) else None
    if not isinstance(response, httpx2.Response):
        return False
    if response.is_closed:
        return _refused(_content(response))
    body = response.stream
    if not isinstance(body, httpx2.AsyncByteStream):
        return False
    parts = aiter(body)
    head = b""
    try:
        async for part in parts:
            head += part
            if _ended(head):
                break
    except Exception as error:
        parts = _araising(error)
    if _refused(head):
        await response.aclose()
        return True
    response.stream = _AsyncReplayed(head, parts, body)
    return False


def _ended(head: bytes) -> bool:
    """Whether ``head`` holds the stream's first event whole (or all that is peeked)."""
    return len(head) >= MAX_PEEK_BYTES or _EVENT_END.search(head) is not None


def _refused(head: bytes) -> bool:
    """Whether the stream's first event is the refusal of the priority."""
    first = _EVENT_END.split(head[:MAX_PEEK_BYTES], maxsplit=1)[0]
    return first.startswith(b"data:") and b'"error"' in first and _REFUSED in first


def _raising(error: Exception) -> Iterator[bytes]:
    """The rest of a body whose reading failed with ``error``: it fails again there."""
    raise error
    yield b""  # pragma: no cover (makes it a generator)


async def _araising(error: Exception) -> AsyncIterator[bytes]:
    """``_raising`` for an async body."""
    raise error
    yield b""  # pragma: no cover


def _content(response: httpx2.Response) -> bytes:
    try:
        return response.content
    except httpx2.ResponseNotRead:  # closed unread: nothing to read the refusal from
        return b""


class _Replayed(httpx2.SyncByteStream):
    """A body whose first bytes were read: they come first, then the rest."""

    def __init__(self, head: bytes, rest: Iterator[bytes], inner: httpx2.SyncByteStream) -> None:
        self.head, self.rest, self.inner = head, rest, inner

    def __iter__(self) -> Iterator[bytes]:
        if self.head:
            yield self.head
        yield from self.rest

    def close(self) -> None:
        self.inner.close()


class _AsyncReplayed(httpx2.AsyncByteStream):
    """The asyncio twin of ``_Replayed``."""

    def __init__(
        self, head: bytes, rest: AsyncIterator[bytes], inner: httpx2.AsyncByteStream
    ) -> None:
        self.head, self.rest, self.inner = head, rest, inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self.head:
            yield self.head
        async for part in self.rest:
            yield part

    async def aclose(self) -> None:
        await self.inner.aclose()
