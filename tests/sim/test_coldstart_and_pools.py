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


class Events:
    """A ``ColdStartListener`` that writes down what it hears."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, float]] = []

    def warmed(self, backend: str, now_s: float) -> None:
        self.seen.append(("warmed", now_s))

    def idle(self, backend: str, now_s: float) -> None:
        self.seen.append(("idle", now_s))

    def slept(self, backend: str, now_s: float) -> None:
        self.seen.append(("slept", now_s))


def test_a_hinted_wake_serves_the_next_call_at_once_and_sleeps_when_unused() -> None:
    loop, log = EventLoop(), list[Job]()
    backend = sleepy(loop, 10.0, log)
    backend.listener = events = Events()

    def wake() -> None:
        assert backend.wake()

    loop.at(0.0, wake)  # awake at 3
    start_at(loop, 5.0, backend, Job(1, seconds=1.0))  # warm: runs 5-6, sleeps at 16
    loop.at(20.0, wake)  # awake at 23, unused, sleeps at 33
    loop.run()
    assert [(j.finished_at_s, j.cold_wait_s) for j in log] == [(6.0, 0.0)]
    assert (backend.wakeups, backend.hinted_wakeups) == (2, 2)
    assert backend.warm_waste_s == pytest.approx(2.0 + 10.0 + 10.0)
    assert events.seen == [
        ("warmed", 3.0),
        ("idle", 3.0),
        ("idle", 6.0),
        ("slept", 16.0),
        ("warmed", 23.0),
        ("idle", 23.0),
        ("slept", 33.0),
    ]


def test_wake_is_a_no_op_when_awake_and_keep_awake_postpones_the_sleep() -> None:
    loop, log = EventLoop(), list[Job]()
    backend = sleepy(loop, 10.0, log)
    assert backend.waking is False
    start_at(loop, 0.0, backend, Job(1, seconds=1.0))  # wakes 0-3, runs 3-4, sleep due at 14
    loop.at(1.0, lambda: backend.keep_awake(2.0))  # waking; earlier than any sleep: no change
    loop.at(8.0, lambda: backend.keep_awake(20.0))  # idle: the sleep moves from 14 to 20

    def wake_again() -> None:
        assert not backend.wake()  # already awake: nothing to do

    loop.at(9.0, wake_again)
    start_at(loop, 19.0, backend, Job(2, seconds=1.0))  # still awake: no wait
    loop.run()
    assert [(j.finished_at_s, j.cold_wait_s) for j in log] == [(4.0, 3.0), (20.0, 0.0)]
    assert backend.wakeups == 1
    # idle 4-19, then 20-30 (the keep-awake ended at 20, then the normal 10 s)
    assert backend.warm_waste_s == pytest.approx(15.0 + 10.0)
