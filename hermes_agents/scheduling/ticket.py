"""``Ticket``: one call's place in a scheduler, and the one answer it gets.

A slot makes a ticket (the call's backend, run, stage, size), hands it to
``Scheduler.submit`` and waits on it. The scheduler answers it exactly once, from any thread:

- ``grant(rank)``: the call may run now;
- ``withdraw(reason)``: it left the queue without a grant (its run ended while it waited);
- ``fail_open(reason)``: scheduling broke; the call runs unscheduled.

The first answer wins; later ones are ignored (and say so by returning False), so a grant
racing a timeout or a lost connection is answered once and counted once. Waiting is woken by
the answer itself (no polling), in threads (``wait``) and in asyncio (``wait_async``).
"""

from __future__ import annotations

import _thread
import asyncio
import contextlib
import enum
import functools
import threading
import weakref
from collections.abc import Callable

_LOCK = threading.Lock()
"""Guards every ticket's answer (held for a few instructions; one lock is cheaper than one
per ticket)."""
_TIMEOUT_MAX = threading.TIMEOUT_MAX
"""The longest a lock can wait (a longer ``wait`` timeout waits for ever)."""


class Answer(enum.Enum):
    """How a ticket was answered."""

    GRANTED = "granted"
    WITHDRAWN = "withdrawn"
    UNSCHEDULED = "unscheduled"


class Ticket:
    """One call waiting for, or holding, a slot (see the module docstring).

    Attributes:
        backend, run_id, stage, visit, estimate_s, tokens: the call (``run_id`` None: a
            one-call app).
        task: the scheduler's id for it once queued (None: not queued, or failed open).
        handle: whatever the scheduler keeps for it (its own one-call run, its connection).
        rank: its run's rank when granted (lower is more urgent), if known (given to
            ``grant``, or computed on first read by ``rank_of``).
        reason: why it was withdrawn or failed open.
    """

    # Class-level defaults: a ticket (and a ``Slot``, which is one) sets only what it is given;
    # the answer's fields are written once, when it is answered.
    run_id: str | None = None
    stage: str | None = None
    visit: str | None = None
    estimate_s: float = 0.0
    tokens: int = 0
    task: int | None = None
    handle: object = None
    rank_of: Callable[[Ticket], float | None] | None = None
    """Computes the ticket's rank on first read (a scheduler that can look it up later)."""
    reason = ""
    answer: Answer | None = None
    _rank: float | None = None
    _waiter: _thread.LockType | None = None
    """Held until the answer (a bare lock: the cheapest hand-off between threads)."""
    _wakers: list[Callable[[], None]] | None = None

    def __init__(
        self,
        backend: str,
        run_id: str | None = None,
        stage: str | None = None,
        visit: str | None = None,
        estimate_s: float = 0.0,
        tokens: int = 0,
    ) -> None:
        self.backend = backend
        self.run_id = run_id
        self.stage = stage
        self.visit = visit
        self.estimate_s = estimate_s
        self.tokens = tokens

    @property
    def rank(self) -> float | None:
        if self._rank is None and self.rank_of is not None:
            rank_of, self.rank_of = self.rank_of, None
            self._rank = rank_of(self)
        return self._rank

    # -- answering (schedulers) ---------------------------------------------------------------

    def grant(self, rank: float | None = None) -> bool:
        """The call may run now; False if it was answered already."""
        return self.settle(Answer.GRANTED, "", rank)

    def withdraw(self, reason: str) -> bool:
        """The call left the queue without a grant; False if it was answered already."""
        return self.settle(Answer.WITHDRAWN, reason, None)

    def fail_open(self, reason: str) -> bool:
        """The call runs unscheduled; False if it was answered already (count it only then:
        use ``Scheduler.fail_open``)."""
        return self.settle(Answer.UNSCHEDULED, reason, None)

    # -- waiting (slots) ----------------------------------------------------------------------

    def wait(self, timeout: float | None = None) -> Answer:
        """Block until answered; ``TimeoutError`` after ``timeout`` seconds."""
        answer = self.answer  # set once, never unset: no lock needed to see it
        if answer is not None:
            return answer
        with _LOCK:
            if self.answer is not None:
                return self.answer
            waiter = self._waiter
            if waiter is None:
                waiter = self._waiter = _thread.allocate_lock()
                waiter.acquire()
        # None, or longer than a lock can wait: for ever; negative or NaN: it has run out
        wait_s = -1.0 if timeout is None or timeout > _TIMEOUT_MAX else max(0.0, timeout)
        if not waiter.acquire(True, wait_s):
            raise TimeoutError(f"no slot on {self.backend!r} within {timeout} s")
        waiter.release()  # the next thread waiting on this ticket, if any, goes on too
        assert self.answer is not None
        return self.answer

    async def wait_async(self, timeout: float | None = None) -> Answer:
        """Wait in asyncio until answered; ``TimeoutError`` after ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        answered: asyncio.Future[None] = loop.create_future()
        wakes = _LOOP_WAKES.get(loop)
        if wakes is None:
            wakes = _LOOP_WAKES.setdefault(loop, _LoopWakes(loop))
        wake = functools.partial(wakes.add, answered)
        with _LOCK:
            if self.answer is not None:
                return self.answer
            if self._wakers is None:
                self._wakers = []
            self._wakers.append(wake)
        try:
            async with asyncio.timeout(timeout):
                await answered
        except TimeoutError:
            raise TimeoutError(f"no slot on {self.backend!r} within {timeout} s") from None
        assert self.answer is not None
        return self.answer

    def settle(self, answer: Answer, reason: str = "", rank: float | None = None) -> bool:
        """Answer the ticket (``grant``, ``withdraw`` and ``fail_open`` are shorthands for it);
        False if it was answered already."""
        with _LOCK:
            if self.answer is not None:
                return False
            self.answer, self.reason, self._rank = answer, reason, rank
            waiter, wakers = self._waiter, self._wakers
            self._wakers = None
        if waiter is not None:
            waiter.release()
        if wakers:
            for wake in wakers:
                wake()
        return True

    def __repr__(self) -> str:
        state = self.answer.value if self.answer is not None else "waiting"
        return f"Ticket({self.backend!r}, task={self.task}, {state})"


class _LoopWakes:
    """The futures of one event loop's waiting tickets that other threads answered: handed
    over in batches, one ``call_soon_threadsafe`` (one write to the loop's self-pipe, one
    wake-up) for all that are answered before the loop gets to them, not one per ticket (a
    Redis script's reply answers many at once)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = weakref.ref(loop)  # (a strong one would keep the map's key alive)
        self._lock = threading.Lock()
        self._answered: list[asyncio.Future[None]] = []

    def add(self, future: asyncio.Future[None]) -> None:
        with self._lock:
            self._answered.append(future)
            first = len(self._answered) == 1
        loop = self._loop()
        if first and loop is not None:  # later ones go with it
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(self._resolve)

    def _resolve(self) -> None:
        with self._lock:
            answered, self._answered = self._answered, []
        for future in answered:
            if not future.done():
                future.set_result(None)


_LOOP_WAKES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopWakes] = (
    weakref.WeakKeyDictionary()
)
"""Each running loop's ``_LoopWakes`` (gone with its loop)."""
