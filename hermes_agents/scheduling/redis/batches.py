"""What a batch of ends (releases) carries through the ``Combiner`` of a backend's link:
each ``End`` (the call and its thread's patience), and the batch's ``SharedReply`` (read once,
by whichever thread needs it first; answered once)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from hermes_agents.scheduling.redis.call import Call
    from hermes_agents.scheduling.redis.scripts import Exchanged


class End(NamedTuple):
    """A call to end in Redis, and until when its thread waits for the reply (``release``:
    a monotonic time; None: the connection's own timeout)."""

    call: Call
    wait_until: float | None

    @staticmethod
    def patience_s(ends: Sequence[End]) -> float | None:
        """How long the batch ``ends`` waits for its reply: until the first of its threads'
        times (so a thread queued behind a late batch waits no longer than alone); None if
        one of them waits for the connection's own timeout."""
        times = [end.wait_until for end in ends if end.wait_until is not None]
        if len(times) < len(ends):
            return None
        return max(0.001, min(times, default=0.0) - time.monotonic())


class SharedReply:
    """A batch of ends' reply: read once (now, or by the first ``Late.finish`` that runs),
    answered once."""

    def __init__(self, finish: Callable[[], Exchanged]) -> None:
        self.done: Exchanged | None = None
        self.finish = finish
        self._lock = threading.Lock()
        self._answered = False
        self._error: Exception | None = None

    @property
    def settled(self) -> bool:
        """Whether the reply was read (or reading it failed)."""
        return self.done is not None or self._error is not None

    def read(self) -> tuple[Exchanged, bool]:
        """The reply, and whether this is the first read (that one answers it); raises what
        reading it raised, to every reader."""
        with self._lock:
            if self.done is None and self._error is None:
                try:
                    self.done = self.finish()
                except Exception as error:
                    self._error = error
            if self._error is not None:
                raise self._error
            assert self.done is not None
            first, self._answered = not self._answered, True
            return self.done, first
