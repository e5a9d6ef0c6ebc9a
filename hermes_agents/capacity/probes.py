"""Where each backend's observations come from, by the adapter that reads it.

==========  ================  ==============================================================
adapter     controller        what is read
==========  ================  ==============================================================
llamacpp    ``SlotCount``     ``GET /props`` ``total_slots`` (answers while the model sleeps,
                              without waking it)
vllm        ``EngineWindow``  ``GET /metrics``: ``vllm:num_requests_running``,
                              ``vllm:num_requests_waiting``, ``vllm:kv_cache_usage_perc``
                              (older servers: ``vllm:gpu_cache_usage_perc``),
                              ``vllm:num_preemptions_total``
sglang      ``EngineWindow``  ``GET /metrics`` (``--enable-metrics``): ``sglang:num_running_reqs``,
                              ``sglang:num_queue_reqs``, ``sglang:token_usage``,
                              ``sglang:num_retracted_requests_total`` (newer servers)
any other   ``GradientLimit`` nothing polled: each call's latency, and 429/503 answers
==========  ================  ==============================================================

``probe_for`` builds the probe (a callable that reads the engine once and may raise: the
runtime fails open) and ``controller_for`` the matching controller.
"""

from __future__ import annotations

from collections.abc import Callable

from hermes_agents.backends.base import BackendAdapter, adapter_for
from hermes_agents.capacity.controllers import Controller, EngineWindow, SlotCount
from hermes_agents.capacity.gradient import GradientLimit
from hermes_agents.capacity.window import Bounds, EngineSample

__all__ = ["MEASURING_ADAPTERS", "Probe", "controller_for", "probe_for"]

MEASURING_ADAPTERS = frozenset({"llamacpp", "vllm", "sglang"})
"""Adapters whose servers say what they hold: ``auto`` polls them."""

Probe = Callable[[], EngineSample]
"""Reads the engine once (blocking I/O; may raise)."""


def controller_for(adapter: str | None, bounds: Bounds, clock: Callable[[], float]) -> Controller:
    """The controller for a backend read through ``adapter`` (see the module docstring)."""
    if adapter == "llamacpp":
        return SlotCount(bounds, clock)
    if adapter in ("vllm", "sglang"):
        return EngineWindow(bounds, clock)
    return GradientLimit(bounds, clock)


def probe_for(
    adapter: str | None, base_url: str | None, *, name: str, **options: object
) -> tuple[Probe, BackendAdapter] | None:
    """A probe of the server at ``base_url`` and the adapter it uses (the caller closes it);
    None when the adapter measures nothing or there is no URL."""
    if adapter not in MEASURING_ADAPTERS or base_url is None:
        return None
    built = adapter_for(adapter, base_url, name=name, **options)
    return _probe(adapter, built), built


def _probe(adapter: str, built: BackendAdapter) -> Probe:
    from hermes_agents.backends.llamacpp import LlamaCppAdapter
    from hermes_agents.backends.sglang import SGLangAdapter
    from hermes_agents.backends.vllm import VLLMAdapter

    if adapter == "llamacpp":
        assert isinstance(built, LlamaCppAdapter)
        server = built

        def slots() -> EngineSample:
            total = server.props().get("total_slots")
            valid = isinstance(total, int) and not isinstance(total, bool)
            return EngineSample(slots=total if valid else None)

        return slots
    assert isinstance(built, VLLMAdapter | SGLangAdapter)  # (MEASURING_ADAPTERS)
    engine = built

    def engine_load() -> EngineSample:
        load = engine.load()  # raises when /metrics cannot be read
        return EngineSample(load.running, load.waiting, load.kv_usage, None, load.preemptions)

    return engine_load
