"""SGLang's server: release and resume GPU memory, warm a prompt prefix, read load metrics.

The endpoints, as SGLang serves them (python/sglang/srt/entrypoints/http_server.py and
docs/advanced_features/sglang_for_rl.md, "Fine-Grained Engine Sleep and Wake Up"):

- ``POST /release_memory_occupation {"tags": [...]}`` and ``POST /resume_memory_occupation
  {"tags": [...]}`` (server started with ``--enable-memory-saver``; tags ``kv_cache``,
  ``weights``; omitted = all). Release asserts that no request is running; resuming a region that
  is not released fails inside the scheduler (``offload_tags.remove``), which can take the server
  down. SGLang has no endpoint that says whether memory is released, so this adapter resumes only
  what *it* released (or what ``released=True`` says is released), never on a guess;
- ``POST /generate {"text", "sampling_params": {"max_new_tokens": 1}}``: the native generate
  call, used for the 1-token prefix warm-up (the radix cache keeps the prefix);
- ``GET /metrics`` (``--enable-metrics``): ``sglang:num_running_reqs``, ``sglang:num_queue_reqs``,
  ``sglang:token_usage`` (KV pool usage, 0..1) (docs/references/production_metrics.md) and, on
  newer servers, ``sglang:num_retracted_requests_total``.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import httpx

from hermes_agents.backends.base import BackendState, hint_field
from hermes_agents.backends.httpbase import HTTPAdapter, pick_prefix
from hermes_agents.backends.prometheus import count, highest, parse_metrics

if TYPE_CHECKING:
    from hermes_agents.prewarm.hints import (  # type: ignore[import-not-found,unused-ignore]
        WarmHint,
    )

__all__ = ["SGLangAdapter"]


RETRACTIONS_METRIC = "sglang:num_retracted_requests_total"
"""SGLang's counter of requests retracted (preempted) for KV memory (newer servers). Not
``sglang:num_retracted_reqs``: that gauge is the last batch's count, not a total."""


class SGLangAdapter(HTTPAdapter):
    """Adapter for an SGLang server at ``base_url`` (root or ``.../v1``).

    ``tags``: memory regions ``release()`` frees by default (None = all); ``released=True``:
    the server's memory is released now (by someone else), so the first ``warm`` resumes it;
    ``prefix``/``prefixes``: prompt prefix to warm (all apps / per app). Other keywords are
    ``HTTPAdapter``'s.

    Example::

        adapter = SGLangAdapter("http://127.0.0.1:30000")
        adapter.release()            # GPU memory back to the trainer / other models
        adapter.warm()               # resumes it: WarmResult(ok=True, ...)
    """

    kind = "sglang"

    def __init__(
        self,
        base_url: str,
        *,
        name: str | None = None,
        tags: Sequence[str] | None = None,
        released: bool = False,
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
        self.tags = None if tags is None else list(tags)
        self.prefix, self.prefixes = prefix, dict(prefixes or {})
        self._lock = threading.Lock()
        # What we know to be released: None = nothing; [] = everything (tags omitted).
        self._released: list[str] | None = (self.tags or []) if released else None

    @property
    def released(self) -> bool:
        """Whether memory this adapter knows of is released (awaiting ``resume``)."""
        return self._released is not None

    def release(self, tags: Sequence[str] | None = None) -> None:
        """``POST /release_memory_occupation`` (default: ``self.tags``). The server must be idle."""
        chosen = self.tags if tags is None else list(tags)
        self.request("POST", "/release_memory_occupation", json={"tags": chosen}, warm=True)
        with self._lock:
            self._released = list(chosen or [])

    def resume(self) -> None:
        """``POST /resume_memory_occupation`` for exactly what was released; no-op otherwise."""
        with self._lock:
            released = self._released
        if released is None:
            return
        body = {"tags": released or None}
        self.request("POST", "/resume_memory_occupation", json=body, warm=True)
        with self._lock:
            self._released = None

    def generate_one_token(self, text: str) -> None:
        """Native ``/generate`` of 1 token for ``text``; the radix cache keeps its prefix."""
        body: dict[str, Any] = {"text": text, "sampling_params": {"max_new_tokens": 1}}
        body["sampling_params"]["temperature"] = 0.0
        self.request("POST", "/generate", json=body, warm=True)

    def _warm(self, hint: WarmHint | None) -> None:
        self.resume()
        prefix = pick_prefix(hint_field(hint, "app", None), self.prefix, self.prefixes)
        if prefix is not None:
            self.generate_one_token(prefix)

    def load(self) -> BackendState:
        """Queue, KV usage and retractions (its preemptions) from ``/metrics`` (summed over
        data-parallel ranks; KV: the fullest)."""
        samples = parse_metrics(self.get_text("/metrics"))
        return BackendState(
            waiting=count(samples, "sglang:num_queue_reqs"),
            running=count(samples, "sglang:num_running_reqs"),
            kv_usage=highest(samples, "sglang:token_usage"),
            preemptions=count(samples, RETRACTIONS_METRIC),
        )

    def _state(self) -> BackendState:
        return dataclasses.replace(self.load(), awake=not self.released)
