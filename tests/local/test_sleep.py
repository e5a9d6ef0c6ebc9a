"""A real cold backend: llama.cpp unloads the idle model and the next request reloads it."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from openai import OpenAI

from hermes_agents.local import LlamaServer

pytestmark = pytest.mark.slow

# Without the prompt cache a warm call does the same work as a reloading one, bar the reload.
_NO_CACHE = {"cache_prompt": False}


@pytest.fixture
def sleepy(model_path: Path) -> Iterator[LlamaServer]:
    """A server that unloads its model after one idle second."""
    with LlamaServer(model_path, slots=1, ctx_tokens=512, sleep_idle_s=1) as server:
        yield server


def _timed_call(client: OpenAI, server: LlamaServer) -> tuple[float, str]:
    started = time.perf_counter()
    reply = client.chat.completions.create(
        model=server.model_name,
        messages=[{"role": "user", "content": "Say hi."}],
        max_tokens=4,
        extra_body=_NO_CACHE,
    )
    return time.perf_counter() - started, reply.choices[0].message.content or ""


def _get_status(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as response:
        return int(response.status)


def _wait_asleep(server: LlamaServer, timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.is_sleeping():
            return True
        time.sleep(0.05)
    return False


def test_idle_server_sleeps_and_a_request_wakes_it(
    sleepy: LlamaServer, record_property: Callable[[str, object], None]
) -> None:
    client = OpenAI(base_url=sleepy.base_url, api_key="local", timeout=60.0)
    _timed_call(client, sleepy)  # first call after start pays one-off costs
    warm_s, _ = _timed_call(client, sleepy)
    assert sleepy.is_sleeping() is False

    assert _wait_asleep(sleepy)
    # /health stays "ok" while asleep; neither the status reads nor /props wake the model.
    for path in ("/health", "/metrics", "/v1/models"):
        assert _get_status(f"{sleepy.url}{path}") == 200
    assert sleepy.is_sleeping() is True

    wake_s, text = _timed_call(client, sleepy)
    assert text
    assert sleepy.is_sleeping() is False
    record_property("warm_call_s", round(warm_s, 3))
    record_property("wake_call_s", round(wake_s, 3))
    print(f"warm call {warm_s:.3f} s, call that reloads the model {wake_s:.3f} s")


def test_reading_slots_wakes_a_sleeping_server(sleepy: LlamaServer) -> None:
    # What a prewarmer can use: GET /slots goes through llama.cpp's task queue and reloads.
    assert _wait_asleep(sleepy)
    assert _get_status(f"{sleepy.url}/slots") == 200
    assert sleepy.is_sleeping() is False
