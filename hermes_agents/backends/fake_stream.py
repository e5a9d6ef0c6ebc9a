"""Streamed answers of the OpenAI-compatible fakes: server-sent events as vLLM sends them.

A ``"stream": true`` completion is a 200 ``text/event-stream`` of ``data: {chunk}`` events and a
final ``data: [DONE]``; the first chat chunk carries the role, the last one the finish reason,
and a usage chunk (no choices) follows when ``stream_options.include_usage`` asks for it.

An error that vLLM only meets once the stream has begun (the engine refusing the request: its
``generate`` runs lazily, inside the stream) is not an HTTP status: the answer is still a 200,
whose first event is ``data: {"error": {...}}``, then ``data: [DONE]``
(vllm/entrypoints/openai/serving_chat.py, ``chat_completion_stream_generator``'s ``except``
and ``create_streaming_error_response``). The ``openai`` client raises it as an ``APIError``
before yielding any chunk.

>>> answer = stream_error("Got priority 3 but Priority scheduling is not enabled.")
>>> answer.status_code, answer.text.split()[-2:]
(200, ['data:', '[DONE]'])
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

__all__ = ["completion_stream", "stream_error"]

_HEADERS = {"content-type": "text/event-stream; charset=utf-8"}


def completion_stream(
    model: str, prompt: str, *, chat: bool, body: Mapping[str, Any] | None
) -> httpx.Response:
    """The streamed answer ``" ok"`` / ``"ok"`` (chat) to ``prompt``, with a usage chunk when
    the request's ``stream_options.include_usage`` is set."""
    tokens = max(1, len(prompt.split()))
    base: dict[str, Any] = {
        "id": "chatcmpl-fake" if chat else "cmpl-fake",
        "object": "chat.completion.chunk" if chat else "text_completion",
        "created": 0,
        "model": model,
    }
    if chat:
        deltas: Sequence[dict[str, Any]] = (
            {"delta": {"role": "assistant", "content": ""}, "finish_reason": None},
            {"delta": {"content": "ok"}, "finish_reason": None},
            {"delta": {}, "finish_reason": "length"},
        )
    else:
        deltas = ({"text": " ok", "finish_reason": "length"},)
    chunks = [base | {"choices": [{"index": 0, "logprobs": None, **d}]} for d in deltas]
    options = (body or {}).get("stream_options")
    if isinstance(options, Mapping) and options.get("include_usage"):
        usage = {"prompt_tokens": tokens, "completion_tokens": 1, "total_tokens": tokens + 1}
        chunks.append(base | {"choices": [], "usage": usage})
    return _events(chunks)


def stream_error(message: str, kind: str = "BadRequestError", status: int = 400) -> httpx.Response:
    """A 200 stream whose one event is the error (see the module docstring)."""
    error = {"message": message, "type": kind, "param": None, "code": status}
    return _events([{"error": error}])


def _events(chunks: Sequence[Mapping[str, Any]]) -> httpx.Response:
    lines = [f"data: {json.dumps(chunk, separators=(',', ':'))}\n\n" for chunk in chunks]
    return httpx.Response(200, headers=_HEADERS, text="".join(lines) + "data: [DONE]\n\n")
