"""Fixtures for the example apps: the cached model (tests/conftest.py), one chat server with
2 slots and one embeddings server for the session, and toolkits over them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hermes_agents.apps import Toolkit, example_limits, local_toolkit
from hermes_agents.local import LlamaServer
from hermes_agents.scheduling import LocalScheduler, SchedulerCore, policy_named
from hermes_agents.scheduling.state import UNLIMITED
from tests.doubles import RecordingModels

SERVER_THREADS = 1
"""One thread per server: llama.cpp's threads wait for each other, so on a busy CI box a thread
that loses its core stalls the rest (10x slower calls were seen with the default of 2)."""


@pytest.fixture(scope="session")
def chat_server(model_path: Path) -> Iterator[LlamaServer]:
    """A real llama.cpp chat server with 2 slots, shared by the session."""
    with LlamaServer(model_path, slots=2, threads=SERVER_THREADS) as running:
        yield running


@pytest.fixture(scope="session")
def embeddings_server(model_path: Path) -> Iterator[LlamaServer]:
    """A real llama.cpp embeddings server (the same GGUF), shared by the session."""
    with LlamaServer(model_path, slots=1, threads=SERVER_THREADS, embeddings=True) as running:
        yield running


@pytest.fixture
def models() -> RecordingModels:
    """Keeps every finished run the scheduler sees."""
    return RecordingModels()


@pytest.fixture
def scheduler(models: RecordingModels) -> LocalScheduler:
    """An in-process scheduler with the apps' backends (2 LLM slots, like the server) that
    hands its finished runs to ``models``."""
    core = SchedulerCore(
        example_limits(),
        policy_named("gittins"),
        time.monotonic,
        models=models,
        default_limits=UNLIMITED,
    )
    return LocalScheduler(core)


@pytest.fixture
def bare_toolkit(chat_server: LlamaServer, embeddings_server: LlamaServer) -> Toolkit:
    """The real models, nothing scheduled."""
    return local_toolkit(
        chat_server.base_url, chat_server.model_name, embeddings_url=embeddings_server.base_url
    )


@pytest.fixture
def scheduled_toolkit(
    chat_server: LlamaServer, embeddings_server: LlamaServer, scheduler: LocalScheduler
) -> Toolkit:
    """The real models and the tools, all scheduled by ``scheduler``."""
    return local_toolkit(
        chat_server.base_url,
        chat_server.model_name,
        embeddings_url=embeddings_server.base_url,
        scheduler=scheduler,
    )
