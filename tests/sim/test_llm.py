"""The continuous-batching engine against hand-computed step times."""

from __future__ import annotations

from functools import partial

import pytest

from hermes_agents.cost import LLMCost
from hermes_agents.sim.events import EventLoop
from hermes_agents.sim.job import Job
from hermes_agents.sim.llm import EngineParams, LlmEngine

# step_s(n) = 0.01 + 0.001 n; prefill 1e-4 s per uncached prompt token.
PARAMS = EngineParams(step_base_s=0.01, step_per_seq_s=0.001, prefill_s_per_token=1e-4)


def run_engine(jobs: list[tuple[float, Job]], params: EngineParams = PARAMS) -> dict[int, float]:
    """Start each job at its time; return task id -> finish time."""
    loop = EventLoop()
    finished: dict[int, float] = {}
    engine = LlmEngine(loop, params, lambda job: finished.__setitem__(job.task_id, loop.now))
    for at_s, job in jobs:
        loop.at(at_s, partial(engine.start, job))
    loop.run()
    return finished


def test_one_sequence_prefills_then_decodes_one_token_per_step() -> None:
    # first step: 0.011 + 1000 * 1e-4 = 0.111 (first token); then 9 steps of 0.011
    finished = run_engine([(0.0, Job(1, prompt_tokens=1000, output_tokens=10))])
    assert finished[1] == pytest.approx(0.111 + 9 * 0.011)


def test_a_call_with_no_output_still_takes_its_prefill_step() -> None:
    finished = run_engine([(0.0, Job(1, prompt_tokens=500, output_tokens=0))])
    assert finished[1] == pytest.approx(0.011 + 0.05)


def test_sequences_admitted_together_share_steps_and_the_batch_shrinks_as_they_end() -> None:
    # first step with both: 0.012 + (1000 + 2000) * 1e-4 = 0.312; then steps of 0.012;
    # job 1 (3 tokens) ends after step 3; job 2 (5 tokens) runs 2 more steps of 0.011.
    finished = run_engine(
        [
            (0.0, Job(1, prompt_tokens=1000, output_tokens=3)),
            (0.0, Job(2, prompt_tokens=2000, output_tokens=5)),
        ]
    )
    assert finished[1] == pytest.approx(0.312 + 2 * 0.012)
    assert finished[2] == pytest.approx(0.312 + 2 * 0.012 + 2 * 0.011)


def test_a_sequence_arriving_mid_step_joins_at_the_next_step_boundary() -> None:
    # job 1 alone: steps end at 0.011, 0.022, 0.033, ... (no prompt). Job 2 arrives at 0.015,
    # joins at the boundary 0.022; that step lasts 0.012 + 100 * 1e-4 = 0.022 (ends 0.044).
    finished = run_engine(
        [
            (0.0, Job(1, prompt_tokens=0, output_tokens=100)),
            (0.015, Job(2, prompt_tokens=100, output_tokens=1)),
        ]
    )
    assert finished[2] == pytest.approx(0.044)
    # job 1: 2 steps alone, the joint step (0.022), then 97 steps of 0.011 alone
    assert finished[1] == pytest.approx(0.044 + 97 * 0.011)


def test_from_profile_matches_the_profile_decode_time_at_the_reference_batch() -> None:
    params = EngineParams.from_profile(LLMCost(decode_s_per_token=0.06), reference_batch=64)
    assert params.step_s(64) == pytest.approx(0.06)
    assert params.step_s(1) == pytest.approx(0.225 * 0.06 + 0.775 * 0.06 / 64)
    assert params.prefill_s_per_token == pytest.approx(1e-4)
