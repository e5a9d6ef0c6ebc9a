"""vLLM's OpenAI-compatible server: sleep mode, runtime LoRA, KV prefix warm-up, load metrics.

The endpoints, as vLLM serves them (sources checked for each):

- sleep mode (``--enable-sleep-mode`` and ``VLLM_SERVER_DEV_MODE=1``):
  ``POST /sleep?level=1``, ``POST /wake_up`` (optional repeated ``tags``, e.g. ``weights``,
  ``kv_cache``), ``GET /is_sleeping`` -> ``{"is_sleeping": bool}``
  (vllm/entrypoints/serve/dev/sleep/api_router.py; docs.vllm.ai/en/latest/features/sleep_mode/);
- runtime LoRA (``--enable-lora`` and ``VLLM_ALLOW_RUNTIME_LORA_UPDATING=1``):
  ``POST /v1/load_lora_adapter {"lora_name", "lora_path"}`` and
  ``POST /v1/unload_lora_adapter {"lora_name"}``; a second load of the same name is a 400
  "has already been loaded"; loaded adapters appear in ``GET /v1/models`` with a ``parent``
  (vllm/entrypoints/openai/serving_models.py; docs.vllm.ai/en/latest/features/lora/);
- ``GET /metrics``: ``vllm:num_requests_waiting``, ``vllm:num_requests_running``, KV usage
  as a 0..1 fraction, ``vllm:kv_cache_usage_perc`` (older servers: ``vllm:gpu_cache_usage_perc``),
  and the preemption counter ``vllm:num_preemptions_total``, one sample per engine
  (vllm/v1/metrics/loggers.py).

``warm(hint)`` wakes a sleeping server, loads the LoRA configured for the hint's app, and sends
a 1-token completion carrying the app's prompt prefix so its KV blocks are in the prefix cache
when the app's real call arrives.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import httpx

from hermes_agents.backends.base import BackendError, BackendState, hint_field
from hermes_agents.backends.httpbase import HTTPAdapter, pick_prefix
from hermes_agents.backends.prometheus import count, highest, parse_metrics
from hermes_agents.errors import ValidationError

if TYPE_CHECKING:
    from hermes_agents.prewarm.hints import (  # type: ignore[import-not-found,unused-ignore]
        WarmHint,
    )

__all__ = ["KV_USAGE_METRICS", "PREEMPTIONS_METRIC", "VLLMAdapter"]

KV_USAGE_METRICS = ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc")
"""KV-cache usage gauges, current name first (the second was deprecated in vLLM 0.9)."""
PREEMPTIONS_METRIC = "vllm:num_preemptions_total"
"""The preemption counter's sample (V1 declares ``vllm:num_preemptions``, a Counter, which
``prometheus_client`` serves with ``_total``; V0 declared the ``_total`` name itself)."""


class VLLMAdapter(HTTPAdapter):
    """Adapter for a vLLM server at ``base_url`` (root or ``.../v1``).

    ``model``: the served model name (default: the first base model in ``/v1/models``);
    ``lora``: app name -> adapter path, loaded under the app's name when that app is hinted
    (the app then calls ``model=<app name>``); ``prefix``/``prefixes``: prompt prefix to warm
    (all apps / per app); ``sleep_mode=False`` skips the sleep endpoints (a server without
    ``VLLM_SERVER_DEV_MODE``); ``wake_tags``: what ``warm`` wakes (default everything);
    ``warm_priority``: ``priority`` of the warm-up request (only with
    ``--scheduling-policy priority``; lower is served first). Other keywords are
    ``HTTPAdapter``'s.
    """

    kind = "vllm"

    def __init__(
        self,
        base_url: str,
        *,
        name: str | None = None,
        model: str | None = None,
        lora: Mapping[str, str] | None = None,
        prefix: str | None = None,
        prefixes: Mapping[str, str] | None = None,
        sleep_mode: bool = True,
        wake_tags: Sequence[str] | None = None,
        warm_priority: int | None = None,
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
        self.lora = dict(lora or {})
        for app, path in self.lora.items():
            if not isinstance(path, str) or not path:
                raise ValidationError(f"needs an adapter path, got {path!r}", f"field 'lora.{app}'")
        self.prefix, self.prefixes = prefix, dict(prefixes or {})
        self.sleep_mode = sleep_mode
        self.wake_tags = None if wake_tags is None else list(wake_tags)
        self.warm_priority = warm_priority

    # --- sleep mode ---------------------------------------------------------------------------

    def is_sleeping(self) -> bool:
        """``GET /is_sleeping``; raises ``BackendError`` (404) without dev mode."""
        return bool(self.get_json("/is_sleeping")["is_sleeping"])

    def sleep(self, level: int = 1) -> None:
        """``POST /sleep?level=``: 1 offloads weights to CPU, 2 discards them."""
        self.request("POST", "/sleep", params={"level": level}, warm=True)

    def wake_up(self, tags: Sequence[str] | None = None) -> None:
        """``POST /wake_up``, all of it or only ``tags`` (``weights``, ``kv_cache``)."""
        params = None if not tags else {"tags": list(tags)}
        self.request("POST", "/wake_up", params=params, warm=True)

    # --- models and LoRA ----------------------------------------------------------------------

    def models(self) -> list[dict[str, Any]]:
        """``GET /v1/models`` cards: the base model(s), then LoRAs (with ``parent``)."""
        cards: list[dict[str, Any]] = self.get_json("/v1/models")["data"]
        return cards

    def base_model(self) -> str:
        """The configured model, else the first card without a ``parent``."""
        if self.model is None:
            bases = [c["id"] for c in self.models() if not c.get("parent")]
            if not bases:
                raise BackendError(f"{self.url}/v1/models lists no base model")
            self.model = str(bases[0])
        return self.model

    def load_lora(self, lora_name: str, lora_path: str) -> None:
        """``POST /v1/load_lora_adapter``; already loaded counts as success."""
        body = {"lora_name": lora_name, "lora_path": lora_path}
        try:
            self.request("POST", "/v1/load_lora_adapter", json=body, warm=True)
        except BackendError as error:
            if not (error.status == 400 and "already been loaded" in str(error)):
                raise

    def unload_lora(self, lora_name: str) -> None:
        """``POST /v1/unload_lora_adapter``."""
        self.request("POST", "/v1/unload_lora_adapter", json={"lora_name": lora_name})

    # --- warm-up ------------------------------------------------------------------------------

    def warm_prefix(self, model: str, prefix: str) -> None:
        """A 1-token completion of ``prefix`` on ``model``: its KV blocks enter the cache."""
        body: dict[str, Any] = {"model": model, "prompt": prefix, "max_tokens": 1}
        body["temperature"] = 0.0
        if self.warm_priority is not None:
            body["priority"] = self.warm_priority
        self.request("POST", "/v1/completions", json=body, warm=True)

    def _sleeping(self) -> bool:
        """Whether it sleeps; a server without the sleep endpoints (404) cannot be asleep."""
        if not self.sleep_mode:
            return False
        try:
            return self.is_sleeping()
        except BackendError as error:
            if error.status == 404:
                return False
            raise

    def _warm(self, hint: WarmHint | None) -> None:
        if self._sleeping():
            self.wake_up(self.wake_tags)
        app = hint_field(hint, "app", None)
        model = None
        if app in self.lora:
            if app not in {card["id"] for card in self.models()}:
                self.load_lora(app, self.lora[app])
            model = app
        prefix = pick_prefix(app, self.prefix, self.prefixes)
        if prefix is not None:
            self.warm_prefix(model or self.base_model(), prefix)

    # --- state --------------------------------------------------------------------------------

    def load(self) -> BackendState:
        """Queue, KV usage and preemptions from ``/metrics`` (summed over engines; KV: the
        fullest)."""
        samples = parse_metrics(self.get_text("/metrics"))
        return BackendState(
            waiting=count(samples, "vllm:num_requests_waiting"),
            running=count(samples, "vllm:num_requests_running"),
            kv_usage=highest(samples, *KV_USAGE_METRICS),
            preemptions=count(samples, PREEMPTIONS_METRIC),
        )

    def _state(self) -> BackendState:
        awake = not self._sleeping()
        return dataclasses.replace(self.load(), awake=awake)  # the preemptions too
