"""``max_concurrency = "auto"``: a backend's capacity found at run time instead of hand-set.

Pure controllers (observations in, a ``Window`` out, time from an injected clock), usable by
any driver, the simulator included:

- ``SlotCount``: llama.cpp, its server's slot count (``/props``);
- ``EngineWindow``: vLLM and SGLang, from the engine's running / waiting / KV-cache gauges;
- ``GradientLimit``: anything else, from each call's latency and 429/503 answers.

``CapacityRuntime`` runs them for a real scheduler (a poller thread; ``runtime.py``);
``build.py`` makes them from the configuration. docs/scheduling.md explains the dynamics.
"""

from hermes_agents.capacity.controllers import Controller, EngineSettings, EngineWindow, SlotCount
from hermes_agents.capacity.gradient import GradientLimit, GradientSettings
from hermes_agents.capacity.probes import MEASURING_ADAPTERS, controller_for, probe_for
from hermes_agents.capacity.runtime import AutoBackend, CapacityRuntime
from hermes_agents.capacity.window import (
    Bounds,
    EngineSample,
    LatencySample,
    Load,
    Observation,
    Throttle,
    Window,
)

__all__ = [
    "MEASURING_ADAPTERS",
    "AutoBackend",
    "Bounds",
    "CapacityRuntime",
    "Controller",
    "EngineSample",
    "EngineSettings",
    "EngineWindow",
    "GradientLimit",
    "GradientSettings",
    "LatencySample",
    "Load",
    "Observation",
    "SlotCount",
    "Throttle",
    "Window",
    "controller_for",
    "probe_for",
]
