"""LlamaServer against the real llama.cpp server (xllamacpp) and the real SmolLM2 model."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from openai import OpenAI
from openai.types.chat import ChatCompletionMessageParam

from hermes_agents.local import LlamaServer

pytestmark = pytest.mark.slow

_HI: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Say hi."}]


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return int(response.status), response.read().decode()


def _busy_slots(server: LlamaServer) -> set[int]:
    slots: list[dict[str, Any]] = json.loads(_get(f"{server.url}/slots")[1])
    return {slot["id"] for slot in slots if slot["is_processing"]}


def test_chat_completion_returns_text_and_usage(client: OpenAI, server: LlamaServer) -> None:
    reply = client.chat.completions.create(model=server.model_name, messages=_HI, max_tokens=8)
    assert reply.choices[0].message.content
    assert reply.usage is not None
    assert reply.usage.prompt_tokens > 0
    assert 0 < reply.usage.completion_tokens <= 8


def test_streaming_yields_chunks_then_usage(client: OpenAI, server: LlamaServer) -> None:
    stream = client.chat.completions.create(
        model=server.model_name,
        messages=_HI,
        max_tokens=8,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    assert len(chunks) > 2
    usage = chunks[-1].usage
    assert usage is not None
    assert 0 < usage.completion_tokens <= 8


def test_two_slots_serve_two_requests_at_once(client: OpenAI, server: LlamaServer) -> None:
    # ignore_eos makes each request decode all its tokens (seconds each, even on a busy
    # machine), so both are in flight together however late the second thread starts.
    replies: list[str] = []

    def ask() -> None:
        reply = client.chat.completions.create(
            model=server.model_name,
            messages=_HI,
            max_tokens=256,
            extra_body={"ignore_eos": True},
        )
        replies.append(reply.choices[0].message.content or "")

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    seen_together: set[int] = set()
    while any(thread.is_alive() for thread in threads) and len(seen_together) < 2:
        busy = _busy_slots(server)
        if len(busy) == 2:
            seen_together = busy
        time.sleep(0.005)
    for thread in threads:
        thread.join(timeout=60)
    assert seen_together == {0, 1}
    assert len(replies) == 2
    assert all(replies)


def test_status_endpoints_answer(server: LlamaServer) -> None:
    assert _get(f"{server.url}/health") == (200, '{"status":"ok"}')
    props = server.props()
    assert props["total_slots"] == 2
    assert props["is_sleeping"] is False
    status, metrics = _get(f"{server.url}/metrics")
    assert status == 200
    assert "llamacpp:requests_processing" in metrics
    models = json.loads(_get(f"{server.base_url}/models")[1])
    assert [m["id"] for m in models["data"]] == [server.model_name]


def test_embeddings(model_path: Path) -> None:
    with LlamaServer(model_path, slots=1, ctx_tokens=512, embeddings=True) as server:
        client = OpenAI(base_url=server.base_url, api_key="local")
        result = client.embeddings.create(model=server.model_name, input=["a cat", "a dog"])
    assert [item.index for item in result.data] == [0, 1]
    assert all(len(item.embedding) == 576 for item in result.data)  # SmolLM2-135M's width
