"""``HermesEmbeddings``: LangChain embeddings whose calls wait for a Hermes slot (re-exported
by ``hermes_agents.langchain``)."""

from __future__ import annotations

from langchain_core.embeddings import Embeddings

from hermes_agents.dropins.sizing import call_slot, rough_tokens
from hermes_agents.scheduling.default import check_environment
from hermes_agents.scheduling.interface import Scheduler
from hermes_agents.scheduling.slot import Slot, nested_calls

__all__ = ["HermesEmbeddings"]


class HermesEmbeddings(Embeddings):
    """Embeddings whose calls wait for a slot on ``backend``; the slots report measured
    seconds.

    >>> from langchain_core.embeddings import DeterministicFakeEmbedding
    >>> embeddings = HermesEmbeddings(DeterministicFakeEmbedding(size=4))
    >>> len(embeddings.embed_query("hello"))
    4
    """

    def __init__(
        self, inner: Embeddings, *, backend: str = "embeddings", scheduler: Scheduler | None = None
    ) -> None:
        if scheduler is None:
            check_environment()  # a bad HERMES_SCHEDULER / HERMES_CONFIG fails here, not later
        self.inner = inner
        self.backend = backend
        self.scheduler = scheduler

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed ``texts`` with the inner embeddings, inside a slot."""
        with self._call(texts) as call, nested_calls(call):
            return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        """Embed ``text`` with the inner embeddings, inside a slot."""
        with self._call([text]) as call, nested_calls(call):
            return self.inner.embed_query(text)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed ``texts`` with the inner embeddings, inside a slot (asyncio)."""
        async with self._call(texts) as call:
            with nested_calls(call):
                return await self.inner.aembed_documents(texts)

    async def aembed_query(self, text: str) -> list[float]:
        """Embed ``text`` with the inner embeddings, inside a slot (asyncio)."""
        async with self._call([text]) as call:
            with nested_calls(call):
                return await self.inner.aembed_query(text)

    def _call(self, texts: list[str]) -> Slot:
        return call_slot(self.scheduler, self.backend, prompt_tokens=rough_tokens(texts))
