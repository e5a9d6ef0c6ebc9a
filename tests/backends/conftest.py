"""Fixtures for the adapter tests: the cached real model, a fake clock, dead and silent ports."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.backends.helpers import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock starting at 1000 s."""
    return FakeClock()


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
