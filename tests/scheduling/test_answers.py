"""Every waiter gets an answer, in process: granted, withdrawn with a reason, or failed open.

Whatever happens (the run ends under a queued call, the core raises in submit, in release or
in its step, a timeout, a cancellation), no call waits past its own timeout for a decision
that will never come, no task is orphaned in the core, and nothing is counted twice.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from hermes_agents.errors import RunEndedError
from hermes_agents.scheduling import BackendLimits, Ticket
from hermes_agents.scheduling.runtime import LocalScheduler
from tests.scheduling.test_runtime import assert_no_leak

WAIT_S = 10.0
"""Far longer than any answer takes: a waiter still waiting then was never answered."""


def _scheduler() -> LocalScheduler:
    return LocalScheduler.in_process({"llm": BackendLimits(1)}, policy="fcfs")


def _in_thread(work: Callable[[], Any]) -> tuple[threading.Thread, list[object]]:
    """Run ``work`` in a thread; its result or exception lands in the returned list."""
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(work())
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def _wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the condition"
        time.sleep(0.005)


def _queued(scheduler: LocalScheduler) -> int:
    return len(scheduler.core.backends["llm"].waiting)


def test_a_run_that_ends_under_a_queued_call_withdraws_it_with_the_reason() -> None:
    scheduler = _scheduler()
    holder = scheduler.slot("llm")
    holder.enter()
    scope = scheduler.run("qa").__enter__()

    def call_in_the_run() -> None:
        with scheduler.slot("llm", stage="answer"):
            pass

    # the waiter runs in the run's context (a worker thread the run started)
    context = contextvars.copy_context()
    thread, outcome = _in_thread(lambda: context.run(call_in_the_run))
    _wait_until(lambda: _queued(scheduler) == 1)
    scope.__exit__(None, None, None)  # the run ends with its call still queued
    thread.join(WAIT_S)
    assert not thread.is_alive(), "the waiter was never answered"
    (error,) = outcome
    assert isinstance(error, RunEndedError)
    assert "its app run ended while it waited" in str(error)
    holder.release()
    assert_no_leak(scheduler)
    assert scheduler.unscheduled_calls == 0  # a withdrawal is not a fail-open


def test_a_core_that_raises_once_in_submit_fails_that_call_open_and_leaves_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scheduler = _scheduler()
    real = scheduler.core.submit
    calls = iter([RuntimeError("a bug"), None])

    def flaky(*args: Any, **kwargs: Any) -> int:
        problem = next(calls, None)
        if problem is not None:
            raise problem
        return real(*args, **kwargs)

    monkeypatch.setattr(scheduler.core, "submit", flaky)
    with scheduler.run("qa"):
        with scheduler.slot("llm") as slot:  # fails open: runs at once, unscheduled
            assert slot.ticket is None
        with scheduler.slot("llm") as slot:  # the next call is scheduled again
            assert slot.ticket is not None
    assert scheduler.unscheduled_calls == 1
    assert scheduler._waiting == {}
    assert_no_leak(scheduler)


def test_a_core_that_raises_in_its_step_answers_every_waiter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scheduler = _scheduler()
    holder = scheduler.slot("llm")
    holder.enter()
    waiters = [_in_thread(lambda: scheduler.slot("llm").enter()) for _ in range(3)]
    _wait_until(lambda: _queued(scheduler) == 3)
    real = scheduler.core.step
    monkeypatch.setattr(scheduler.core, "step", _raise_once(real))
    holder.release()  # the step after this release raises: every waiter must go ahead
    for thread, outcome in waiters:
        thread.join(WAIT_S)
        assert not thread.is_alive(), "a waiter was never answered"
        (slot,) = outcome
        assert getattr(slot, "ticket", "?") is None  # ran unscheduled
    assert scheduler.unscheduled_calls == 3  # each once
    assert scheduler.driver.failures == 1
    assert_no_leak(scheduler)
    with scheduler.slot("llm") as slot:  # and scheduling goes on
        assert slot.ticket is not None


def test_a_release_that_raises_after_freeing_the_slot_still_wakes_the_next_waiter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scheduler = _scheduler()
    holder = scheduler.slot("llm")
    holder.enter()
    thread, outcome = _in_thread(lambda: scheduler.slot("llm").enter())
    _wait_until(lambda: _queued(scheduler) == 1)
    real = scheduler.core._run_moved
    monkeypatch.setattr(scheduler.core, "_run_moved", _raise_once(real))
    holder.release()  # frees the slot, then the core raises while crediting the run
    thread.join(WAIT_S)
    assert not thread.is_alive(), "the waiter was never woken"
    (slot,) = outcome
    assert getattr(slot, "ticket", None) is not None  # granted, not failed open
    assert scheduler.unscheduled_calls == 0  # a failed release is no unscheduled call
    slot.release()  # type: ignore[attr-defined]
    assert_no_leak(scheduler)


def test_a_timeout_and_a_cancellation_withdraw_the_task() -> None:
    scheduler = _scheduler()
    holder = scheduler.slot("llm")
    holder.enter()
    with pytest.raises(TimeoutError):
        scheduler.slot("llm", timeout=0.05).enter()

    async def cancelled() -> None:
        waiter = asyncio.create_task(scheduler.slot("llm").aenter())
        await asyncio.sleep(0.05)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter

    asyncio.run(cancelled())
    assert _queued(scheduler) == 0
    holder.release()
    assert_no_leak(scheduler)
    assert scheduler._waiting == {}


def test_a_ticket_is_answered_once_whatever_races() -> None:
    ticket = Ticket("llm")
    assert ticket.grant(1.5)
    assert not ticket.withdraw("late")
    assert not ticket.fail_open("late")
    assert ticket.rank == 1.5
    assert ticket.wait(0) is ticket.answer


def _raise_once(real: Callable[..., Any]) -> Callable[..., Any]:
    raised = [False]

    def once(*args: Any, **kwargs: Any) -> Any:
        if not raised[0]:
            raised[0] = True
            raise RuntimeError("a bug in the core")
        return real(*args, **kwargs)

    return once
