"""Every adapter fails open: refused, 500 and timeout become WarmResult(ok=False), counted,
logged once, never raised."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from hermes_agents.backends import (
    BackendState,
    EmbeddingsAdapter,
    FailOpenAdapter,
    LlamaCppAdapter,
    OllamaAdapter,
    SGLangAdapter,
    ToolAdapter,
    VLLMAdapter,
)

FAST: dict[str, Any] = {"timeout_s": 0.1}
HTTP_FAST: dict[str, Any] = {**FAST, "warm_timeout_s": 0.1}

# Each builder gets a URL and keyword options and returns an adapter whose warm() sends a request.
Builder = Callable[[str, dict[str, Any]], FailOpenAdapter]
BUILDERS: dict[str, Builder] = {
    "llamacpp": lambda url, kw: LlamaCppAdapter(url, **HTTP_FAST, **kw),
    "vllm": lambda url, kw: VLLMAdapter(url, prefix="p", model="m", **HTTP_FAST, **kw),
    "sglang": lambda url, kw: SGLangAdapter(url, prefix="p", **HTTP_FAST, **kw),
    "ollama": lambda url, kw: OllamaAdapter(url, model="llama3.2", **HTTP_FAST, **kw),
    "embeddings": lambda url, kw: EmbeddingsAdapter(url, model="e", **HTTP_FAST, **kw),
    "tools": lambda url, kw: ToolAdapter(f"{url}/warm", **FAST, **kw),
}


def _server_error(request: httpx.Request) -> httpx.Response:
    return httpx.Response(500, text="Internal Server Error")


def _check_fails_open(
    adapter: FailOpenAdapter, marker: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="hermes_agents.backends"):
        results = [adapter.warm(), adapter.warm()]
        state = adapter.state()
    for result in results:
        assert result.ok is False
        assert result.error is not None
        assert marker in result.error
        assert result.seconds >= 0.0
    assert adapter.counters.warm_failures == 2
    warm_warnings = [r for r in caplog.records if "warm failed" in r.getMessage()]
    assert len(warm_warnings) == 1
    assert isinstance(state, BackendState)
    adapter.close()


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_connection_refused(kind: str, refused_url: str, caplog: pytest.LogCaptureFixture) -> None:
    _check_fails_open(BUILDERS[kind](refused_url, {}), "ConnectError", caplog)


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_server_error(kind: str, caplog: pytest.LogCaptureFixture) -> None:
    adapter = BUILDERS[kind](
        "http://backend:1234", {"transport": httpx.MockTransport(_server_error)}
    )
    _check_fails_open(adapter, "500", caplog)


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_timeout(kind: str, silent_url: str, caplog: pytest.LogCaptureFixture) -> None:
    _check_fails_open(BUILDERS[kind](silent_url, {}), "Timeout", caplog)
