"""Count the cold starts apps pay: embeddings that check the server's sleep state first.

``/props`` answers while the model sleeps without waking it, so asking it just before each
call tells whether that call pays the reload. The demo wraps the embeddings of every run alike.
It also sums the seconds the calls themselves take (a warm call of the demo's tiny embedding
takes a few tens of milliseconds; a call that meets a sleeping server waits for the reload).
A call that comes while a reload is already under way waits for the rest of it but is not
counted as a cold start: ``/props`` answers only once the model is loaded; its seconds show it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from langchain_core.embeddings import Embeddings

from hermes_agents.local import LlamaServer

_T = TypeVar("_T")


class ColdStartProbe(Embeddings):
    """Embeddings that note, before each call, whether ``server`` is asleep (a cold start)."""

    def __init__(self, inner: Embeddings, server: LlamaServer) -> None:
        self.inner = inner
        self.server = server
        self.calls = 0
        self.cold_calls = 0
        self.seconds = 0.0
        """Seconds spent in the inner calls (reloads included, the probe's own check not)."""
        self._lock = threading.Lock()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed ``texts``, counting a cold start if the server sleeps."""
        return self._call(lambda: self.inner.embed_documents(texts))

    def embed_query(self, text: str) -> list[float]:
        """Embed ``text``, counting a cold start if the server sleeps."""
        return self._call(lambda: self.inner.embed_query(text))

    def reset(self) -> None:
        """Start counting anew (one count per run)."""
        with self._lock:
            self.calls = self.cold_calls = 0
            self.seconds = 0.0

    def _call(self, embed: Callable[[], _T]) -> _T:
        try:
            asleep = self.server.is_sleeping()
        except Exception:  # a probe problem must not fail the app; count it as warm
            asleep = False
        started = time.perf_counter()
        try:
            return embed()
        finally:
            elapsed = time.perf_counter() - started
            with self._lock:
                self.calls += 1
                self.cold_calls += asleep
                self.seconds += elapsed
