"""Fake models for fast logic tests of the example apps, and a node-visit recorder."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import FakeListChatModel

from hermes_agents.apps import Toolkit
from hermes_agents.langchain import scheduled
from hermes_agents.scheduling import Scheduler

REPLY = "fake reply"
"""What the fake LLM says, every time."""


class KeywordEmbeddings(Embeddings):
    """Bag-of-words vectors over a fixed vocabulary: texts sharing words are close."""

    def __init__(self, vocabulary: Sequence[str]) -> None:
        self.vocabulary = [word.lower() for word in vocabulary]
        self.documents_embedded = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.documents_embedded += len(texts)
        return [self._vector(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)

    def _vector(self, text: str) -> list[float]:
        words = re.findall(r"[a-z]+", text.lower())
        return [float(words.count(word)) for word in self.vocabulary]


def fake_toolkit(
    scheduler: Scheduler | None = None, embeddings: Embeddings | None = None
) -> Toolkit:
    """A toolkit of fakes; with a scheduler, the models and tools are scheduled by it."""
    chat: Any = FakeListChatModel(responses=[REPLY])
    vectors = embeddings or KeywordEmbeddings(["capital", "france", "nile", "everest", "python"])
    if scheduler is not None:
        chat = scheduled(chat, scheduler=scheduler)
        vectors = scheduled(vectors, scheduler=scheduler)
    return Toolkit(chat=chat, embeddings=vectors, scheduler=scheduler)


def node_visits(graph: Any, task: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """The nodes a run visits, in order (one entry per task of a ``Send`` fan-out), and its
    final state."""
    visits: list[str] = []
    final: dict[str, Any] = {}
    for mode, chunk in graph.stream(task, stream_mode=["updates", "values"]):
        if mode == "updates":
            visits.extend(chunk)
        else:
            final = chunk
    return visits, final
