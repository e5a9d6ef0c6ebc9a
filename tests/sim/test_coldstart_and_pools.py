"""Cold start then sleep after idle; pools keep to their capacity."""

from __future__ import annotations

import pytest

from hermes_agents.sim.coldstart import ColdStart
from hermes_agents.sim.events import EventLoop
from hermes_agents.sim.job import Done, Job, Server
from hermes_agents.sim.pools import Pool


def sleepy(loop: EventLoop, idle_sleep_s: float | None, log: list[Job]) -> ColdStart:
    """A 1-worker pool with a 3 s cold start."""

    def make(done: Done) -> Server:
        return Pool(loop, 1, done)

    return ColdStart(loop, 3.0, idle_sleep_s, log.append, make)


def start_at(loop: EventLoop, at_s: float, backend: ColdStart | Pool, job: Job) -> None:
    def start() -> None:
        job.granted_at_s = loop.now
        backend.start(job)

    loop.at(at_s, start)


def test_cold_start_then_sleep_after_idle_then_wake_again() -> None:
    loop, log = EventLoop(), list[Job]()
    backend = sleepy(loop, 10.0, log)
    start_at(loop, 0.0, backend, Job(1, seconds=1.0))  # wakes 0-3, runs 3-4, sleeps at 14
    start_at(loop, 8.0, backend, Job(2, seconds=1.0))  # awake: runs 8-9, sleeps at 19
    start_at(loop, 30.0, backend, Job(3, seconds=2.0))  # asleep: wakes 30-33, runs 33-35
    loop.run()
    assert [(j.task_id, j.finished_at_s, j.cold_wait_s) for j in log] == [
        (1, 4.0, 3.0),
        (2, 9.0, 0.0),
        (3, 35.0, 3.0),
    ]
    assert backend.wakeups == 2
    assert not backend.awake
    # idle while awake: 4-8, 9-19 (then asleep), 35-45
    assert backend.warm_waste_s == pytest.approx(4.0 + 10.0 + 10.0)


def test_calls_given_while_waking_wait_for_the_same_wake_up() -> None:
    loop, log = EventLoop(), list[Job]()
    backend = sleepy(loop, None, log)
    start_at(loop, 0.0, backend, Job(1, seconds=1.0))
    start_at(loop, 2.0, backend, Job(2, seconds=1.0))
    loop.run()
    assert [(j.finished_at_s, j.cold_wait_s) for j in log] == [(4.0, 3.0), (5.0, 1.0)]
    assert backend.wakeups == 1
    backend.close(20.0)  # never sleeps: idle from 5 to the end counts as warm waste
    assert backend.warm_waste_s == pytest.approx(15.0)


def test_a_pool_runs_at_most_capacity_calls_and_queues_the_rest() -> None:
    loop = EventLoop()
    finished: list[tuple[int, float]] = []
    pool = Pool(loop, 2, lambda job: finished.append((job.task_id, loop.now)))
    for task_id, seconds in [(1, 2.0), (2, 3.0), (3, 1.0), (4, 1.0)]:
        pool.start(Job(task_id, seconds=seconds))
    loop.run()
    assert finished == [(1, 2.0), (2, 3.0), (3, 3.0), (4, 4.0)]
    assert pool.peak_busy == 2
