"""The ``conftest.py`` the conformance runs put in LangGraph's own ``tests/`` (``suite.py``).

LangGraph's conftest parametrizes its fixtures over Postgres, Redis and SQLite services; this
one keeps only the in-memory variants (the checkpointers the sdist's own ``memory_assert``
module defines, ``InMemoryStore``, ``InMemoryCache``), so the suite needs no service. The
fixture names and parameters are LangGraph's: its test files use them unchanged.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
from langgraph.cache.memory import InMemoryCache
from langgraph.store.memory import InMemoryStore


def _memory_savers() -> Any:
    return importlib.import_module("tests.memory_assert")  # the sdist's, found at run time


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def deterministic_uuids(mocker: Any) -> Any:
    side_effect = (UUID(f"00000000-0000-4000-8000-{i:012}", version=4) for i in range(10000))
    return mocker.patch("uuid.uuid4", side_effect=side_effect)


@pytest.fixture(params=["sync", "async", "exit"])
def durability(request: pytest.FixtureRequest) -> Any:
    return request.param


@pytest.fixture(params=["memory"])
def cache(request: pytest.FixtureRequest) -> Any:
    return InMemoryCache()


@pytest.fixture(params=["in_memory"])
def sync_store(request: pytest.FixtureRequest) -> Any:
    return InMemoryStore()


@pytest.fixture(params=["in_memory"])
async def async_store(request: pytest.FixtureRequest) -> Any:
    return InMemoryStore()


@pytest.fixture(params=["memory", "memory_migrate_sends"])
def sync_checkpointer(request: pytest.FixtureRequest) -> Iterator[Any]:
    savers = _memory_savers()
    if request.param == "memory":
        yield savers.MemorySaverAssertImmutable()
    else:
        yield savers.MemorySaverNeedsPendingSendsMigration()


@pytest.fixture(params=["memory"])
async def async_checkpointer(request: pytest.FixtureRequest) -> Any:
    return _memory_savers().MemorySaverAssertImmutable()
