"""Tiers under a burst on the real llama.cpp server: the critical tier's P95 ACT with and without
a burst of sheddable apps, with and without the headroom rule (issue 17).

Run: ``.venv/bin/python benchmarks/tiers_real.py [--critical 30] [--rate 0.4] [--burst 6]
[--burst-at 5] [--slots 2] [--seed 0]`` (about 4 minutes)

One llama.cpp server (SmolLM2-135M from the local model cache, ``--slots`` slots, one thread)
and, per run, a fresh in-process scheduler with ``gittins+tiers`` and ``--slots`` slots on its
``llm`` backend, the defaults otherwise (30 s wait bound). Apps call the server through the
OpenAI drop-in inside ``scheduler.run(app, tier=...)``:

- critical: ``--critical`` apps arriving as a Poisson stream at ``--rate`` per second (seeded),
  each two chat calls of 16 tokens one after the other;
- sheddable: ``--burst`` apps all arriving at ``--burst-at`` seconds, each two calls of 128
  tokens (``ignore_eos``: the same work every run).

Three runs on the same arrivals: the critical apps alone (``quiet``); with the burst and
``sheddable_share = 1`` (no headroom); with the burst and the default share. ACT is from an
app's planned arrival to its last call's end. Prints one table, with the calls each run's
scheduler granted (every call went through a slot): never a pass/fail test (the machine is
shared and noisy).
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from rich.console import Console
from rich.table import Table

from hermes_agents.local import LlamaServer, local_model_path
from hermes_agents.openai import OpenAI
from hermes_agents.scheduling import BackendLimits
from hermes_agents.scheduling.runtime import LocalScheduler
from hermes_agents.scheduling.tiers import DEFAULT_SHEDDABLE_SHARE

PROMPT = [{"role": "user", "content": "Tell me a long story about a dragon."}]
CALLS_PER_APP = 2
CRITICAL_TOKENS = 16
SHEDDABLE_TOKENS = 128


@dataclass(frozen=True)
class Arrival:
    """One app of the plan: when it arrives (s from the start), its tier and call size."""

    at_s: float
    tier: str
    max_tokens: int


@dataclass(frozen=True)
class Outcome:
    """The ACTs (s) of one run's critical and sheddable apps."""

    critical_s: list[float]
    sheddable_s: list[float]
    granted: int
    """Calls the scheduler granted a slot."""


def plan(args: argparse.Namespace) -> tuple[list[Arrival], list[Arrival]]:
    """The critical stream and the burst."""
    gaps = np.random.default_rng(args.seed).exponential(1 / args.rate, args.critical)
    critical = [Arrival(float(at), "critical", CRITICAL_TOKENS) for at in np.cumsum(gaps)]
    burst = [Arrival(args.burst_at, "sheddable", SHEDDABLE_TOKENS) for _ in range(args.burst)]
    return critical, burst


def one_app(client: OpenAI, scheduler: LocalScheduler, app: Arrival, start: float) -> float:
    """Run ``app`` when it arrives; its ACT."""
    time.sleep(max(0.0, start + app.at_s - time.monotonic()))
    with scheduler.run("chat" if app.tier == "critical" else "batch", tier=app.tier):
        for _ in range(CALLS_PER_APP):
            client.chat.completions.create(
                model="smollm2",  # llama.cpp accepts any id
                messages=PROMPT,  # type: ignore[arg-type]
                max_tokens=app.max_tokens,
                temperature=0,
                extra_body={"ignore_eos": True},
            )
    return time.monotonic() - start - app.at_s


def run(server: LlamaServer, apps: list[Arrival], slots: int, share: float) -> Outcome:
    """All of ``apps`` against ``server`` through a fresh scheduler with ``share``."""
    limits = {"llm": BackendLimits(slots, sheddable_share=share)}
    scheduler = LocalScheduler.in_process(limits, policy="gittins+tiers")
    client = OpenAI(base_url=server.base_url, api_key="local", hermes_scheduler=scheduler)
    start = time.monotonic() + 0.5
    try:
        with ThreadPoolExecutor(max_workers=len(apps)) as pool:
            futures: list[tuple[Arrival, Future[float]]] = [
                (app, pool.submit(one_app, client, scheduler, app, start)) for app in apps
            ]
            acts = [(app.tier, future.result()) for app, future in futures]
        granted = scheduler.core.backends["llm"].granted
    finally:
        scheduler.close()
    return Outcome(
        [act for tier, act in acts if tier == "critical"],
        [act for tier, act in acts if tier == "sheddable"],
        granted,
    )


def table(outcomes: dict[str, Outcome]) -> Table:
    """The runs side by side."""
    quiet = float(np.percentile(outcomes["quiet"].critical_s, 95))
    out = Table(title="critical tier ACT on the real llama.cpp server (s), gittins+tiers")
    for column in ("run", "critical p95", "change", "critical mean", "sheddable mean", "calls"):
        out.add_column(column, justify="left" if column == "run" else "right")
    for name, outcome in outcomes.items():
        p95 = float(np.percentile(outcome.critical_s, 95))
        sheddable = f"{np.mean(outcome.sheddable_s):.1f}" if outcome.sheddable_s else "-"
        out.add_row(
            name,
            f"{p95:.2f}",
            f"{p95 / quiet - 1:+.1%}",
            f"{np.mean(outcome.critical_s):.2f}",
            sheddable,
            str(outcome.granted),
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--critical", type=int, default=30)
    parser.add_argument("--rate", type=float, default=0.4)
    parser.add_argument("--burst", type=int, default=6)
    parser.add_argument("--burst-at", type=float, default=5.0)
    parser.add_argument("--slots", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    critical, burst = plan(args)
    model = local_model_path(progress=True)
    ctx_tokens = 512 * args.slots
    with LlamaServer(model, slots=args.slots, ctx_tokens=ctx_tokens, threads=1) as server:
        run(server, critical[:1], args.slots, 1.0)  # warm up: the model loaded, caches filled
        outcomes = {
            "quiet": run(server, critical, args.slots, 1.0),
            "burst, no headroom": run(server, critical + burst, args.slots, 1.0),
            f"burst, share {DEFAULT_SHEDDABLE_SHARE:g}": run(
                server, critical + burst, args.slots, DEFAULT_SHEDDABLE_SHARE
            ),
        }
    Console().print(table(outcomes))


if __name__ == "__main__":
    main()
