"""The engine with limits of its own: batch and KV bounds, its queue order, preemption triggers
and costs, against hand-computed step times (and against the unbounded model)."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hermes_agents.engine_limits import EngineLimits, Preempt, PreemptCost, Queueing
from hermes_agents.errors import ValidationError
from hermes_agents.sim.bounded import BoundedEngine
from hermes_agents.sim.events import EventLoop
from hermes_agents.sim.job import Job
from hermes_agents.sim.llm import EngineParams, LlmEngine

# step_s(n) = 0.01 + 0.001 n; prefill 1e-4 s per uncached prompt token.
PARAMS = EngineParams(step_base_s=0.01, step_per_seq_s=0.001, prefill_s_per_token=1e-4)
PRIORITY = Queueing.PRIORITY


def run(
    jobs: list[tuple[float, Job]], limits: EngineLimits
) -> tuple[dict[int, float], BoundedEngine]:
    """Start each job at its time; return task id -> finish time, and the engine."""
    loop = EventLoop()
    finished: dict[int, float] = {}
    engine = BoundedEngine(
        loop, PARAMS, limits, lambda job: finished.__setitem__(job.task_id, loop.now)
    )
    for at_s, job in jobs:
        loop.at(at_s, partial(engine.start, job))
    loop.run()
    return finished, engine


def order(finished: dict[int, float]) -> list[int]:
    return sorted(finished, key=lambda task: finished[task])


def test_a_full_batch_queues_in_the_engine_first_come_first_served() -> None:
    jobs = [(0.0, Job(task, output_tokens=3, priority=10.0 - task)) for task in (1, 2, 3)]
    finished, engine = run(jobs, EngineLimits(max_num_seqs=1))
    assert order(finished) == [1, 2, 3]  # priorities are ignored in fcfs mode
    # each runs alone: 3 steps of 0.011, one after the other
    assert finished[3] == pytest.approx(9 * 0.011)
    assert engine.peak_waiting == 2
    assert engine.preemptions == 0


def test_priority_scheduling_orders_the_waiting_queue_lower_first_ties_by_arrival() -> None:
    jobs = [
        (0.0, Job(1, output_tokens=3, priority=5.0)),
        (0.0, Job(2, output_tokens=3, priority=7.0)),
        (0.0, Job(3, output_tokens=3, priority=1.0)),
        (0.0, Job(4, output_tokens=3, priority=7.0)),
    ]
    finished, _ = run(jobs, EngineLimits(max_num_seqs=1, scheduling=PRIORITY))
    # job 1 joined an empty engine at once; then 3 (priority 1), then 2 and 4 by arrival
    assert order(finished) == [1, 3, 2, 4]


def test_stock_trigger_never_preempts_for_a_full_batch() -> None:
    long = Job(1, output_tokens=100, priority=50.0)
    urgent = Job(2, output_tokens=1, priority=0.0)
    limits = EngineLimits(max_num_seqs=1, scheduling=PRIORITY, preempt=Preempt.KV)
    finished, engine = run([(0.0, long), (0.05, urgent)], limits)
    assert order(finished) == [1, 2]
    assert engine.preemptions == 0


def test_the_batch_trigger_preempts_the_worst_running_for_a_better_waiting_one() -> None:
    long = Job(1, prompt_tokens=100, output_tokens=100, priority=50.0)
    urgent = Job(2, output_tokens=1, priority=0.0)
    limits = EngineLimits(max_num_seqs=1, scheduling=PRIORITY, preempt=Preempt.BATCH)
    finished, engine = run([(0.0, long), (0.05, urgent)], limits)
    assert order(finished) == [2, 1]
    assert engine.preemptions == 1
    # job 1 ran its first step (0.011 + 0.01 prefill) and 3 more to 0.054 (5 steps done by
    # the boundary after 0.05: 0.021, 0.032, 0.043, 0.054); job 2 runs one step to 0.065
    assert finished[2] == pytest.approx(0.021 + 3 * 0.011 + 0.011)
    # recompute: job 1's 100 prompt + 4 generated tokens are prefilled again
    assert engine.recomputed_tokens == 104


def test_a_waiting_sequence_never_preempts_an_equal_or_better_one() -> None:
    limits = EngineLimits(max_num_seqs=1, scheduling=PRIORITY, preempt=Preempt.BATCH)
    jobs = [
        (0.0, Job(1, output_tokens=50, priority=3.0)),
        (0.05, Job(2, output_tokens=1, priority=3.0)),
    ]
    finished, engine = run(jobs, limits)
    assert order(finished) == [1, 2]
    assert engine.preemptions == 0


def kv_pair(priority_1: float, priority_2: float) -> list[tuple[float, Job]]:
    """Two sequences of 40 prompt + 30 output tokens: 140 tokens at their ends."""
    return [
        (0.0, Job(1, prompt_tokens=40, output_tokens=30, priority=priority_1)),
        (0.0, Job(2, prompt_tokens=40, output_tokens=30, priority=priority_2)),
    ]


def test_kv_pressure_preempts_the_lowest_priority_running_sequence() -> None:
    limits = EngineLimits(kv_cache_tokens=100, scheduling=PRIORITY, preempt=Preempt.KV)
    finished, engine = run(kv_pair(9.0, 1.0), limits)
    assert engine.preemptions >= 1
    assert order(finished) == [2, 1]  # job 1 (worse priority) was the victim


def test_kv_pressure_in_fcfs_mode_preempts_the_last_admitted() -> None:
    limits = EngineLimits(kv_cache_tokens=100, scheduling=Queueing.FCFS, preempt=Preempt.KV)
    finished, engine = run(kv_pair(1.0, 9.0), limits)
    assert engine.preemptions >= 1
    assert order(finished) == [1, 2]


def test_without_preemption_a_sequence_waits_until_its_whole_context_fits() -> None:
    limits = EngineLimits(kv_cache_tokens=100, preempt=Preempt.OFF)
    finished, engine = run(kv_pair(0.0, 0.0), limits)
    assert engine.preemptions == 0
    # job 2 joins only when job 1 has ended: 0.011 + 0.004 prefill, 29 steps of 0.011
    first_s = 0.015 + 29 * 0.011
    assert finished[1] == pytest.approx(first_s)
    assert finished[2] == pytest.approx(first_s + 0.015 + 29 * 0.011)


def test_swapping_costs_its_context_out_and_back_in() -> None:
    swap = 1e-3
    limits = EngineLimits(
        max_num_seqs=1,
        scheduling=PRIORITY,
        preempt=Preempt.BATCH,
        preempt_cost=PreemptCost.SWAP,
        swap_s_per_token=swap,
    )
    long = Job(1, prompt_tokens=100, output_tokens=10, priority=50.0)
    urgent = Job(2, output_tokens=1, priority=0.0)
    finished, engine = run([(0.0, long), (0.015, urgent)], limits)
    # job 1: its first step ends at 0.021 (one token); swapped out (101 tokens) in the step
    # that job 2 then runs alone
    assert engine.swapped_tokens == 101
    assert engine.recomputed_tokens == 0
    urgent_end = 0.021 + 0.011 + 101 * swap
    assert finished[2] == pytest.approx(urgent_end)
    # back in: 101 tokens in its first step, no prefill again; 9 tokens left
    assert finished[1] == pytest.approx(urgent_end + 0.011 + 101 * swap + 8 * 0.011)


def test_a_sequence_larger_than_the_cache_runs_alone() -> None:
    limits = EngineLimits(kv_cache_tokens=10, scheduling=PRIORITY)
    finished, _ = run([(0.0, Job(1, prompt_tokens=50, output_tokens=5))], limits)
    assert 1 in finished


def test_without_binding_limits_it_serves_exactly_like_the_unbounded_engine() -> None:
    rng = np.random.default_rng(7)
    jobs = [
        (float(at), Job(task, prompt_tokens=int(p), output_tokens=int(o)))
        for task, (at, p, o) in enumerate(
            zip(
                np.sort(rng.uniform(0, 2, 40)),
                rng.integers(0, 500, 40),
                rng.integers(1, 60, 40),
                strict=True,
            )
        )
    ]
    loop = EventLoop()
    legacy: dict[int, float] = {}
    engine = LlmEngine(loop, PARAMS, lambda job: legacy.__setitem__(job.task_id, loop.now))
    for at_s, job in jobs:
        loop.at(at_s, partial(engine.start, Job(job.task_id, job.prompt_tokens, job.output_tokens)))
    loop.run()
    bounded, _ = run(jobs, EngineLimits(max_num_seqs=1000))
    assert bounded.keys() == legacy.keys()
    for task, at_s in legacy.items():
        assert bounded[task] == pytest.approx(at_s)


def test_limits_are_validated_with_the_field_named() -> None:
    with pytest.raises(ValidationError, match="max_num_seqs"):
        EngineLimits(max_num_seqs=0)
    with pytest.raises(ValidationError, match="preempt"):
        EngineLimits(preempt="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"engine.*kv_cache_tokens"):
        EngineLimits.from_mapping({"kv_cache_tokens": -5}, "backend 'llm'")
    with pytest.raises(ValidationError, match="unknown fields"):
        EngineLimits.from_mapping({"max_seqs": 5}, "backend 'llm'")
    limits = EngineLimits(max_num_seqs=8, kv_cache_tokens=1000, scheduling=PRIORITY)
    assert EngineLimits.from_mapping(limits.to_mapping()) == limits


@settings(max_examples=60, deadline=None)
@given(
    jobs=st.lists(
        st.tuples(
            st.floats(0, 2),
            st.integers(0, 400),
            st.integers(0, 40),
            st.sampled_from([0.0, 1.0, 5.0, 9.0]),
        ),
        min_size=1,
        max_size=30,
    ),
    seqs=st.integers(1, 6),
    kv=st.one_of(st.none(), st.integers(50, 3000)),
    scheduling=st.sampled_from(list(Queueing)),
    preempt=st.sampled_from(list(Preempt)),
    cost=st.sampled_from(list(PreemptCost)),
)
def test_every_call_finishes_exactly_once_whatever_the_limits(
    jobs: list[tuple[float, int, int, float]],
    seqs: int,
    kv: int | None,
    scheduling: Queueing,
    preempt: Preempt,
    cost: PreemptCost,
) -> None:
    limits = EngineLimits(seqs, kv, scheduling, preempt, cost, preempt_threshold=1.0)
    loop = EventLoop()
    finished: list[int] = []
    engine = BoundedEngine(loop, PARAMS, limits, lambda job: finished.append(job.task_id))
    for task, (at_s, prompt, output, priority) in enumerate(jobs):
        job = Job(task, prompt_tokens=prompt, output_tokens=output, priority=priority)
        loop.at(at_s, partial(engine.start, job))
    loop.run()
    assert sorted(finished) == list(range(len(jobs)))
    assert engine.peak_running <= seqs
    assert (engine.running, engine.waiting) == (0, 0)
    if preempt == Preempt.OFF or (kv is None and preempt == Preempt.KV):
        assert engine.preemptions == 0
