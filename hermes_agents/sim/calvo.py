"""CALVO micro-benchmark: with KV caches in tiers, order by load + compute, not by prefill.

One LLM engine serves single-call requests of three kinds (equally likely, Poisson arrivals):

| kind | prompt | cached (tier) | KV load | prefill compute |
|---|---|---|---|---|
| ``remote-long`` | 8000 | 7600 (remote) | 0.456 s | 0.040 s |
| ``cpu-mid`` | 3000 | 1500 (cpu) | 0.030 s | 0.150 s |
| ``cold-short`` | 1200 | 0 | 0 | 0.120 s |

(load and compute at the default cost profile: remote 6e-5 s/token, cpu 2e-5, prefill 1e-4).
Each request wants one output token, so its completion time is its time to first token (TTFT).

Three orders, all through the same ``SchedulerCore`` (no demand model: each request is a
one-call app ranked by the estimate it submits, and the policy orders by it):

- ``fifo``: the ``fcfs`` policy;
- ``prefill``: ``mean-srjf`` on the cost of the *uncached prefill tokens alone* (a cost profile
  whose KV load rates are zero): the highly cached remote requests look cheapest;
- ``load-aware``: ``mean-srjf`` on the full cost model, KV load by tier included (CALVO).

SLO attainment (``slo_attainment``, CALVO's second figure): each request's TTFT SLO is its
interference-free TTFT (the kind alone on the engine, ``isolated_ttft_s``) times a factor
drawn from {2, 4, 8}; its deadline is its arrival plus the SLO. Four orders (``SLO_ORDERS``):

- ``fifo`` and ``prefill`` (prefill-only SJF) as above;
- ``edf``: the ``edf`` policy (earliest deadline first; a late request keeps its place);
- ``least-slack``: the ``hermes-ddl`` policy on the load-aware cost: ``slack = deadline -
  T_load - T_compute`` (a one-call app's remaining work is its estimate), a request that can
  no longer make its SLO demoted behind those that can (it still runs, late).

Result (``benchmarks/calvo.py``; 1000 requests at 3.5/s on 4 slots, 5 seeds): ``prefill`` is
worse than ``fifo`` and ``load-aware`` is best, with loading overlapped with compute and with
the coupled behaviour. Limit: with overlap, when the transfer link itself saturates (about
5.5 requests/s here), putting the long loads last leaves the link idle while short requests
compute, and ``load-aware`` falls to ``fifo``'s level: a two-stage order (loads scheduled on
their own) would be needed there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from types import MappingProxyType

import numpy as np

from hermes_agents.cost import KVTier, LLMCost
from hermes_agents.scheduling import BackendLimits, SchedulerCore, Usage, policy_named
from hermes_agents.scheduling.decisions import Grant, Withdrawal
from hermes_agents.scheduling.driver import Driver
from hermes_agents.sim.events import EventLoop
from hermes_agents.sim.job import Job
from hermes_agents.sim.kv import KvMode
from hermes_agents.sim.llm import EngineParams, LlmEngine


@dataclass(frozen=True)
class RequestKind:
    """One kind of request: prompt tokens, cached prefix tokens and the tier they sit in."""

    prompt_tokens: int
    cached_tokens: int
    tier: KVTier


KINDS: Mapping[str, RequestKind] = MappingProxyType(
    {
        "remote-long": RequestKind(8000, 7600, KVTier.REMOTE),
        "cpu-mid": RequestKind(3000, 1500, KVTier.CPU),
        "cold-short": RequestKind(1200, 0, KVTier.GPU),
    }
)
ORDERS = ("fifo", "prefill", "load-aware")
"""The orders compared on mean TTFT (see the module docstring)."""
SLO_ORDERS = ("fifo", "prefill", "edf", "least-slack")
"""The orders compared on TTFT SLO attainment (see the module docstring)."""
SLO_FACTORS = (2.0, 4.0, 8.0)
"""A request's TTFT SLO is its interference-free TTFT times one of these (CALVO's setup)."""
_POLICIES = {
    "fifo": "fcfs",
    "prefill": "mean-srjf",
    "load-aware": "mean-srjf",
    "edf": "edf",
    "least-slack": "hermes-ddl",
}
PREFILL_ONLY = LLMCost(kv_load_s_per_token=dict.fromkeys(KVTier, 0.0))
"""A cost profile that sees only compute: cached tokens look free."""


def estimate_s(order: str, kind: RequestKind, profile: LLMCost) -> float:
    """The cost a request submits under ``order`` (what the policy ranks it by)."""
    pricing = PREFILL_ONLY if order == "prefill" else profile
    return pricing.seconds_one(kind.prompt_tokens, 1, kind.cached_tokens, kind.tier)


def mean_ttft_s(
    order: str,
    *,
    kv_mode: KvMode = KvMode.OVERLAP,
    requests: int = 1000,
    rate_per_s: float = 3.5,
    max_concurrency: int = 4,
    seed: int = 0,
) -> float:
    """Mean TTFT of ``requests`` requests served in ``order`` (one seeded Poisson stream)."""
    bench = _served(order, kv_mode, requests, rate_per_s, max_concurrency, seed)
    return float(np.mean(bench.ttft_s))


def slo_attainment(
    order: str,
    *,
    kv_mode: KvMode = KvMode.OVERLAP,
    requests: int = 1000,
    rate_per_s: float = 3.5,
    max_concurrency: int = 4,
    seed: int = 0,
) -> float:
    """The share of ``requests`` whose TTFT is within its SLO, served in ``order`` (one of
    ``SLO_ORDERS``; the same seeded stream and SLOs for every order)."""
    bench = _served(order, kv_mode, requests, rate_per_s, max_concurrency, seed)
    return float(np.mean(np.array(bench.ttft_s) <= np.array(bench.slo_s)))


def isolated_ttft_s(kind: RequestKind, kv_mode: KvMode = KvMode.OVERLAP) -> float:
    """TTFT of one request of ``kind`` alone on the engine (no interference)."""
    loop = EventLoop()
    done: list[float] = []
    engine = LlmEngine(
        loop, EngineParams.from_profile(LLMCost(), kv_mode=kv_mode), lambda _: done.append(loop.now)
    )
    job = Job(0, kind.prompt_tokens, 1, kind.cached_tokens, kind.tier)
    job.granted_at_s = 0.0
    loop.at(0.0, partial(engine.start, job))
    loop.run()
    return done[0]


def _served(
    order: str,
    kv_mode: KvMode,
    requests: int,
    rate_per_s: float,
    max_concurrency: int,
    seed: int,
) -> _Requests:
    """One seeded Poisson stream of requests (kinds, arrivals, SLO factors), served."""
    rng = np.random.default_rng(seed)
    names = list(KINDS)
    kinds = [KINDS[names[i]] for i in rng.integers(len(names), size=requests).tolist()]
    arrivals = np.cumsum(rng.exponential(1.0 / rate_per_s, requests)).tolist()
    factors = rng.choice(SLO_FACTORS, size=requests).tolist()
    isolated = {kind: isolated_ttft_s(kind, kv_mode) for kind in KINDS.values()}
    bench = _Requests(order, kv_mode, max_concurrency)
    for index, (kind, at_s, factor) in enumerate(zip(kinds, arrivals, factors, strict=True)):
        slo_s = factor * isolated[kind]
        bench.loop.at(at_s, partial(bench.arrive, f"r{index}", kind, slo_s))
    bench.loop.run(settle=bench.settle)
    return bench


class _Requests:
    """Single-call requests through the core onto one engine (see ``mean_ttft_s``)."""

    def __init__(self, order: str, kv_mode: KvMode, max_concurrency: int) -> None:
        self.order = order
        self.profile = LLMCost()
        self.loop = EventLoop()
        policy = policy_named(_POLICIES[order])
        limits = {"llm": BackendLimits(max_concurrency, max_wait_s=None, max_hold_s=None)}
        self.core = SchedulerCore(limits, policy, self.loop.clock)
        self.driver = Driver(self.core, self)
        params = EngineParams.from_profile(self.profile, kv_mode=kv_mode)
        self.engine = LlmEngine(self.loop, params, self.done)
        self.ttft_s: list[float] = []
        self.slo_s: list[float] = []
        self._jobs: dict[int, tuple[str, float, RequestKind, float]] = {}

    def arrive(self, run_id: str, kind: RequestKind, slo_s: float) -> None:
        """A request arrives: a one-call app (deadline: its SLO) that submits its estimate."""
        self.core.start_run(run_id, "request", deadline=self.loop.now + slo_s)
        estimate = estimate_s(self.order, kind, self.profile)
        task_id = self.core.submit(run_id, "llm", estimate_s=estimate)
        self._jobs[task_id] = (run_id, self.loop.now, kind, slo_s)

    def settle(self) -> None:
        """One driver step: start whatever the core admits now (``granted``)."""
        self.driver.run()

    def granted(self, grant: Grant) -> None:
        """The driver's ``Answers``: start the admitted request on the engine."""
        kind = self._jobs[grant.task_id][2]
        job = Job(grant.task_id, kind.prompt_tokens, 1, kind.cached_tokens, kind.tier)
        job.granted_at_s = self.loop.now
        self.engine.start(job)

    def withdrawn(self, withdrawal: Withdrawal) -> None:
        raise RuntimeError(f"a simulated request was withdrawn: {withdrawal}")

    def fail_all(self, reason: str) -> None:
        raise RuntimeError(f"the simulated scheduler failed: {reason}")

    def done(self, job: Job) -> None:
        """Its first (only) token is out: release it and record its TTFT."""
        run_id, arrived_s, kind, slo_s = self._jobs.pop(job.task_id)
        self.core.release(job.task_id, Usage(kind.prompt_tokens, 1, kind.cached_tokens))
        self.core.finish_run(run_id)
        self.ttft_s.append(self.loop.now - arrived_s)
        self.slo_s.append(slo_s)


