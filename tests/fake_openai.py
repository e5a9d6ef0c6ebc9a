"""A protocol-faithful fake OpenAI server behind ``httpx2.MockTransport``.

It answers ``/v1/chat/completions``, ``/v1/completions``, ``/v1/embeddings``, ``/v1/responses``
and ``/v1/models`` with the JSON bodies and server-sent-event streams of OpenAI's API reference
(streams end with ``data: [DONE]``, except the Responses API's, which ends with its
``response.completed`` event). The model ``"bad-model"`` gets a 400 with OpenAI's error body.

Streamed bodies are generators, as on the wire: the client reads them chunk by chunk. A request
counts as in flight from its arrival until its body is closed, so ``peak`` is the largest number
of requests the server ever served at once.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx2

MODEL = "gpt-test"
ANSWER = "Hello there, friend!"
CHAT_USAGE = {
    "prompt_tokens": 9,
    "completion_tokens": 12,
    "total_tokens": 21,
    "prompt_tokens_details": {"cached_tokens": 4, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 0},
}
EMBEDDING_USAGE = {"prompt_tokens": 5, "total_tokens": 5}
RESPONSE_USAGE = {
    "input_tokens": 36,
    "input_tokens_details": {"cached_tokens": 6},
    "output_tokens": 87,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 123,
}
JsonBody = dict[str, Any]


class _Body(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    """A response body read part by part; ``on_close`` runs once when it is closed."""

    def __init__(self, parts: list[bytes], on_close: Callable[[], None]) -> None:
        self.parts = parts
        self.on_close = on_close
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        yield from self.parts

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self.parts:
            yield part

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.on_close()

    async def aclose(self) -> None:
        self.close()


def sse(data: JsonBody | str, event: str | None = None) -> bytes:
    """One server-sent event, as OpenAI sends it."""
    payload = data if isinstance(data, str) else json.dumps(data)
    prefix = f"event: {event}\n" if event else ""
    return f"{prefix}data: {payload}\n\n".encode()


def _chat(body: JsonBody) -> JsonBody:
    return {
        "id": "chatcmpl-123",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": body["model"],
        "system_fingerprint": "fp_44709d6fcb",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": ANSWER, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": CHAT_USAGE,
    }


def _chat_chunk(body: JsonBody, delta: JsonBody | None, finish: str | None = None) -> JsonBody:
    chunk: JsonBody = {
        "id": "chatcmpl-123",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": body["model"],
        "system_fingerprint": "fp_44709d6fcb",
        "choices": [],
    }
    if delta is not None:
        chunk["choices"] = [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
    if (body.get("stream_options") or {}).get("include_usage"):
        chunk["usage"] = None
    return chunk


def _chat_stream(body: JsonBody) -> list[bytes]:
    words = ANSWER.split(" ")
    deltas = [{"role": "assistant", "content": ""}]
    deltas += [{"content": w if i == 0 else f" {w}"} for i, w in enumerate(words)]
    parts = [sse(_chat_chunk(body, delta)) for delta in deltas]
    parts.append(sse(_chat_chunk(body, {}, "stop")))
    if (body.get("stream_options") or {}).get("include_usage"):
        parts.append(sse({**_chat_chunk(body, None), "usage": CHAT_USAGE}))
    return [*parts, sse("[DONE]")]


def _completion(body: JsonBody, text: str = ANSWER, usage: bool = True) -> JsonBody:
    return {
        "id": "cmpl-123",
        "object": "text_completion",
        "created": 1_700_000_000,
        "model": body["model"],
        "system_fingerprint": "fp_44709d6fcb",
        "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": "length"}],
        "usage": CHAT_USAGE if usage else None,
    }


def _completion_stream(body: JsonBody) -> list[bytes]:
    parts = [sse(_completion(body, word, usage=False)) for word in ANSWER.split(" ")]
    if (body.get("stream_options") or {}).get("include_usage"):
        parts.append(sse({**_completion(body, "", usage=True), "choices": []}))
    return [*parts, sse("[DONE]")]


def _embeddings(body: JsonBody) -> JsonBody:
    texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
    data = [
        {"object": "embedding", "index": i, "embedding": [0.1 * (i + 1), -0.2, 0.3]}
        for i in range(len(texts))
    ]
    return {"object": "list", "data": data, "model": body["model"], "usage": EMBEDDING_USAGE}


def _response(body: JsonBody, status: str = "completed") -> JsonBody:
    done = status == "completed"
    text = {"type": "output_text", "text": ANSWER, "annotations": []}
    message = {
        "type": "message",
        "id": "msg_123",
        "status": "completed",
        "role": "assistant",
        "content": [text],
    }
    return {
        "id": "resp_123",
        "object": "response",
        "created_at": 1_741_476_542,
        "status": status,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": body["model"],
        "output": [message] if done else [],
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": RESPONSE_USAGE if done else None,
        "metadata": {},
    }


def _response_stream(body: JsonBody) -> list[bytes]:
    events: list[tuple[str, JsonBody]] = [
        ("response.created", {"response": _response(body, "in_progress")}),
        ("response.in_progress", {"response": _response(body, "in_progress")}),
    ]
    for word in ANSWER.split(" "):
        delta = {"item_id": "msg_123", "output_index": 0, "content_index": 0, "delta": word}
        events.append(("response.output_text.delta", delta))
    events.append(("response.completed", {"response": _response(body)}))
    return [
        sse({"type": kind, "sequence_number": n, **data}, event=kind)
        for n, (kind, data) in enumerate(events)
    ]


_BAD_REQUEST = {
    "error": {
        "message": "The model `bad-model` does not exist or you do not have access to it.",
        "type": "invalid_request_error",
        "param": "model",
        "code": "model_not_found",
    }
}


class FakeOpenAI:
    """The fake server: ``transport()`` for ``httpx2.Client``, ``async_transport()`` for
    ``httpx2.AsyncClient``; ``requests`` holds the JSON bodies received."""

    def __init__(self, *, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.requests: list[JsonBody] = []
        self.in_flight = 0
        self.peak = 0
        self._lock = threading.Lock()

    def transport(self) -> httpx2.MockTransport:
        """A transport for the sync client (the handler may sleep ``delay_s``)."""

        def handle(request: httpx2.Request) -> httpx2.Response:
            response = self.respond(request)
            time.sleep(self.delay_s)
            return response

        return httpx2.MockTransport(handle)

    def async_transport(self) -> httpx2.MockTransport:
        """A transport for the asyncio client."""

        async def handle(request: httpx2.Request) -> httpx2.Response:
            response = self.respond(request)
            await asyncio.sleep(self.delay_s)
            return response

        return httpx2.MockTransport(handle)

    def respond(self, request: httpx2.Request) -> httpx2.Response:
        """The server's answer to ``request``; it stays in flight until its body closes."""
        body: JsonBody = json.loads(request.content) if request.content else {}
        with self._lock:
            self.requests.append(body)
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        status, content_type, parts = self._route(request.method, request.url.path, body)
        headers = {"content-type": content_type, "x-request-id": "req_123"}
        return httpx2.Response(status, headers=headers, stream=_Body(parts, self._done))

    def _done(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _route(self, method: str, path: str, body: JsonBody) -> tuple[int, str, list[bytes]]:
        if body.get("model") == "bad-model":
            return 400, "application/json", [json.dumps(_BAD_REQUEST).encode()]
        if method == "GET" and path == "/v1/models":
            models = {"object": "list", "data": [{"id": MODEL, "object": "model", "created": 1}]}
            return 200, "application/json", [json.dumps(models).encode()]
        answers: dict[str, tuple[Callable[[JsonBody], JsonBody], Callable[..., list[bytes]]]] = {
            "/v1/chat/completions": (_chat, _chat_stream),
            "/v1/completions": (_completion, _completion_stream),
            "/v1/responses": (_response, _response_stream),
        }
        if path == "/v1/embeddings":
            return 200, "application/json", [json.dumps(_embeddings(body)).encode()]
        whole, streamed = answers[path]
        if body.get("stream"):
            return 200, "text/event-stream; charset=utf-8", streamed(body)
        return 200, "application/json", [json.dumps(whole(body)).encode()]
