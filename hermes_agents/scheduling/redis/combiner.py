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

Every call gets an answer: its value, or the error its batch raised (each waiting thread
raises it: the caller fails that call open, as it would have alone). A thread interrupted
while sending (``KeyboardInterrupt``) raises that itself; the other calls of its batch get
``BatchInterruptedError`` (whether Redis ran the script is unknown, as for any lost reply).

>>> combiner = Combiner(lambda calls: [call * 2 for call in calls])
>>> combiner.run(21)
42
>>> combiner.scripts, combiner.calls
(1, 1)
"""

from __future__ import annotations

import _thread
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from hermes_agents.errors import HermesError

CallT = TypeVar("CallT")

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
    is to send the next batch)."""

    __slots__ = ("answer", "call", "done", "wake")

    def __init__(self, call: CallT) -> None:
        self.call = call
        self.wake: _thread.LockType | None = None
        self.done = False
        self.answer: object = None


class Combiner(Generic[CallT]):
    """Sends calls through ``send`` in batches (see the module docstring).

    ``send`` takes the batch's calls and returns one answer per call, in order: a value, or a
    ``Raised``; if it raises, every call of the batch gets that error."""

    def __init__(
        self, send: Callable[[list[CallT]], Sequence[object]], max_batch: int = MAX_BATCH
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self._send = send
        self._max_batch = max_batch
        self._mutex = threading.Lock()
        self._sending = False
        self._queued: deque[_Entry[CallT]] = deque()
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
            self._send_batch([entry])
        else:
            entry.wake.acquire()  # answered, or this thread sends the next batch
            if not entry.done:
                self._lead(entry)
        answer = entry.answer
        if isinstance(answer, Raised):
            raise answer.error
        return answer

    def _lead(self, first: _Entry[CallT]) -> None:
        """Send ``first`` and what is queued behind it."""
        with self._mutex:
            batch = [first]
            while self._queued and len(batch) < self._max_batch:
                batch.append(self._queued.popleft())
            self.scripts += 1
            self.calls += len(batch)
        self._send_batch(batch)

    def _send_batch(self, batch: list[_Entry[CallT]]) -> None:
        """Send ``batch``; then wake its calls and pass the turn."""
        answers: list[object]
        try:
            answers = list(self._send([entry.call for entry in batch]))
            if len(answers) != len(batch):
                raise RuntimeError(f"{len(batch)} calls sent, {len(answers)} answered")
        except Exception as error:
            answers = [Raised(error)] * len(batch)
        except BaseException as error:  # this thread's own interruption: raised in it only
            others = BatchInterruptedError("the thread sending this call to Redis was interrupted")
            answers = [Raised(error), *[Raised(others)] * (len(batch) - 1)]
        self._finish(batch, answers)

    def _finish(self, batch: list[_Entry[CallT]], answers: Sequence[object]) -> None:
        with self._mutex:
            following = self._queued.popleft() if self._queued else None
            if following is None:
                self._sending = False
        for entry, answer in zip(batch, answers, strict=True):
            entry.answer, entry.done = answer, True
            if entry.wake is not None:
                entry.wake.release()
        if following is not None:
            assert following.wake is not None
            following.wake.release()  # its turn: it sends what is queued now