def compare(
    *,
    kv_mode: KvMode = KvMode.OVERLAP,
    seeds: int = 5,
    requests: int = 1000,
    rate_per_s: float = 3.5,
    max_concurrency: int = 4,
) -> dict[str, float]:
    """Mean TTFT per order, averaged over seeds ``0 .. seeds-1`` (see ``mean_ttft_s``)."""
    return _over_seeds(mean_ttft_s, ORDERS, kv_mode, seeds, requests, rate_per_s, max_concurrency)


def compare_slo(
    *,
    kv_mode: KvMode = KvMode.OVERLAP,
    seeds: int = 5,
    requests: int = 1000,
    rate_per_s: float = 3.5,
    max_concurrency: int = 4,
) -> dict[str, float]:
    """TTFT SLO attainment per order (``SLO_ORDERS``), averaged over seeds ``0 .. seeds-1``."""
    return _over_seeds(
        slo_attainment, SLO_ORDERS, kv_mode, seeds, requests, rate_per_s, max_concurrency
    )


def _over_seeds(
    metric: Callable[..., float],
    orders: tuple[str, ...],
    kv_mode: KvMode,
    seeds: int,
    requests: int,
    rate_per_s: float,
    max_concurrency: int,
) -> dict[str, float]:
    """``metric`` of each order (``mean_ttft_s`` or ``slo_attainment``), mean over the seeds."""
    return {
        order: float(
            np.mean(
                [
                    metric(
                        order,
                        kv_mode=kv_mode,
                        requests=requests,
                        rate_per_s=rate_per_s,
                        max_concurrency=max_concurrency,
                        seed=seed,
                    )
                    for seed in range(seeds)
                ]
            )
        )
        for order in orders
    }
