"""The event loop: time order, deterministic ties, cancellation, one settle per instant."""

from __future__ import annotations

import pytest

from hermes_agents.errors import ValidationError
from hermes_agents.sim.events import EventLoop


def test_events_run_in_time_order_and_ties_in_scheduling_order() -> None:
    loop = EventLoop()
    seen: list[str] = []
    loop.at(2.0, lambda: seen.append("c"))
    loop.at(1.0, lambda: seen.append("a"))
    loop.at(1.0, lambda: seen.append("b"))
    loop.run()
    assert seen == ["a", "b", "c"]
    assert loop.now == 2.0


def test_a_cancelled_timer_does_not_run() -> None:
    loop = EventLoop()
    seen: list[int] = []
    timer = loop.after(1.0, lambda: seen.append(1))
    loop.after(2.0, lambda: seen.append(2))
    timer.cancel()
    loop.run()
    assert seen == [2]


def test_settle_runs_once_per_instant_after_its_events() -> None:
    loop = EventLoop()
    log: list[tuple[str, float]] = []
    loop.at(1.0, lambda: log.append(("event", loop.now)))
    loop.at(1.0, lambda: log.append(("event", loop.now)))
    loop.at(3.0, lambda: log.append(("event", loop.now)))
    loop.run(settle=lambda: log.append(("settle", loop.now)))
    assert log == [
        ("settle", 0.0),
        ("event", 1.0),
        ("event", 1.0),
        ("settle", 1.0),
        ("event", 3.0),
        ("settle", 3.0),
    ]


def test_events_scheduled_by_settle_at_the_same_instant_run_before_time_moves() -> None:
    loop = EventLoop()
    log: list[float] = []
    fired = [False]

    def settle() -> None:
        if loop.now == 1.0 and not fired[0]:
            fired[0] = True
            loop.after(0.0, lambda: log.append(loop.now))

    loop.at(1.0, lambda: None)
    loop.at(2.0, lambda: log.append(loop.now))
    loop.run(settle=settle)
    assert log == [1.0, 2.0]


def test_run_until_stops_before_later_events() -> None:
    loop = EventLoop()
    seen: list[float] = []
    loop.at(1.0, lambda: seen.append(loop.now))
    loop.at(5.0, lambda: seen.append(loop.now))
    loop.run(until_s=2.0)
    assert seen == [1.0]
    assert loop.pending == 1


def test_scheduling_in_the_past_is_an_error() -> None:
    loop = EventLoop()
    loop.at(1.0, lambda: None)
    loop.run()
    with pytest.raises(ValidationError, match="before now"):
        loop.at(0.5, lambda: None)
