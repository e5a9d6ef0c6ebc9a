"""``auto`` against the vLLM fake's metrics under a changing load (fake clock, no threads).

Forty closed-loop clients keep calls queued in a real ``SchedulerCore``; every grant becomes a
request in the fake engine (``FakeEngine``: a batch of ``max_num_seqs``, a KV cache, its own
FCFS queue), which ``FakeVLLM`` reports on ``/metrics`` exactly as vLLM names it; the
``VLLMAdapter`` reads it once a second through ``probe_for`` and ``CapacityRuntime`` moves the
core's window. The load changes twice: long prompts make the KV cache the limit, then short
ones give the batch back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import mean

import numpy as np
import pytest

from hermes_agents.backends.testing import FakeEngine, FakeSGLang, FakeVLLM
from hermes_agents.capacity import AutoBackend, Bounds, CapacityRuntime, EngineWindow, probe_for
from hermes_agents.scheduling import BackendLimits, SchedulerCore, policy_named
from hermes_agents.scheduling.state import Usage
from tests.backends.helpers import FakeClock

TICK_S = 0.1
CLIENTS = 40


@dataclass
class ClosedLoop:
    """Clients that each keep one call in the scheduler, and the engine that serves them."""

    core: SchedulerCore
    engine: FakeEngine
    clock: FakeClock
    tokens: int = 1000
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(7))
    runs: int = 0
    served: int = 0
    trace: list[tuple[int, int, int]] = field(default_factory=list)
    """(window, engine running, engine waiting) after each poll."""

    def submit(self) -> None:
        self.runs += 1
        run = f"r{self.runs}"
        self.core.start_run(run, "chat")
        self.core.submit(run, "vllm", stage="answer", tokens=self.tokens)

    def admit(self) -> None:
        for grant in self.core.step().grants:
            work_s = float(self.rng.uniform(1.0, 3.0))  # calls of different lengths
            self.engine.add(str(grant.task_id), self.tokens, work_s)

    def serve(self, seconds: float, runtime: CapacityRuntime) -> None:
        for tick in range(round(seconds / TICK_S)):
            self.clock.advance(TICK_S)
            for done in self.engine.advance(TICK_S):
                task = self.core.tasks[int(done)]
                self.core.release(task.task_id, Usage(self.tokens, 10, 0, 2.0))
                self.core.finish_run(task.run.run_id)
                self.served += 1
                self.submit()
            self.admit()  # the engine sees the new calls before it is read
            if tick % round(1.0 / TICK_S) == 0:
                runtime.poll()
                window = self.core.backends["vllm"].limits.max_concurrency
                self.trace.append((window, self.engine.running, self.engine.waiting))
            self.admit()


def _setup(fake: FakeVLLM | FakeSGLang, adapter: str) -> tuple[ClosedLoop, CapacityRuntime]:
    clock = FakeClock()
    engine = fake.engine if isinstance(fake, FakeVLLM) else None
    assert engine is not None
    core = SchedulerCore({"vllm": BackendLimits(4, max_wait_s=None)}, policy_named("fcfs"), clock)
    probed = probe_for(adapter, "http://engine:8000", name="vllm", transport=fake.transport())
    assert probed is not None
    probe, _ = probed
    window = EngineWindow(Bounds(max=128), clock)
    runtime = CapacityRuntime([AutoBackend("vllm", window, probe, poll_s=1.0)], clock=clock)
    runtime.attach(core)
    runtime.apply = lambda backend, size, why: core.set_capacity(backend, size, why)
    loop = ClosedLoop(core, engine, clock)
    for _ in range(CLIENTS):
        loop.submit()
    loop.admit()
    return loop, runtime


def _settled(trace: list[tuple[int, int, int]]) -> tuple[list[int], float, float]:
    tail = trace[-20:]
    return [w for w, _, _ in tail], mean(r for _, r, _ in tail), mean(q for _, _, q in tail)


def _assert_settled(trace: list[tuple[int, int, int]], capacity: int) -> None:
    """Over the last 20 s: the window at the engine's capacity (or probing just above it), its
    batch at least 95% full, its own queue under one request on average."""
    windows, running, waiting = _settled(trace)
    assert all(capacity <= w <= capacity + 2 for w in windows), windows
    assert running >= 0.95 * capacity, running
    assert waiting <= 1.0, waiting


@pytest.mark.parametrize("kv_metric", ["vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"])
def test_auto_converges_to_the_engine_batch_under_a_changing_load(kv_metric: str) -> None:
    engine = FakeEngine(max_num_seqs=12, kv_cache_tokens=100_000)
    loop, runtime = _setup(FakeVLLM(engine=engine, kv_metrics=(kv_metric,)), "vllm")

    loop.serve(60, runtime)  # short prompts: the batch (12 sequences) is the limit
    _assert_settled(loop.trace, 12)

    loop.trace.clear()
    loop.tokens = 16_000  # long prompts: six fit in the KV cache
    loop.serve(60, runtime)
    _assert_settled(loop.trace, 6)

    loop.trace.clear()
    loop.tokens = 1000  # the batch is back
    loop.serve(60, runtime)
    _assert_settled(loop.trace, 12)
    reason = loop.core.backends["vllm"].capacity_reason
    assert reason is not None
    assert reason.startswith("auto (engine): ")
    assert loop.core.backends["vllm"].capacity_changes >= 4


def test_a_fixed_cap_too_high_leaves_the_order_to_the_engine() -> None:
    """The problem ``auto`` solves, measured the same way: a cap of 40 on a 12-sequence
    engine keeps 28 calls in the engine's own FCFS queue, where our order no longer applies."""
    engine = FakeEngine(max_num_seqs=12, kv_cache_tokens=100_000)
    loop, runtime = _setup(FakeVLLM(engine=engine), "vllm")
    runtime.backends.clear()  # no auto: the cap stays where it is set
    loop.core.set_capacity("vllm", 40)
    loop.admit()
    loop.serve(30, runtime)
    _, running, waiting = _settled(loop.trace)
    assert running == 12
    assert waiting == 28
