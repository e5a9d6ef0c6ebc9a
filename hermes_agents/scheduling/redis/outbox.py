"""``Outbox``: writes to Redis that a caller need not wait for, done in order by one thread.

A late release (``releases``), a rank refresh or a profile row goes on a bounded queue and the
caller goes on; the outbox's own thread hands each item to ``handle``. So a Redis that stops
answering (a cut link drops packets: each command waits out its timeout) stalls that thread,
never the app's.

A caller may wait a little for its item (``put(..., wait_s=)``): with a healthy Redis the item
is done before the caller goes on, as if it had been done on its thread. Once one such wait ran
out (or an item known to be slow was put as ``stuck``), the thread is stuck on a slow Redis and
later callers do not wait at all, until it moves again. A full queue refuses the item (``put``
returns False): the caller has its fallback.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

Item = TypeVar("Item")

DEFAULT_CAPACITY = 4096
"""Items an outbox holds before it refuses more."""


class Outbox(Generic[Item]):
    """Items handed to ``handle`` in order on the outbox's thread (see the module docstring).

    Args:
        name: the thread's name.
        handle: called with each item on the thread; what it raises is logged.
        capacity: items queued at most.
    """

    def __init__(
        self, name: str, handle: Callable[[Item], None], *, capacity: int = DEFAULT_CAPACITY
    ) -> None:
        self.name = name
        self.handle = handle
        self.capacity = capacity
        self._queue: queue.Queue[tuple[Item, threading.Event | None]] = queue.Queue(capacity)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._stuck = False
        self._slow: set[int] = set()
        """The ids of items put as ``stuck`` and not handled yet."""
        self._stopping = False

    @property
    def stuck(self) -> bool:
        """Whether the thread is believed stuck on a slow Redis (a wait for it ran out, or an
        item was put as ``stuck``), until it finishes an item."""
        return self._stuck or bool(self._slow)

    def put(self, item: Item, *, wait_s: float = 0.0, stuck: bool = False) -> bool:
        """Queue ``item``; wait up to ``wait_s`` for it to be handled (not while the thread is
        stuck). ``stuck``: the item is known to be slow (callers stop waiting until the thread
        is done with it). False when the queue is full or the outbox closed: the item was not
        taken."""
        if self._stopping:
            return False
        self._start()
        if stuck:
            with self._lock:
                self._slow.add(id(item))
        done = threading.Event() if wait_s > 0 and not self.stuck else None
        try:
            self._queue.put_nowait((item, done))
        except queue.Full:
            if stuck:
                with self._lock:
                    self._slow.discard(id(item))
            return False
        if done is not None and not done.wait(wait_s):
            self._stuck = True
        return True

    def close(self, timeout_s: float) -> list[Item]:
        """Stop taking items, let the thread work up to ``timeout_s`` more, and return the
        items it did not get to (in order; the caller settles them)."""
        self._stopping = True
        self._wake()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(max(0.0, timeout_s))
        left: list[Item] = []
        while True:
            try:
                item, done = self._queue.get_nowait()
            except queue.Empty:
                self._wake()  # a thread still there ends at once
                return left
            if item is not _STOP[0]:
                left.append(item)
            if done is not None:
                done.set()

    def _wake(self) -> None:
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(_STOP)  # type: ignore[arg-type]

    def _start(self) -> None:
        if self._thread is not None and self._pid == os.getpid():
            return
        with self._lock:
            if self._pid != os.getpid():  # a forked child: the parent's thread is not here
                self._pid, self._thread = os.getpid(), None
                self._queue = queue.Queue(self.capacity)
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name=self.name, daemon=True)
                self._thread.start()

    def _work(self) -> None:
        while True:
            item, done = self._queue.get()
            if item is _STOP[0]:
                return
            try:
                self.handle(item)
            except Exception:  # never let the thread die: nothing else would drain it
                logger.exception("%s failed", self.name)
            finally:
                self._stuck = False
                if self._slow:
                    with self._lock:
                        self._slow.discard(id(item))
                if done is not None:
                    done.set()
            if self._stopping and self._queue.empty():
                return


_STOP: tuple[object, None] = (object(), None)
"""Put by ``close`` to wake the thread."""
