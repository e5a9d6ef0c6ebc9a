"""Count the cold starts apps pay: embeddings that check the server's sleep state first.

``/props`` answers while the model sleeps without waking it, so asking it just before each
call tells whether that call pays the reload. The demo wraps the embeddings of both runs alike.
"""

from __future__ import annotations

import threading

from langchain_core.embeddings import Embeddings

from hermes_agents.local import LlamaServer


class ColdStartProbe(Embeddings):
    """Embeddings that note, before each call, whether ``server`` is asleep (a cold start)."""

    def __init__(self, inner: Embeddings, server: LlamaServer) -> None:
        self.inner = inner
        self.server = server
        self.calls = 0
        self.cold_calls = 0
        self._lock = threading.Lock()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed ``texts``, counting a cold start if the server sleeps."""
        self._note()
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        """Embed ``text``, counting a cold start if the server sleeps."""
        self._note()
        return self.inner.embed_query(text)

    def reset(self) -> None:
        """Start counting anew (one count per run)."""
        with self._lock:
            self.calls = self.cold_calls = 0

    def _note(self) -> None:
        try:
            asleep = self.server.is_sleeping()
        except Exception:  # a probe problem must not fail the app; count it as warm
            asleep = False
        with self._lock:
            self.calls += 1
            self.cold_calls += asleep
