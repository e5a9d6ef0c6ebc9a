"""``Combiner``: the calls of several threads of one process sent to Redis as one script.

Redis runs one script at a time, and a script's fixed part (its dispatch, the round trip, the
backend's limits read, the reap check) costs about as much as the work of one call; so calls
that arrive together go together (flat combining, or group commit). The first thread to
arrive sends its own call at once: nothing waits for a batch to fill, and an uncontended call
costs one round trip, on its own thread, as before. Threads that arrive while that script is
in flight queue their calls and wait. When the reply is in, the sending thread answers every
call of its batch (``send`` did the work: grants, statuses) and hands the turn to the thread
of the first call still queued, which sends every call queued meanwhile (at most
``max_batch``) as the next script. Under load each script carries the calls that arrived
during the previous one's round trip; Redis's time per call falls and so does each client's.

A rider (``ride``: a release, whose caller needs no answer) goes with the next batch while a
turn is on (a batch in flight or queued), and its thread goes on at once: it costs no script,
no round trip and no wait of its own (``send`` settles it). With no turn on, ``ride`` refuses
and the caller sends its call as usual. A caller that must never wait on Redis (an asyncio
event loop's thread: its submits and releases) ``post``s its call as a rider: with no turn
on, the combiner's own thread starts one and sends it. Riders left with no queued call to
carry them go on that thread too, so no caller's thread waits for more than its own batch
(which may carry up to ``max_batch`` riders).

Every call gets an answer: its value, or the error its batch raised (each waiting thread
raises it: the caller fails that call open, as it would have alone). A thread interrupted
while sending (``KeyboardInterrupt``) raises that itself; the other calls of its batch get
``BatchInterruptedError`` (whether Redis ran the script is unknown, as for any lost reply).
A thread interrupted while it waits leaves the queue, and hands its turn on when it had one:
nothing waits for it.

>>> combiner = Combiner(lambda calls, riders: [call * 2 for call in calls])
>>> combiner.run(21)
42
>>> combiner.scripts, combiner.calls
(1, 1)
"""

from __future__ import annotations

import _thread
import contextlib
import logging
import os
import threading
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from hermes_agents.errors import HermesError

logger = logging.getLogger(__name__)

CallT = TypeVar("CallT")
RiderT = TypeVar("RiderT")

MAX_BATCH = 64
"""The most calls one script carries (the rest go in the next one)."""


class BatchInterruptedError(HermesError):
    """The thread sending this call's batch was interrupted: whether Redis ran it is unknown."""


