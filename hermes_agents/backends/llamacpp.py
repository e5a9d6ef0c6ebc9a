"""llama.cpp's HTTP server (``llama-server``, or xllamacpp): wake a sleeping model, read state.

With ``--sleep-idle-seconds N`` the server unloads the model after N idle seconds. What we rely
on, checked against llama.cpp's ``tools/server/server-queue.cpp`` and the real server here:

- ``GET /props`` answers while asleep without waking it and carries ``is_sleeping``;
  ``GET /health`` says 200 either way, so it cannot tell cold from warm;
- any request that goes through the task queue (``GET /slots``, a completion) calls
  ``wait_until_no_sleep()``: it reloads the model, blocks until loaded, and resets the idle timer.
  ``GET /slots`` is the cheapest such request, so it is our wake-up and keep-awake call;
- ``GET /metrics`` (``--metrics``) answers while asleep: ``llamacpp:requests_processing`` and
  ``llamacpp:requests_deferred``.

With a prompt prefix configured, ``warm`` sends a 1-token ``/completion`` carrying it instead:
that wakes the model *and* leaves the prefix in a slot's KV cache (``cache_prompt``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import httpx

from hermes_agents.backends.base import BackendError, BackendState, hint_field
from hermes_agents.backends.httpbase import HTTPAdapter, pick_prefix
from hermes_agents.backends.prometheus import count, parse_metrics

if TYPE_CHECKING:
    from hermes_agents.prewarm.hints import (  # type: ignore[import-not-found,unused-ignore]
        WarmHint,
    )

__all__ = ["LlamaCppAdapter"]

_NOT_ENABLED = (404, 501)  # llama.cpp answers 501 for endpoints switched off by a flag


class LlamaCppAdapter(HTTPAdapter):
    """Adapter for a llama.cpp server at ``base_url`` (root or ``.../v1``).

    ``prefix`` (all apps) or ``prefixes`` (per app) are prompt prefixes to warm into a slot's
    KV cache; without one, ``warm`` wakes the model with ``GET /slots``. Other keywords are
    ``HTTPAdapter``'s.

    Example::

        adapter = LlamaCppAdapter(server.url)
        adapter.state().awake        # False while the model sleeps
        adapter.warm()               # WarmResult(ok=True, seconds=0.45, error=None)
    """

    kind = "llamacpp"

    def __init__(
        self,
        base_url: str,
        *,
        name: str | None = None,
        prefix: str | None = None,
        prefixes: Mapping[str, str] | None = None,
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
        self.prefix = prefix
        self.prefixes = dict(prefixes or {})

    # --- llama.cpp endpoints ------------------------------------------------------------------

    def props(self) -> dict[str, Any]:
        """``GET /props`` (does not wake the model)."""
        props: dict[str, Any] = self.get_json("/props")
        return props

    def is_sleeping(self) -> bool:
        """Whether the model is unloaded (``/props`` ``is_sleeping``); does not wake it."""
        return bool(self.props().get("is_sleeping", False))

    def slots(self) -> list[dict[str, Any]]:
        """``GET /slots``: ``[{"id", "n_ctx", "is_processing", ...}]``. Wakes a sleeping model."""
        slots: list[dict[str, Any]] = self.request("GET", "/slots", warm=True).json()
        return slots

    def complete_one_token(self, prompt: str) -> None:
        """A 1-token ``/completion`` of ``prompt`` that keeps it in the slot's KV cache."""
        body = {"prompt": prompt, "n_predict": 1, "cache_prompt": True}
        self.request("POST", "/completion", json=body, warm=True)

    # --- adapter ------------------------------------------------------------------------------

    def _warm(self, hint: WarmHint | None) -> None:
        prefix = pick_prefix(hint_field(hint, "app", None), self.prefix, self.prefixes)
        if prefix is not None:
            self.complete_one_token(prefix)
            return
        try:
            self.slots()
        except BackendError as error:
            if error.status not in _NOT_ENABLED:
                raise
            # started with --no-slots: a completion goes through the same queue and wakes it
            self.complete_one_token(" ")

    def _state(self) -> BackendState:
        awake = not self.is_sleeping()
        try:
            samples = parse_metrics(self.get_text("/metrics"))
        except BackendError as error:
            if error.status not in _NOT_ENABLED:  # no --metrics: load is simply unknown
                raise
            return BackendState(awake=awake)
        return BackendState(
            awake=awake,
            waiting=count(samples, "llamacpp:requests_deferred"),
            running=count(samples, "llamacpp:requests_processing"),
        )
