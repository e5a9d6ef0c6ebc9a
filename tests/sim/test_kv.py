"""KV tiers: load times by tier, the FIFO link, and overlap versus coupled loading."""

from __future__ import annotations

import pytest

from hermes_agents.cost import KVTier, LLMCost
from hermes_agents.sim.events import EventLoop
from hermes_agents.sim.job import Job
from hermes_agents.sim.kv import KvMode, load_seconds
from hermes_agents.sim.llm import EngineParams, LlmEngine

RATES = LLMCost().kv_load_s_per_token  # gpu 0, cpu 2e-5, remote 6e-5 s/token


def test_load_seconds_by_tier_clip_cached_to_the_prompt() -> None:
    assert load_seconds(Job(1, 1000, 1, 800, KVTier.GPU), RATES) == 0.0
    assert load_seconds(Job(1, 1000, 1, 800, KVTier.CPU), RATES) == pytest.approx(0.016)
    assert load_seconds(Job(1, 1000, 1, 5000, KVTier.REMOTE), RATES) == pytest.approx(0.06)


def finish_times(mode: KvMode) -> dict[int, float]:
    """Job 1 decodes 100 tokens from t=0; job 2 (10k cached tokens in a remote pool,
    1000 uncached) is admitted at t=0.0505, mid-step."""
    params = EngineParams(
        step_base_s=0.01, step_per_seq_s=0.0, prefill_s_per_token=1e-4, kv_mode=mode
    )
    loop = EventLoop()
    finished: dict[int, float] = {}
    engine = LlmEngine(loop, params, lambda job: finished.__setitem__(job.task_id, loop.now))
    loop.at(0.0, lambda: engine.start(Job(1, prompt_tokens=0, output_tokens=100)))
    remote = Job(2, prompt_tokens=11_000, output_tokens=1, cached_tokens=10_000)
    remote.tier = KVTier.REMOTE
    loop.at(0.0505, lambda: engine.start(remote))
    loop.run()
    return finished


def test_overlap_loads_while_the_batch_keeps_decoding() -> None:
    # load 10_000 * 6e-5 = 0.6 s on the link (ready at 0.6505); joins at the boundary 0.66;
    # its step lasts 0.01 + 1000 * 1e-4 = 0.11 (first and only token at 0.77).
    finished = finish_times(KvMode.OVERLAP)
    assert finished[2] == pytest.approx(0.77)
    # job 1 lost only the prefill time of job 2's step: 100 steps of 0.01 plus 0.1
    assert finished[1] == pytest.approx(1.0 + 0.1)


def test_coupled_loads_inside_the_step_and_stalls_the_batch() -> None:
    # job 2 joins at the boundary 0.06; its step lasts 0.01 + 0.1 + 0.6 = 0.71 (ends 0.77)
    finished = finish_times(KvMode.COUPLED)
    assert finished[2] == pytest.approx(0.77)
    # job 1 waits for the transfer too: 100 steps of 0.01, plus 0.1 prefill and 0.6 load
    assert finished[1] == pytest.approx(1.0 + 0.1 + 0.6)


def test_the_link_moves_one_cache_at_a_time_in_admission_order() -> None:
    params = EngineParams(step_base_s=0.01, step_per_seq_s=0.0, prefill_s_per_token=0.0)
    loop = EventLoop()
    finished: dict[int, float] = {}
    engine = LlmEngine(loop, params, lambda job: finished.__setitem__(job.task_id, loop.now))
    for task_id in (1, 2):
        job = Job(task_id, prompt_tokens=1000, output_tokens=1, cached_tokens=1000)
        job.tier = KVTier.CPU  # 0.02 s each
        engine.start(job)
    loop.run()
    assert finished[1] == pytest.approx(0.03)  # loaded at 0.02, one step
    assert finished[2] == pytest.approx(0.05)  # loaded at 0.04, one step
    assert engine.loader.busy_s == pytest.approx(0.04)
