"""``Combiner``: calls that arrive while a batch is in flight go together in the next one; a
lone call goes at once, alone; every call gets its own answer or its batch's error; a thread
interrupted while sending raises that itself and the others of its batch go on."""

from __future__ import annotations

import _thread
import os
import signal
import threading
from collections.abc import Callable, Sequence

import pytest

from hermes_agents.scheduling.redis.combiner import BatchInterruptedError, Combiner, Raised, _Entry
from tests.scheduling.redis.helpers import wait_for


class Gate:
    """A ``send`` whose first batch waits until ``open`` (so that calls queue behind it);
    records every batch."""

    def __init__(self, answer: Callable[[list[int]], Sequence[object]] | None = None) -> None:
        self.batches: list[list[int]] = []
        self.riders: list[list[str]] = []
        self.entered = threading.Event()
        self.opened = threading.Event()
        self.answer = answer or (lambda calls: [call * 10 for call in calls])

    def __call__(self, calls: list[int], riders: list[str]) -> Sequence[object]:
        self.batches.append(list(calls))
        self.riders.append(list(riders))
        if len(self.batches) == 1:
            self.entered.set()
            assert self.opened.wait(10)
        return self.answer(calls)


def _queue_behind_first(combiner: Combiner[int, str], gate: Gate, more: int) -> dict[int, object]:
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
    combiner: Combiner[int, str] = Combiner(lambda calls, riders: [])
    with pytest.raises(RuntimeError, match="1 calls sent, 0 answered"):
        combiner.run(1)
    with pytest.raises(ValueError, match="max_batch"):
        Combiner(lambda calls, riders: calls, max_batch=0)


def test_a_rider_goes_with_the_next_batch_and_its_thread_goes_on() -> None:
    gate = Gate()
    combiner = Combiner(gate)
    assert not combiner.ride("idle")  # no turn on: the caller sends it itself
    sender = threading.Thread(target=combiner.run, args=(0,))
    sender.start()
    assert gate.entered.wait(10)
    assert combiner.ride("end-a")  # a batch in flight: it rides, no wait
    queued = threading.Thread(target=combiner.run, args=(1,))
    queued.start()
    wait_for(lambda: len(combiner._queued) == 1)
    assert combiner.ride("end-b")
    gate.opened.set()
    sender.join(10)
    queued.join(10)
    assert gate.batches == [[0], [1]]
    assert gate.riders == [[], ["end-a", "end-b"]]  # carried by the queued call's batch


def test_riders_left_with_no_call_to_carry_them_go_on_the_combiners_thread() -> None:
    gate = Gate()
    combiner = Combiner(gate)
    caller = threading.Thread(target=combiner.run, args=(0,))
    caller.start()
    assert gate.entered.wait(10)
    assert combiner.ride("end")  # nothing is queued behind the batch in flight
    gate.opened.set()
    caller.join(10)
    wait_for(lambda: gate.riders == [[], ["end"]])
    assert gate.batches == [[0], []]  # the riders alone, sent by the combiner's own thread
    wait_for(lambda: not combiner._sending)  # and the turn ended
    assert combiner.run(5) == 50
    combiner.close()


def test_a_posted_call_never_waits_and_starts_a_turn_when_none_is_on() -> None:
    gate = Gate()
    combiner = Combiner(gate)
    combiner.post("first")  # no turn on: the combiner's thread sends it (and waits at the gate)
    assert gate.entered.wait(10)
    assert combiner._sender is not None
    assert combiner._sender.is_alive()
    combiner.post("second")  # a turn is on: it goes with the next batch
    gate.opened.set()
    wait_for(lambda: gate.riders == [["first"], ["second"]])
    wait_for(lambda: not combiner._sending)
    sender = combiner._sender
    assert combiner.close() == []
    sender.join(10)
    assert not sender.is_alive()
    assert not combiner.post("late")  # refused once closed


def test_closing_hands_back_the_riders_not_sent() -> None:
    gate = Gate()
    combiner = Combiner(gate)
    caller = threading.Thread(target=combiner.run, args=(0,))
    caller.start()
    assert gate.entered.wait(10)
    combiner.post("unsent")
    assert combiner.close() == ["unsent"]  # the caller settles them
    assert not combiner.ride("after")  # refused once closed
    gate.opened.set()
    caller.join(10)
    wait_for(lambda: not combiner._sending)  # the turn ended: nothing stranded on a closed one
    assert gate.riders == [[]]


