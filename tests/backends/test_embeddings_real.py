"""Conformance of the embeddings adapter against a REAL OpenAI-compatible embeddings server
(llama.cpp with --embeddings, SmolLM2 mean-pooled)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hermes_agents.backends import EmbeddingsAdapter, LlamaCppAdapter
from hermes_agents.local import LlamaServer

pytestmark = pytest.mark.slow


@pytest.fixture
def embedder(model_path: Path) -> Iterator[LlamaServer]:
    with LlamaServer(model_path, slots=1, ctx_tokens=512, embeddings=True, sleep_idle_s=1) as s:
        yield s


def test_warm_embeds_a_tiny_input_and_wakes_the_model(embedder: LlamaServer) -> None:
    with (
        EmbeddingsAdapter(embedder.base_url) as adapter,
        LlamaCppAdapter(embedder.url) as status,
    ):
        deadline = time.monotonic() + 30
        while status.state().awake is not False and time.monotonic() < deadline:
            time.sleep(0.05)
        assert status.state().awake is False
        result = adapter.warm()
        assert result.ok, result.error
        assert status.state().awake is True
        assert adapter.model == embedder.model_name  # found in /v1/models
        assert len(adapter.embed("hello")) == 576  # SmolLM2's hidden size
