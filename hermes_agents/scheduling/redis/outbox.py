"""``Outbox``: writes to Redis that a caller need not wait for, done in order by one thread.

A late release (``releases``), a rank refresh or a profile row goes on a bounded queue and the
caller goes on; the outbox's own thread hands each item to ``handle``. So a Redis that stops
answering (a cut link drops packets: each command waits out its timeout) stalls that thread,
never the app's.

An item known to be slow (a late reply being read) is put as ``stuck``: until the thread is
done with it, the outbox is ``stuck`` on a slow Redis and callers do not wait on Redis
themselves. A full queue refuses the item (``put`` returns False): the caller has its fallback.
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
        self._queue: queue.Queue[Item] = queue.Queue(capacity)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._slow: set[int] = set()
        """The ids of items put as ``stuck`` and not handled yet."""
        self._stopping = False

    @property
    def stuck(self) -> bool:
        """Whether the thread is believed stuck on a slow Redis: an item put as ``stuck`` is not
        handled yet."""
        return bool(self._slow)

    def put(self, item: Item, *, stuck: bool = False) -> bool:
        """Queue ``item``. ``stuck``: the item is known to be slow (``stuck`` holds until the
        thread is done with it). False when the queue is full or the outbox closed: the item
        was not taken."""
        if self._stopping:
            return False
        self._start()
        if stuck:
            with self._lock:
                self._slow.add(id(item))
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            if stuck:
                with self._lock:
                    self._slow.discard(id(item))
            return False
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
                item = self._queue.get_nowait()
            except queue.Empty:
                self._wake()  # a thread still there ends at once
                return left
            if item is not _STOP:
                left.append(item)

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
            item = self._queue.get()
            if item is _STOP:
                return
            try:
                self.handle(item)
            except Exception:  # never let the thread die: nothing else would drain it
                logger.exception("%s failed", self.name)
            finally:
                if self._slow:
                    with self._lock:
                        self._slow.discard(id(item))
            if self._stopping and self._queue.empty():
                return


_STOP = object()
"""Put by ``close`` to wake the thread."""
