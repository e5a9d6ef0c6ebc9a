"""An OpenAI-compatible embeddings server: warm it with one tiny embeddings request.

Any server that speaks ``POST /v1/embeddings {"model", "input"}`` -> ``{"data": [{"embedding":
[...]}, ...]}`` (OpenAI's embeddings API): llama.cpp with ``--embeddings``, vLLM with an
embedding model, Hugging Face TEI, Infinity, Ollama's ``/v1`` API. The request is the cheapest
one that makes the server load (or reload) its model, fill its caches and JIT its kernels.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

from hermes_agents.backends.base import BackendError
from hermes_agents.backends.httpbase import HTTPAdapter

if TYPE_CHECKING:
    from hermes_agents.prewarm.hints import (  # type: ignore[import-not-found,unused-ignore]
        WarmHint,
    )

__all__ = ["EmbeddingsAdapter"]


class EmbeddingsAdapter(HTTPAdapter):
    """Adapter for an OpenAI-compatible embeddings server at ``base_url`` (root or ``.../v1``).

    ``model``: the model name to send (default: the first id in ``/v1/models``; servers that
    ignore it, such as llama.cpp, work either way); ``path``: the embeddings route;
    ``text``: what to embed. Other keywords are ``HTTPAdapter``'s.

    Example::

        adapter = EmbeddingsAdapter("http://127.0.0.1:8081/v1")
        adapter.warm()               # WarmResult(ok=True, seconds=0.02, error=None)
    """

    kind = "embeddings"

    def __init__(
        self,
        base_url: str,
        *,
        name: str | None = None,
        model: str | None = None,
        path: str = "/v1/embeddings",
        text: str = "warm-up",
        transport: httpx.BaseTransport | None = None,
        timeout_s: float = 2.0,
        warm_timeout_s: float = 60.0,
        api_key: str | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(
            base_url,
            name=name,
            transport=transport,
            timeout_s=timeout_s,
            warm_timeout_s=warm_timeout_s,
            api_key=api_key,
            clock=clock,
        )
        self.model = model
        self.path = path if path.startswith("/") else f"/{path}"
        self.text = text

    def _model(self) -> str | None:
        """The configured model, else the first id ``/v1/models`` lists, else None."""
        if self.model is None:
            try:
                cards = self.get_json("/v1/models").get("data") or []
            except (BackendError, httpx.HTTPError, ValueError):
                return None  # the embeddings call itself reports a dead server
            self.model = str(cards[0]["id"]) if cards else None
        return self.model

    def embed(self, text: str) -> list[float]:
        """The embedding of ``text``."""
        body: dict[str, Any] = {"input": text}
        model = self._model()
        if model is not None:
            body["model"] = model
        data = self.request("POST", self.path, json=body, warm=True).json().get("data") or []
        if not data or not data[0].get("embedding"):
            raise BackendError(f"{self.url}{self.path} returned no embedding")
        vector: list[float] = data[0]["embedding"]
        return vector

    def _warm(self, hint: WarmHint | None) -> None:
        self.embed(self.text)
