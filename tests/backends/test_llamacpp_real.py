"""Conformance of the llama.cpp adapter against the REAL server (xllamacpp, SmolLM2)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from hermes_agents.backends import BackendState, LlamaCppAdapter
from hermes_agents.local import LlamaServer
from tests.backends.helpers import hint

pytestmark = pytest.mark.slow

PREFIX = "You are a helpful assistant who answers in one word. " * 4


@pytest.fixture(scope="module")
def sleepy(model_path: Path) -> Iterator[LlamaServer]:
    """A real server that unloads its model after one idle second (shared by this module)."""
    with LlamaServer(model_path, slots=1, ctx_tokens=512, sleep_idle_s=1) as server:
        yield server


def _wait_asleep(server: LlamaServer, timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.is_sleeping():
            return True
        time.sleep(0.05)
    return False


def _complete(server: LlamaServer, prompt: str) -> dict[str, object]:
    body = {"prompt": prompt, "n_predict": 2, "cache_prompt": True}
    reply: dict[str, object] = httpx.post(f"{server.url}/completion", json=body, timeout=60).json()
    return reply


def test_asleep_after_idle_and_warm_wakes_it(sleepy: LlamaServer) -> None:
    with LlamaCppAdapter(sleepy.base_url) as adapter:  # the /v1 form names the same server
        assert _wait_asleep(sleepy)
        assert adapter.state() == BackendState(awake=False, waiting=0, running=0)
        assert sleepy.is_sleeping()  # reading state did not wake it
        result = adapter.warm()
        assert result.ok, result.error
        assert sleepy.props()["is_sleeping"] is False
        assert adapter.state().awake is True
        (slot,) = adapter.slots()
        assert slot["id"] == 0
        assert slot["is_processing"] is False
        assert adapter.counters.warm_failures == 0


def test_prefix_warm_up_reloads_and_fills_the_prompt_cache(sleepy: LlamaServer) -> None:
    with LlamaCppAdapter(sleepy.url, prefixes={"qa": PREFIX}) as adapter:
        assert _wait_asleep(sleepy)  # sleeping frees the slots' KV cache
        assert adapter.warm(hint("qa")).ok
        assert not sleepy.is_sleeping()
        reply = _complete(sleepy, PREFIX + "Say hi.")
    timings = reply["timings"]
    assert isinstance(timings, dict)
    assert timings["cache_n"] > 0  # the app's call found its prefix already computed


def _timed_chat(server: LlamaServer) -> float:
    body = {
        "messages": [{"role": "user", "content": "Say hi."}],
        "max_tokens": 4,
        "cache_prompt": False,  # same work either way, bar the reload
    }
    started = time.perf_counter()
    httpx.post(f"{server.base_url}/chat/completions", json=body, timeout=60).raise_for_status()
    return time.perf_counter() - started


def test_first_call_latency_after_a_pause_with_and_without_warm(
    sleepy: LlamaServer, record_property: Callable[[str, object], None]
) -> None:
    with LlamaCppAdapter(sleepy.url) as adapter:
        _timed_chat(sleepy)  # one-off start-up costs
        assert _wait_asleep(sleepy)
        cold_s = _timed_chat(sleepy)
        assert _wait_asleep(sleepy)
        warm = adapter.warm()
        warmed_s = _timed_chat(sleepy)
    assert warm.ok
    record_property("first_call_cold_s", round(cold_s, 3))
    record_property("first_call_after_warm_s", round(warmed_s, 3))
    record_property("warm_s", round(warm.seconds, 3))
    print(
        f"first call after a pause: {cold_s:.3f} s cold, {warmed_s:.3f} s after warm() "
        f"(which took {warm.seconds:.3f} s off the critical path)"
    )
