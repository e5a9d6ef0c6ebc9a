"""The demo's prewarming on the real servers: rag's embedding call, which comes after its
draft, finds the sleeping embeddings server awake with Hermes and asleep without it.

As in a second ``hermes demo``, rag's profile comes from the store (runs of an earlier
process), so the scheduler prices its stages by what they really cost from the start."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hermes_agents.apps import Toolkit, local_toolkit
from hermes_agents.demo.probe import ColdStartProbe
from hermes_agents.demo.scheduled import EMBEDDINGS_SLEEP_S, hermes_scheduler, instrumented_apps
from hermes_agents.local import LlamaServer
from hermes_agents.store import ProfileStore

pytestmark = pytest.mark.slow

QUESTION = {"question": "How do honey bees show where flowers are?"}
"""A question whose draft is long (about 48 tokens): longer than the reload it can hide."""
STORED_RUNS = 6
"""Runs of an earlier process: enough for the learner to trust each stage's demand."""
RUNS_BEFORE = 2
"""Runs in the measured process before the one that meets the sleeping server."""


@pytest.fixture(scope="module")
def servers(model_path: Path) -> Iterator[tuple[LlamaServer, LlamaServer]]:
    with (
        LlamaServer(model_path, slots=2, threads=1) as chat,
        LlamaServer(
            model_path, embeddings=True, sleep_idle_s=EMBEDDINGS_SLEEP_S, threads=1
        ) as embeddings,
    ):
        yield chat, embeddings


def _asleep(server: LlamaServer) -> None:
    deadline = time.monotonic() + 30
    while not server.is_sleeping():
        assert time.monotonic() < deadline, "the embeddings server never fell asleep"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def stored(
    servers: tuple[LlamaServer, LlamaServer], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A profile store with rag's runs from an earlier process."""
    path = tmp_path_factory.mktemp("profiles") / "profiles.sqlite3"
    chat, embeddings = servers
    bare = local_toolkit(chat.base_url, chat.model_name, embeddings_url=embeddings.base_url)
    with ProfileStore(path) as store:
        scheduler = hermes_scheduler(2, store)
        try:
            rag = instrumented_apps(["rag"], bare, scheduler)["rag"]
            for _ in range(STORED_RUNS):
                rag.invoke(QUESTION)
        finally:
            scheduler.close()
    return path


def _rag_after_learning(
    servers: tuple[LlamaServer, LlamaServer], stored: Path, tmp_path: Path, prewarm: bool
) -> tuple[ColdStartProbe, dict[str, Any]]:
    """With rag's stored profile, run it a few times, let the embeddings server fall asleep,
    run it once more; the probe of that last run and the prewarm counters of the process."""
    chat, embeddings = servers
    plain = local_toolkit(chat.base_url, chat.model_name, embeddings_url=embeddings.base_url)
    assert plain.embeddings is not None
    probe = ColdStartProbe(plain.embeddings, embeddings)
    bare = Toolkit(chat=plain.chat, embeddings=probe)
    copy = tmp_path / stored.name
    shutil.copy(stored, copy)
    with ProfileStore(copy) as store:
        scheduler = hermes_scheduler(2, store, embeddings if prewarm else None)
        try:
            rag = instrumented_apps(["rag"], bare, scheduler)["rag"]
            for _ in range(RUNS_BEFORE):
                rag.invoke(QUESTION)
            _asleep(embeddings)
            probe.reset()
            result = rag.invoke(QUESTION)
            assert result["answer"]
            prewarmer = scheduler.prewarmer
            counters = prewarmer.snapshot()["total"] if prewarmer is not None else {}
        finally:
            scheduler.close()
    return probe, counters


def test_without_prewarming_rag_meets_the_sleeping_server(
    servers: tuple[LlamaServer, LlamaServer], stored: Path, tmp_path: Path
) -> None:
    probe, counters = _rag_after_learning(servers, stored, tmp_path, prewarm=False)
    assert (probe.calls, probe.cold_calls) == (1, 1)
    assert counters == {}


def test_with_prewarming_the_server_is_woken_during_the_draft(
    servers: tuple[LlamaServer, LlamaServer], stored: Path, tmp_path: Path
) -> None:
    probe, counters = _rag_after_learning(servers, stored, tmp_path, prewarm=True)
    assert (probe.calls, probe.cold_calls) == (1, 0)
    assert counters["hints"] >= 1
    assert counters["hits"] + counters["late"] >= 1, counters
    assert counters["warm_failures"] == 0
