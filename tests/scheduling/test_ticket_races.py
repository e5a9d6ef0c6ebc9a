"""``Ticket.wait`` (its bare-lock wake-up) from several threads racing the answer: no lost
wake-up, no deadlock, every waiter without a timeout gets the one answer, a waiter with a
timeout gets it or ``TimeoutError`` (never a ``ValueError`` for a negative or NaN timeout, nor
an ``OverflowError`` for one past what a lock can wait), and the asyncio waiters beside them
are woken too. No timing is asserted: a thread that hung fails its ``join``."""

from __future__ import annotations

import asyncio
import math
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from hermes_agents.scheduling.ticket import Answer, Ticket

JOIN_S = 30.0
"""Far longer than any wait here: a thread still alive after it is a lost wake-up."""


def _waiters(ticket: Ticket, timeouts: list[float | None]) -> list[object]:
    """Start one thread per timeout on ``ticket.wait``; settle it; what each one got."""
    got: list[object] = [None] * len(timeouts)
    started = threading.Barrier(len(timeouts) + 1)

    def wait(index: int, timeout: float | None) -> None:
        started.wait()
        try:
            got[index] = ticket.wait(timeout)
        except Exception as error:  # recorded: the test says which errors are allowed
            got[index] = error

    threads = [
        threading.Thread(target=wait, args=(i, t), daemon=True) for i, t in enumerate(timeouts)
    ]
    for thread in threads:
        thread.start()
    started.wait()
    ticket.grant(rank=1.0)
    for thread in threads:
        thread.join(JOIN_S)
        assert not thread.is_alive(), "a waiter was never woken"
    return got


@pytest.mark.parametrize("rounds", [200])
def test_many_threads_with_and_without_timeouts_racing_the_answer(rounds: int) -> None:
    timeouts: list[float | None] = [None, None, None, 0.0, -1.0, math.nan, 1e-6, 5.0, math.inf]
    for _ in range(rounds):
        got = _waiters(Ticket("llm"), timeouts)
        for timeout, answer in zip(timeouts, got, strict=True):
            if timeout is None or timeout >= 5.0:
                assert answer is Answer.GRANTED
            else:  # it may have run out before the answer: TimeoutError, nothing else
                assert answer is Answer.GRANTED or isinstance(answer, TimeoutError), answer


def test_a_timed_out_waiter_leaves_the_ticket_answerable_and_waitable() -> None:
    ticket = Ticket("llm")
    for timeout in (0.0, -1.0, -5.0, math.nan, 0.001):  # -1 is no "for ever" here
        with pytest.raises(TimeoutError):
            ticket.wait(timeout)
    assert ticket.answer is None
    assert _waiters(ticket, [None, 1e308]) == [Answer.GRANTED, Answer.GRANTED]
    assert ticket.wait(0.0) is Answer.GRANTED  # answered: at once, whatever the timeout
    assert ticket.wait(-1.0) is Answer.GRANTED
    assert not ticket.fail_open("late")  # exactly one answer
    assert ticket.answer is Answer.GRANTED


@pytest.mark.parametrize("timeout", [math.inf, 1e308, 1e10])
def test_a_timeout_past_what_a_lock_can_wait_waits_for_the_answer(timeout: float) -> None:
    assert _waiters(Ticket("llm"), [timeout]) == [Answer.GRANTED]


def test_threads_and_asyncio_waiters_on_one_ticket_are_all_woken() -> None:
    ticket = Ticket("llm")
    loop_ready = threading.Event()

    async def waiting() -> Answer:
        task = asyncio.ensure_future(ticket.wait_async(None))
        await asyncio.sleep(0)  # registered before the answer can come
        loop_ready.set()
        return await task

    with ThreadPoolExecutor(4) as pool:
        threads = [pool.submit(ticket.wait, None) for _ in range(3)]
        waiter = pool.submit(asyncio.run, waiting())
        assert loop_ready.wait(JOIN_S)
        ticket.withdraw("its run ended")
        assert [f.result(JOIN_S) for f in threads] == [Answer.WITHDRAWN] * 3
        assert waiter.result(JOIN_S) is Answer.WITHDRAWN
    assert ticket.reason == "its run ended"
