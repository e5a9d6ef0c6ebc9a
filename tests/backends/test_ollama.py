"""The Ollama adapter against the protocol-faithful fake: load with keep_alive, /api/ps."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hermes_agents.backends import OllamaAdapter
from hermes_agents.backends.testing import FakeOllama, ollama_keep_alive_s
from tests.backends.helpers import FakeClock, hint


@pytest.fixture
def fake(clock: FakeClock) -> FakeOllama:
    return FakeOllama(models=("llama3.2:latest", "qwen3:8b"), clock=clock)


@pytest.fixture
def adapter(fake: FakeOllama) -> Iterator[OllamaAdapter]:
    with OllamaAdapter("http://box:11434", model="llama3.2", transport=fake.transport()) as adapter:
        yield adapter


def test_warm_loads_with_an_empty_request_and_keep_alive(
    fake: FakeOllama, adapter: OllamaAdapter, clock: FakeClock
) -> None:
    assert adapter.state().awake is False
    assert adapter.warm().ok
    assert fake.requests[-1].body == {"model": "llama3.2", "keep_alive": 300, "stream": False}
    assert adapter.state().awake is True  # /api/ps lists llama3.2:latest
    clock.advance(301)
    assert adapter.state().awake is False  # keep_alive ran out: Ollama unloaded it


def test_keep_awake_hint_extends_but_never_shortens(
    fake: FakeOllama, adapter: OllamaAdapter
) -> None:
    adapter.warm(hint("chat", action="keep_awake", keep_s=900.0))
    adapter.warm(hint("chat", action="keep_awake", keep_s=10.0))
    assert [r.body["keep_alive"] for r in fake.requests if r.path == "/api/generate"] == [900, 300]


def test_forever_and_unload(fake: FakeOllama, clock: FakeClock) -> None:
    with OllamaAdapter("http://box:11434", model="qwen3:8b", keep_alive_s=-1,
                       transport=fake.transport()) as adapter:  # fmt: skip
        assert adapter.warm(hint("x", keep_s=60.0)).ok
        assert fake.requests[-1].body["keep_alive"] == -1
        clock.advance(1e9)
        assert adapter.is_loaded()
        adapter.unload()
        assert not adapter.is_loaded()


def test_unknown_model_fails_the_warm(fake: FakeOllama) -> None:
    with OllamaAdapter("http://box:11434", model="mistral", transport=fake.transport()) as adapter:
        result = adapter.warm()
    assert not result.ok
    assert result.error is not None
    assert "404" in result.error
    assert "model 'mistral' not found" in result.error


def test_keep_alive_durations() -> None:
    assert ollama_keep_alive_s("5m") == 300.0
    assert ollama_keep_alive_s(None) == 300.0
    assert ollama_keep_alive_s(-1) == float("inf")
    assert ollama_keep_alive_s("1h") == 3600.0
    with pytest.raises(ValueError, match="invalid duration"):
        ollama_keep_alive_s("soon")
