"""Built-in workloads, by name.

``paper-mix``: the nine application classes of the Hermes benchmark with their measured stage
profiles and mix weights (see docs/concepts.md); arrivals are Poisson at the rate of load 1
(200 apps over 30 minutes).

``paper-mix-cold``: the same mix with backends that sleep when idle and pay a cold start to
wake (the prewarming benchmark; docs/prewarming.md says where the numbers come from): the tool
sandbox ``docker`` (2 s container start), the ``dnn`` expert models of HuggingGPT (5 s to load
a model onto the GPU) and ``llm-verify``, a second LLM that FacTool-KBQA's ``verifies`` stage
calls (3 s: a model woken from vLLM sleep mode, or a LoRA adapter loaded); each sleeps after
30 idle seconds (Knative's scale-to-zero grace period).

``agents-kv``: four agent classes (retrieval QA, a tool-calling loop, map-reduce summaries,
code-and-test) on an engine whose batch is bound by its KV cache, not its slots: a larger
model on one GPU (prefill 2e-4 s/token, 0.05 s per token at 64 sequences) with 48k tokens of
KV cache and vLLM's stock scheduler (``engine``: 256 sequences, priority queue, preemption
under KV pressure only). How many calls fit depends on their contexts, so no fixed
``max_concurrency`` is right for every mix; the workload sets 32. 300 apps at 0.3 apps/s.
"""

from __future__ import annotations

from importlib import resources

from hermes_agents.errors import ValidationError
from hermes_agents.pdgraph.workload import Workload

BUILTIN = ("paper-mix", "paper-mix-cold", "agents-kv")


def builtin(name: str, *, seed: int = 0) -> Workload:
    """The built-in workload called ``name``."""
    if name not in BUILTIN:
        raise ValidationError(
            f"no built-in workload {name!r}; use one of {list(BUILTIN)} "
            "or a path to a workload file"
        )
    text = resources.files(__package__).joinpath(f"{name}.json").read_bytes()
    return Workload.from_json(text, seed=seed)