class Raised:
    """What ``send`` answers for a call that failed: ``error`` is raised in its thread."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


class _Entry(Generic[CallT]):
    """A call and its thread's wake-up (a lock held until the call is answered or its thread
    is to send the next batch: ``leads``)."""

    __slots__ = ("answer", "call", "done", "leads", "wake")

    def __init__(self, call: CallT) -> None:
        self.call = call
        self.wake: _thread.LockType | None = None
        self.done = False
        self.leads = False
        self.answer: object = None


class Combiner(Generic[CallT, RiderT]):
    """Sends calls through ``send`` in batches (see the module docstring).

    ``send`` takes the batch's calls and its riders and returns one answer per call, in
    order: a value, or a ``Raised``; if it raises, every call of the batch gets that error
    (what becomes of the riders is ``send``'s to settle: nobody waits for them)."""

    def __init__(
        self,
        send: Callable[[list[CallT], list[RiderT]], Sequence[object]],
        max_batch: int = MAX_BATCH,
        *,
        name: str = "hermes-redis-sender",
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self._send = send
        self._max_batch = max_batch
        self._mutex = threading.Lock()
        self._sending = False
        self._queued: deque[_Entry[CallT]] = deque()
        self._riders: list[RiderT] = []
        """Carried by the next batch of the turn that is on (``_pass_turn``)."""
        self._name = name
        self._sender: threading.Thread | None = None
        """The combiner's own thread (``post``), started on first use."""
        self._sender_turn = _thread.allocate_lock()
        """Released to wake that thread."""
        self._sender_turn.acquire()
        self._sender_has_turn = False
        """Whether the turn was given to that thread (under ``_mutex``)."""
        self._closed = False
        _COMBINERS.add(self)
        self.scripts = 0
        """Batches sent so far."""
        self.calls = 0
        """Calls sent so far (``calls / scripts``: the mean batch)."""

    def run(self, call: CallT) -> object:
        """Send ``call`` (now, or with the next batch) and return its answer; raises its
        error."""
        entry: _Entry[CallT] = _Entry(call)
        with self._mutex:
            if self._sending:
                entry.wake = _thread.allocate_lock()
                entry.wake.acquire()
                self._queued.append(entry)
            else:  # nobody sends: nothing is queued either; this call goes alone, now
                self._sending = True
                self.scripts += 1
                self.calls += 1
        if entry.wake is None:
            self._send_batch([entry], [])
        else:
            try:
                entry.wake.acquire()  # answered, or this thread sends the next batch
                if not entry.done:
                    self._lead(entry)
            except BaseException:
                self._abandon(entry)  # (nothing to do once its batch is taken: ``_lead``)
                raise
        answer = entry.answer
        if isinstance(answer, Raised):
            raise answer.error
        return answer

    def ride(self, rider: RiderT) -> bool:
        """Carry ``rider`` with the next batch of the turn that is on (see the module
        docstring); False with no turn on, ``max_batch`` riders waiting already, or once
        closed: send it yourself."""
        with self._mutex:
            if not self._sending or self._closed or len(self._riders) >= self._max_batch:
                return False
            self._riders.append(rider)
            return True

    def post(self, rider: RiderT) -> bool:
        """Carry ``rider`` with the next batch, never waiting: with no turn on, the combiner's
        own thread starts one. False once closed (not taken)."""
        with self._mutex:
            if self._closed:
                return False
            self._riders.append(rider)
            starts, self._sending = not self._sending, True
            if starts:
                self._sender_has_turn = True
        if starts:
            self._wake_sender()
        return True

    def close(self) -> list[RiderT]:
        """Stop the combiner's own thread (once it holds no turn: one it was given is passed
        on; riders posted later are refused); returns the riders not sent (the caller settles
        them; a batch in flight settles its own)."""
        with self._mutex:
            self._closed = True
            riders, self._riders = self._riders, []
        if self._sender is not None:
            self._give_sender_turn()
        return riders

    def _lead(self, first: _Entry[CallT] | None) -> None:
        """Send ``first`` and what is queued behind it, with the riders (``first`` None: on
        the combiner's own thread, what is queued and the riders)."""
        with self._mutex:
            batch = [] if first is None else [first]
            if first is not None:
                first.leads = False  # its batch is taken: an interruption now is ``send``'s
            while self._queued and len(batch) < self._max_batch:
                batch.append(self._queued.popleft())
            riders = self._riders[: self._max_batch]
            del self._riders[: self._max_batch]
            self.scripts += 1
            self.calls += len(batch)
        self._send_batch(batch, riders)

    def _send_batch(self, batch: list[_Entry[CallT]], riders: list[RiderT]) -> None:
        """Send ``batch``; then wake its calls and pass the turn."""
        answers: list[object]
        try:
            answers = list(self._send([entry.call for entry in batch], riders))
            if len(answers) != len(batch):
                raise RuntimeError(f"{len(batch)} calls sent, {len(answers)} answered")
        except Exception as error:
            answers = [Raised(error)] * len(batch)
        except BaseException as error:  # this thread's own interruption: raised in it only
            if not batch:  # riders alone (``send`` settles them)
                self._finish(batch, [])
                raise
            others = BatchInterruptedError("the thread sending this call to Redis was interrupted")
            answers = [Raised(error), *[Raised(others)] * (len(batch) - 1)]
        self._finish(batch, answers)

    def _finish(self, batch: list[_Entry[CallT]], answers: Sequence[object]) -> None:
        with self._mutex:
            following, stranded = self._pass_turn()
        for entry, answer in zip(batch, answers, strict=True):
            entry.answer, entry.done = answer, True
            if entry.wake is not None:
                entry.wake.release()
        self._hand_on(following, stranded)

    def _abandon(self, entry: _Entry[CallT]) -> None:
        """``entry``'s thread was interrupted while it waited: it leaves the queue, or, if the
        turn was passed to it, hands it on. A call in a batch in flight is answered there,
        unread."""
        with self._mutex:
            if entry in self._queued:
                self._queued.remove(entry)  # (riders it leaves behind: ``_pass_turn``)
                return
            if not entry.leads:
                return
            following, stranded = self._pass_turn()
        self._hand_on(following, stranded)

    def _pass_turn(self) -> tuple[_Entry[CallT] | None, bool]:
        """Under ``_mutex``: the queued call whose thread sends next, and whether riders are
        left with no call to carry them (the combiner's own thread sends them); with neither
        the turn ends."""
        following = self._queued.popleft() if self._queued else None
        stranded = following is None and bool(self._riders) and not self._closed
        if following is not None:
            following.leads = True
        elif stranded:
            self._sender_has_turn = True
        else:
            self._sending = False
        return following, stranded

    def _hand_on(self, following: _Entry[CallT] | None, stranded: bool) -> None:
        if following is not None:
            assert following.wake is not None
            following.wake.release()  # its turn: it sends what is queued now
        elif stranded:
            self._wake_sender()

    def _wake_sender(self) -> None:
        """Wake the combiner's own thread (started on first use) to take the turn given to it
        (``_sender_has_turn``)."""
        if self._sender is None:
            with self._mutex:
                if self._sender is None:
                    self._sender = threading.Thread(
                        target=self._send_riders, name=self._name, daemon=True
                    )
                    self._sender.start()
        self._give_sender_turn()

    def _give_sender_turn(self) -> None:
        with contextlib.suppress(RuntimeError):  # woken already (``close`` wakes it too)
            self._sender_turn.release()

    def _send_riders(self) -> None:
        turn = self._sender_turn
        while True:
            turn.acquire()
            with self._mutex:
                has_turn, self._sender_has_turn = self._sender_has_turn, False
                closed = self._closed
                following = self._pass_turn()[0] if has_turn and closed else None
            if closed:  # a turn it held goes to the first queued call (or ends)
                self._hand_on(following, False)
                return
            if not has_turn:
                continue
            try:
                self._lead(None)
            except BaseException:  # never let the thread die: turns handed to it would hang
                logger.exception("%s failed", self._name)

    def _forget_parent(self) -> None:
        """In a forked child: the parent's threads, turn and calls are not here."""
        self._mutex = threading.Lock()
        self._sending, self._sender_has_turn = False, False
        self._queued, self._riders = deque(), []
        self._sender = None
        self._sender_turn = _thread.allocate_lock()
        self._sender_turn.acquire()


_COMBINERS: weakref.WeakSet[Combiner[Any, Any]] = weakref.WeakSet()
"""Every combiner of this process (``_forget_parent`` after a fork)."""


def _after_fork_in_child() -> None:
    for combiner in list(_COMBINERS):
        combiner._forget_parent()


os.register_at_fork(after_in_child=_after_fork_in_child)
