"""Backend adapters: warm real servers before an app needs them, and read their state.

One small interface (``BackendAdapter``: ``warm(hint)``, ``state()``, ``close()``) with an
adapter per real system, each speaking that system's own HTTP API:

============  ===============================================================================
``llamacpp``  llama.cpp server: wake a sleeping model (``GET /slots``), ``/props`` state
``vllm``      vLLM: ``/sleep``, ``/wake_up``, ``/is_sleeping``, runtime LoRA, KV prefix warm-up
``sglang``    SGLang: release / resume memory occupation, prefix warm-up, ``/metrics``
``ollama``    Ollama: load with ``keep_alive``, ``/api/ps``
``embeddings``  any OpenAI-compatible embeddings server: one tiny request
``tools``     a user callable or an HTTP hook
``sandbox``   ``ToolSandbox``, a real process pool with a cold start
============  ===============================================================================

``warm`` never raises: failures come back as ``WarmResult(ok=False, error=...)``, are counted
(``adapter.counters``) and logged once per outage. Protocol-faithful fakes of vLLM, SGLang and
Ollama for tests live in ``hermes_agents.backends.testing``.

Example::

    from hermes_agents.backends import adapter_for

    adapter = adapter_for("llamacpp", "http://127.0.0.1:8080")
    adapter.state()        # BackendState(awake=False, waiting=0, running=0, kv_usage=None)
    adapter.warm()         # WarmResult(ok=True, seconds=0.46, error=None)
"""

from hermes_agents.backends.base import (
    AdapterCounters,
    AdapterRegistry,
    BackendAdapter,
    BackendError,
    BackendState,
    FailOpenAdapter,
    WarmResult,
    adapter_for,
    default_registry,
    hint_field,
)
from hermes_agents.backends.embeddings import EmbeddingsAdapter
from hermes_agents.backends.httpbase import HTTPAdapter
from hermes_agents.backends.llamacpp import LlamaCppAdapter
from hermes_agents.backends.ollama import OllamaAdapter
from hermes_agents.backends.sandbox import (
    SandboxAdapter,
    SandboxCrashError,
    SandboxStats,
    ToolSandbox,
)
from hermes_agents.backends.sglang import SGLangAdapter
from hermes_agents.backends.tools import ToolAdapter
from hermes_agents.backends.vllm import VLLMAdapter

__all__ = [
    "AdapterCounters",
    "AdapterRegistry",
    "BackendAdapter",
    "BackendError",
    "BackendState",
    "EmbeddingsAdapter",
    "FailOpenAdapter",
    "HTTPAdapter",
    "LlamaCppAdapter",
    "OllamaAdapter",
    "SGLangAdapter",
    "SandboxAdapter",
    "SandboxCrashError",
    "SandboxStats",
    "ToolAdapter",
    "ToolSandbox",
    "VLLMAdapter",
    "WarmResult",
    "adapter_for",
    "default_registry",
    "hint_field",
]
