"""The response side of a scheduled OpenAI call: its usage, and its slot held until the body
closes.

A streamed response's body (``response.stream``, httpx's byte stream) is replaced by one that
gives the slot back when it closes: every way a stream ends (exhausted, ``close()``, a context
manager's exit) closes the HTTP response, and closing the response closes its body.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import weakref
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import httpx2
import openai
from pydantic import BaseModel

from hermes_agents.scheduling.slot import Slot

logger = logging.getLogger(__name__)


def _field(value: object, name: str) -> object:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return value.get(name)
    return getattr(value, name, None)


def _count(value: object, *names: str) -> int:
    for name in names:
        number = _field(value, name)
        if isinstance(number, int) and not isinstance(number, bool):
            return number
    return 0


def usage_of(value: object) -> tuple[int, int, int] | None:
    """(prompt, output, cached) tokens from a response, chunk or event (parsed or JSON)."""
    usage = _field(value, "usage") or _field(_field(value, "response"), "usage")
    if usage is None:
        return None
    details = _field(usage, "prompt_tokens_details") or _field(usage, "input_tokens_details")
    return (
        _count(usage, "prompt_tokens", "input_tokens"),
        _count(usage, "completion_tokens", "output_tokens"),
        _count(details, "cached_tokens"),
    )


class _Holding:
    """Wraps a response body (an httpx byte stream) and holds its call's slot."""

    def __init__(self, inner: Any, call: Slot) -> None:
        self.inner = inner
        self.call = call
        self.finalizer: weakref.finalize[Any, Any] | None = None

    def released(self) -> None:
        if self.finalizer is not None:
            self.finalizer.detach()
        self.call.release()


class _ReleasingBody(_Holding, httpx2.SyncByteStream):
    """A response body that gives its call's slot back when the response closes."""

    def __iter__(self) -> Iterator[bytes]:
        yield from self.inner

    def close(self) -> None:
        try:
            self.inner.close()
        finally:
            self.released()


class _AsyncReleasingBody(_Holding, httpx2.AsyncByteStream):
    """The asyncio twin of ``_ReleasingBody``."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for part in self.inner:
            yield part

    async def aclose(self) -> None:
        try:
            await self.inner.aclose()
        finally:
            self.released()


def observe(data: object, response: object) -> None:
    """Note the usage in a chunk of a held (streamed) response."""
    body = getattr(response, "stream", None)
    if isinstance(body, _Holding):
        usage = usage_of(data)
        if usage is not None:
            body.call.report(*usage)


def _http_types() -> tuple[type[Any], ...]:
    legacy = sys.modules.get("httpx")  # a caller may hand openai a client of the older httpx
    return (httpx2.Response,) if legacy is None else (httpx2.Response, legacy.Response)


def _open_response(result: object) -> Any:
    """The HTTP response whose body is still to be read, if the result has one."""
    if isinstance(result, BaseModel):
        return None
    if isinstance(result, openai.Stream | openai.AsyncStream):
        response: object = result.response
    elif isinstance(result, _http_types()):
        response = result
    else:  # with_raw_response / with_streaming_response wrappers
        response = getattr(result, "http_response", None)
    if not isinstance(response, _http_types()) or response.is_closed:
        return None
    return response


def _raw_usage(result: object) -> tuple[int, int, int] | None:
    """Usage from the read JSON body of a raw response (``with_raw_response``)."""
    response = getattr(result, "http_response", result)
    if not isinstance(response, _http_types()):
        return None
    if "json" not in response.headers.get("content-type", ""):
        return None
    try:
        return usage_of(json.loads(response.content))
    except Exception:  # not JSON after all, or not read: no usage, only seconds
        return None


def hold(result: object, call: Slot, *, asynchronous: bool) -> None:
    """Release the slot now if the response is complete, else when its body closes."""
    try:
        response = _open_response(result)
        if response is None:
            usage = usage_of(result) if isinstance(result, BaseModel) else _raw_usage(result)
            if usage is not None:
                call.report(*usage)
            call.release()
            return
        body = _body_class(type(response), asynchronous)(response.stream, call)
        body.finalizer = weakref.finalize(response, _release_soon, call)
        body.finalizer.atexit = False
        response.stream = body
    except Exception:  # a bug here must not break the call: give the slot back now
        logger.warning("holding the slot of a streamed call failed; released it", exc_info=True)
        call.release()


_legacy_bodies: dict[tuple[type[Any], bool], type[Any]] = {}


def _body_class(response_type: type[Any], asynchronous: bool) -> type[Any]:
    """The releasing body class that ``response_type`` accepts as its ``stream``: ours, or for
    the older httpx a subclass that is also that httpx's byte stream."""
    ours = _AsyncReleasingBody if asynchronous else _ReleasingBody
    if issubclass(response_type, httpx2.Response):
        return ours
    key = (response_type, asynchronous)
    if key not in _legacy_bodies:
        legacy = sys.modules[response_type.__module__.split(".")[0]]
        base = legacy.AsyncByteStream if asynchronous else legacy.SyncByteStream
        _legacy_bodies[key] = type(ours.__name__, (ours, base), {})
    return _legacy_bodies[key]


def _release_soon(call: Slot) -> None:
    """Release the slot of a response collected unclosed: from a thread of its own, because
    the garbage collector may run inside the scheduler's locked code on this thread."""
    threading.Thread(target=call.release, name="hermes-release", daemon=True).start()
