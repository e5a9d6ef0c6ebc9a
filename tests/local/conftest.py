"""Fixtures for the real local LLM: the cached model and one llama.cpp server per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from openai import OpenAI

from hermes_agents.local import LlamaServer


@pytest.fixture(scope="session")
def server(model_path: Path) -> Iterator[LlamaServer]:
    """One real llama.cpp server with 2 slots, shared by the session (the model loads once)."""
    with LlamaServer(model_path, slots=2, ctx_tokens=2048) as running:
        yield running


@pytest.fixture
def client(server: LlamaServer) -> OpenAI:
    """An OpenAI client pointed at the session's server.

    Clients against the real server keep openai's default retries, as users do: llama.cpp's HTTP
    server now and then closes an idle keep-alive connection just as the client reuses it
    (about 2 in 100 back-to-back streamed calls here, with or without Hermes), which openai
    retries as a connection error."""
    return OpenAI(base_url=server.base_url, api_key="local", timeout=60.0)
