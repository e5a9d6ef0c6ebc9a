"""``Combiner``: calls that arrive while a batch is in flight go together in the next one; a
lone call goes at once, alone; every call gets its own answer or its batch's error; a thread
interrupted while sending raises that itself and the others of its batch go on."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import pytest

from hermes_agents.scheduling.redis.combiner import BatchInterruptedError, Combiner, Raised
from tests.scheduling.redis.helpers import wait_for


class Gate:
    """A ``send`` whose first batch waits until ``open`` (so that calls queue behind it);
    records every batch."""

    def __init__(self, answer: Callable[[list[int]], Sequence[object]] | None = None) -> None:
        self.batches: list[list[int]] = []
        self.entered = threading.Event()
        self.opened = threading.Event()
        self.answer = answer or (lambda calls: [call * 10 for call in calls])

    def __call__(self, calls: list[int]) -> Sequence[object]:
        self.batches.append(list(calls))
        if len(self.batches) == 1:
            self.entered.set()
            assert self.opened.wait(10)
        return self.answer(calls)


def _queue_behind_first(combiner: Combiner[int], gate: Gate, more: int) -> dict[int, object]:
    """Call 0 sends and waits at the gate; calls 1..more queue behind it; then the gate opens.
    Returns what each call answered (or raised)."""
    results: dict[int, object] = {}

    def call(number: int) -> None:
        try:
            results[number] = combiner.run(number)
        except BaseException as error:
            results[number] = error

    threads = [threading.Thread(target=call, args=(0,))]
    threads[0].start()
    assert gate.entered.wait(10)
    for number in range(1, more + 1):
        threads.append(threading.Thread(target=call, args=(number,)))
        threads[-1].start()
    wait_for(lambda: len(combiner._queued) == more)
    gate.opened.set()
    for thread in threads:
        thread.join(10)
    return results


def test_a_lone_call_goes_at_once_alone() -> None:
    gate = Gate()
    gate.opened.set()
    combiner = Combiner(gate)
    assert combiner.run(4) == 40
    assert combiner.run(5) == 50
    assert gate.batches == [[4], [5]]
    assert (combiner.scripts, combiner.calls) == (2, 2)


def test_calls_that_arrive_during_a_batch_go_together_in_the_next() -> None:
    gate = Gate()
    combiner = Combiner(gate)
    results = _queue_behind_first(combiner, gate, 5)
    assert results == {number: number * 10 for number in range(6)}
    assert gate.batches[0] == [0]
    assert sorted(gate.batches[1]) == [1, 2, 3, 4, 5]  # one script for the five
    assert (combiner.scripts, combiner.calls) == (2, 6)
    assert not combiner._sending  # the turn ended with the last batch


def test_a_batch_carries_at_most_max_batch_calls() -> None:
    gate = Gate()
    combiner = Combiner(gate, max_batch=4)
    results = _queue_behind_first(combiner, gate, 9)
    assert results == {number: number * 10 for number in range(10)}
    assert [len(batch) for batch in gate.batches] == [1, 4, 4, 1]


def test_every_call_of_a_failed_batch_raises_its_error_and_the_next_batch_works() -> None:
    broken = ConnectionError("Redis went away")

    def answer(calls: list[int]) -> Sequence[object]:
        if 0 not in calls:
            raise broken
        return [0]

    gate = Gate(answer)
    combiner = Combiner(gate)
    results = _queue_behind_first(combiner, gate, 3)
    assert results[0] == 0
    assert all(results[number] is broken for number in (1, 2, 3))
    gate.answer = lambda calls: list(calls)
    assert combiner.run(7) == 7


def test_one_call_may_fail_alone() -> None:
    gate = Gate(lambda calls: [Raised(KeyError(call)) if call == 2 else call for call in calls])
    combiner = Combiner(gate)
    results = _queue_behind_first(combiner, gate, 3)
    assert isinstance(results[2], KeyError)
    assert [results[number] for number in (0, 1, 3)] == [0, 1, 3]


def test_an_interrupted_sender_raises_it_and_the_others_of_its_batch_go_on() -> None:
    def answer(calls: list[int]) -> Sequence[object]:
        if calls[0] != 0:  # the thread sending the second batch is interrupted
            raise KeyboardInterrupt
        return list(calls)

    gate = Gate(answer)
    combiner = Combiner(gate)
    results = _queue_behind_first(combiner, gate, 3)
    sender = gate.batches[1][0]
    assert isinstance(results[sender], KeyboardInterrupt)
    others = [results[number] for number in (1, 2, 3) if number != sender]
    assert len(others) == 2
    assert all(isinstance(error, BatchInterruptedError) for error in others)
    gate.answer = lambda calls: list(calls)
    assert combiner.run(9) == 9  # the turn was handed on


def test_a_send_that_answers_too_few_fails_the_whole_batch() -> None:
    combiner: Combiner[int] = Combiner(lambda calls: [])
    with pytest.raises(RuntimeError, match="1 calls sent, 0 answered"):
        combiner.run(1)
    with pytest.raises(ValueError, match="max_batch"):
        Combiner(lambda calls: calls, max_batch=0)
