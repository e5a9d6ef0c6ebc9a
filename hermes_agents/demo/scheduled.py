"""The demo's scheduled runs: the example apps instrumented, their calls limited to the chat
server's slots, in arrival order (``fcfs_scheduler``: what an ``asyncio.Semaphore`` per backend
gives) or in Gittins order with the sleeping embeddings server prewarmed (``hermes_scheduler``).

Both use the same limits and the same scheduled path, so the difference between their runs is
the order (and prewarming) alone.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from hermes_agents.backends.llamacpp import LlamaCppAdapter
from hermes_agents.capacity import CapacityRuntime
from hermes_agents.capacity.build import auto_backend, run_in_process
from hermes_agents.config import BackendConfig
from hermes_agents.cost import CostModel, LLMCost
from hermes_agents.extras import needs_extra
from hermes_agents.langchain import scheduled
from hermes_agents.langgraph import InstrumentedGraph, instrument
from hermes_agents.local import LlamaServer
from hermes_agents.pdgraph import PDGraph, StageKind, Visit
from hermes_agents.prewarm import WarmupSpec
from hermes_agents.scheduling import LocalScheduler
from hermes_agents.scheduling.models import AppModels
from hermes_agents.scheduling.prewarming import PrewarmSetup
from hermes_agents.store import ProfileStore

LOCAL_LLM_COST = LLMCost(prefill_s_per_token=1e-3, decode_s_per_token=1.3e-2)
"""SmolLM2-135M on a 2-core CPU through llama.cpp: ~1 ms per prompt token, ~75 tokens/s."""
EMBEDDINGS_SLEEP_S = 1
"""The embeddings server unloads its model after this many idle seconds."""
EMBEDDINGS_WARMUP_S = 0.5
"""What a reload of the sleeping embeddings server costs (SmolLM2 from the page cache: we
measured 0.40 to 0.64 s on the 2-core development box)."""
EMBEDDINGS_THRESHOLD = 0.3
"""The prewarm threshold K of the embeddings server. A wake reloads a 98 MB model from the
page cache and keeps it for one idle second, so it is cheap, and a lower K than the default
0.5 is what docs/prewarming.md advises for cheap warm-ups. With partial credit (a wake that
finishes after the app arrives still hides part of the reload; ``PrewarmSetup``'s default),
rag's draft, which is about as long as the reload or longer, earns a wake."""


def apps_module() -> Any:
    """``hermes_agents.apps`` (its LangChain clients come with the ``local`` extra)."""
    with needs_extra("local"):
        from hermes_agents import apps
    return apps


def _local_cost() -> CostModel:
    return CostModel(llm={"llm": LOCAL_LLM_COST})


def _limited(
    slots: int,
    policy: str,
    models: AppModels,
    prewarm: PrewarmSetup | None = None,
    chat_url: str | None = None,
) -> LocalScheduler:
    """The examples' limits (``slots`` on the chat server) under ``policy``; with ``chat_url``
    the chat backend's capacity is ``auto``: the server's own slot count, read from it."""
    scheduler = LocalScheduler.in_process(
        apps_module().example_limits(llm_slots=slots),
        policy=policy,
        models=models,
        cost=models.cost,
        prewarm=prewarm,
    )
    if chat_url is not None:
        chat = BackendConfig("llm", StageKind.LLM, base_url=chat_url, adapter="llamacpp")
        runtime = CapacityRuntime([auto_backend(chat, time.monotonic)])
        run_in_process(scheduler, runtime, first_read=True)
    return scheduler


def fcfs_scheduler(slots: int, chat_url: str | None = None) -> LocalScheduler:
    """The chat server's ``slots`` handed out in arrival order, nothing learned or stored, no
    prewarming: the limit alone (``chat_url``: the slots read from the server, ``auto``)."""
    return _limited(slots, "fcfs", AppModels(_local_cost()), chat_url=chat_url)


def hermes_scheduler(
    slots: int,
    store: ProfileStore,
    embeddings: LlamaServer | None = None,
    chat_url: str | None = None,
    policy: str = "gittins",
) -> LocalScheduler:
    """Gittins order (or ``policy``: ``hermes demo --deadlines``) on the chat server
    (``slots`` at a time; ``chat_url``: as many as it says it has, ``auto``), learning into
    ``store``; with ``embeddings``, that sleeping server is prewarmed when an app will likely
    need it."""
    models = AppModels(_local_cost(), refresh_every=4, min_refresh_s=1.0, store=store)
    prewarm = None
    if embeddings is not None:
        spec = WarmupSpec(
            "embeddings",
            warmup_s=EMBEDDINGS_WARMUP_S,
            threshold=EMBEDDINGS_THRESHOLD,
            idle_sleep_s=EMBEDDINGS_SLEEP_S,
        )
        prewarm = PrewarmSetup(
            {"embeddings": LlamaCppAdapter(embeddings.url)}, {"embeddings": spec}
        )
    return _limited(slots, policy, models, prewarm, chat_url)


def instrumented_apps(
    names: Iterable[str], bare: Any, scheduler: LocalScheduler
) -> dict[str, InstrumentedGraph]:
    """The example apps on ``bare``'s models (a ``Toolkit``), scheduled by ``scheduler``
    (backends ``llm`` and ``embeddings``) and instrumented, by name."""
    examples = apps_module()
    toolkit = examples.Toolkit(
        chat=scheduled(bare.chat, backend="llm", scheduler=scheduler),
        embeddings=scheduled(bare.embeddings, backend="embeddings", scheduler=scheduler),
        scheduler=scheduler,
    )
    return {
        name: instrument(examples.EXAMPLES[name].build(toolkit), name=name, scheduler=scheduler)
        for name in names
    }


def fits(run: Sequence[Visit], prior: PDGraph) -> bool:
    """Whether a stored run can come from the app as it is now: it starts at the graph's
    entry and visits only its nodes (an older version of the app may have had other nodes)."""
    return run[0].stage == prior.entry and all(visit.stage in prior.stages for visit in run)


def forget_stale(store: ProfileStore, priors: Mapping[str, PDGraph | None]) -> list[str]:
    """Forget the stored runs of every app whose runs no longer fit its graph; their names."""
    stale = []
    for name, prior in priors.items():
        if prior is not None and not all(fits(run, prior) for run in store.runs(name)):
            store.forget(name)
            stale.append(name)
    return stale
