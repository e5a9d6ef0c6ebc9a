"""Ollama: load a model ahead of need with ``keep_alive``, read what is loaded.

From Ollama's API reference (github.com/ollama/ollama/blob/main/docs/api.md):

- ``POST /api/generate {"model": M}`` without a prompt loads M and answers
  ``{"model", "created_at", "response": "", "done": true, "done_reason": "load"}``;
  ``"keep_alive"`` says how long it stays loaded afterwards: a number of seconds or a duration
  such as ``"5m"``; negative = until the server stops; 0 unloads (``"done_reason": "unload"``);
- ``GET /api/ps`` lists the loaded models: ``{"models": [{"name", "model", "size",
  "size_vram", "expires_at", ...}]}``;
- an unknown model is a 404 ``{"error": "model 'M' not found"}``.

A ``keep_awake`` hint asks to stay loaded ``keep_s`` seconds: the load request then carries
``keep_alive = max(keep_alive_s, keep_s)``, so a hint never shortens the configured residency.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

from hermes_agents.backends.base import BackendError, BackendState, hint_field
from hermes_agents.backends.httpbase import HTTPAdapter
from hermes_agents.errors import ValidationError

if TYPE_CHECKING:
    from hermes_agents.prewarm.hints import (  # type: ignore[import-not-found,unused-ignore]
        WarmHint,
    )

__all__ = ["OllamaAdapter"]


def _tagged(model: str) -> str:
    """Ollama names a model without a tag ``<name>:latest``."""
    return model if ":" in model.rsplit("/", 1)[-1] else f"{model}:latest"


def _seconds(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


class OllamaAdapter(HTTPAdapter):
    """Adapter for one model on an Ollama server at ``base_url`` (default port 11434).

    ``model``: the model to load (e.g. ``"llama3.2"``); ``keep_alive_s``: how long it stays
    loaded after a warm-up (seconds; negative = forever). Other keywords are ``HTTPAdapter``'s.

    Example::

        adapter = OllamaAdapter("http://127.0.0.1:11434", model="llama3.2", keep_alive_s=600)
        adapter.warm()               # loads it: WarmResult(ok=True, seconds=1.9, error=None)
        adapter.state().awake        # True while /api/ps lists it
    """

    kind = "ollama"

    def __init__(
        self,
        base_url: str,
        *,
        model: str,
        name: str | None = None,
        keep_alive_s: float = 300.0,
        transport: httpx.BaseTransport | None = None,
        timeout_s: float = 2.0,
        warm_timeout_s: float = 120.0,
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
        if not isinstance(model, str) or not model:
            raise ValidationError(f"must name an Ollama model, got {model!r}", "field 'model'")
        if isinstance(keep_alive_s, bool) or not isinstance(keep_alive_s, int | float):
            problem = f"must be a number of seconds (negative = forever), got {keep_alive_s!r}"
            raise ValidationError(problem, "field 'keep_alive_s'")
        self.model = model
        self.keep_alive_s = float(keep_alive_s)

    def running(self) -> list[dict[str, Any]]:
        """``GET /api/ps``: the loaded models."""
        models: list[dict[str, Any]] = self.get_json("/api/ps").get("models") or []
        return models

    def is_loaded(self) -> bool:
        """Whether ``/api/ps`` lists this adapter's model."""
        wanted = _tagged(self.model)
        names = ({_tagged(m.get("name", "")), _tagged(m.get("model", ""))} for m in self.running())
        return any(wanted in both for both in names)

    def load(self, keep_alive_s: float | None = None) -> None:
        """Load the model (no prompt) and keep it ``keep_alive_s`` seconds (default: configured)."""
        keep = self.keep_alive_s if keep_alive_s is None else keep_alive_s
        body = {"model": self.model, "keep_alive": _seconds(keep), "stream": False}
        reply = self.request("POST", "/api/generate", json=body, warm=True).json()
        if not reply.get("done", False):
            raise BackendError(f"{self.url}/api/generate did not finish loading: {reply}")

    def unload(self) -> None:
        """Unload the model now (``keep_alive: 0``)."""
        body = {"model": self.model, "keep_alive": 0, "stream": False}
        self.request("POST", "/api/generate", json=body, warm=True)

    def _warm(self, hint: WarmHint | None) -> None:
        keep = self.keep_alive_s
        if keep >= 0:  # a negative keep_alive already means "forever"
            keep = max(keep, float(hint_field(hint, "keep_s", 0.0) or 0.0))
        self.load(keep)

    def _state(self) -> BackendState:
        return BackendState(awake=self.is_loaded())