class Interrupted(BaseException):
    """Raised by a signal handler in the main thread (as KeyboardInterrupt would be)."""


def test_a_thread_interrupted_while_it_waits_leaves_nobody_hanging() -> None:
    """The main thread waits in the queue behind a batch in flight and is interrupted (a signal
    whose handler raises): it leaves the queue, so the turn still passes on and later calls
    are answered (before, the turn passed to it and nobody ever sent again)."""
    gate = Gate()
    combiner = Combiner(gate)
    sender = threading.Thread(target=combiner.run, args=(0,))
    sender.start()
    assert gate.entered.wait(10)
    behind = threading.Thread(target=combiner.run, args=(2,))

    def interrupt(signum: int, frame: object) -> None:
        raise Interrupted

    def later() -> None:
        wait_for(lambda: len(combiner._queued) == 1)  # the main thread queued
        behind.start()
        wait_for(lambda: len(combiner._queued) == 2)
        os.kill(os.getpid(), signal.SIGUSR1)

    previous = signal.signal(signal.SIGUSR1, interrupt)
    threading.Thread(target=later).start()
    try:
        with pytest.raises(Interrupted):
            combiner.run(1)
    finally:
        signal.signal(signal.SIGUSR1, previous)
    gate.opened.set()
    sender.join(10)
    behind.join(10)
    assert not behind.is_alive()
    assert gate.batches == [[0], [2]]  # the interrupted call was never sent
    assert combiner.run(3) == 30


def test_a_thread_interrupted_once_its_turn_came_hands_the_turn_on() -> None:
    combiner: Combiner[int, str] = Combiner(lambda calls, riders: list(calls))
    first, second = _Entry(1), _Entry(2)
    for entry in (first, second):
        entry.wake = _thread.allocate_lock()
        entry.wake.acquire()
    combiner._sending = True
    combiner._queued.extend([first, second])
    following, stranded = combiner._pass_turn()  # the turn passes to ``first``'s thread...
    assert following is first
    assert not stranded
    combiner._abandon(first)  # ...which was interrupted: ``second``'s thread gets it
    assert second.leads
    assert second.wake is not None
    assert second.wake.acquire(False)  # released: its thread goes on and sends
    assert combiner._sending


class PausedAfterWake:
    """The combiner's thread's wake-up, pausing it right after it woke (a preemption) until
    ``go`` is set."""

    def __init__(self) -> None:
        self.lock = _thread.allocate_lock()
        self.lock.acquire()
        self.woke, self.go = threading.Event(), threading.Event()

    def acquire(self) -> bool:
        self.lock.acquire()
        self.woke.set()
        return self.go.wait(10)

    def release(self) -> None:
        self.lock.release()


def test_closing_while_the_combiners_thread_holds_the_turn_passes_it_on() -> None:
    """The combiner's thread was given the turn (a post) and a call queued behind it; closing
    then must not end that thread with the turn: the queued call is sent and answered, and
    later calls go on (before, ``_sending`` stayed set and every later call hung)."""
    sent: list[tuple[list[str], list[str]]] = []

    def send(calls: list[str], riders: list[str]) -> list[str]:
        sent.append((list(calls), list(riders)))
        return list(calls)

    combiner: Combiner[str, str] = Combiner(send)
    wake = PausedAfterWake()
    combiner._sender_turn = wake  # type: ignore[assignment]
    combiner._sender = threading.Thread(target=combiner._send_riders, daemon=True)
    combiner._sender.start()
    assert combiner.post("rider")  # no turn on: the combiner's thread gets it
    assert wake.woke.wait(10)
    answers: list[object] = []
    queued = threading.Thread(target=lambda: answers.append(combiner.run("call")))
    queued.start()
    wait_for(lambda: len(combiner._queued) == 1)
    assert combiner.close() == ["rider"]
    wake.go.set()
    combiner._sender.join(10)
    queued.join(10)
    assert not combiner._sender.is_alive()
    assert answers == ["call"]
    assert sent == [(["call"], [])]
    assert combiner.run("later") == "later"
