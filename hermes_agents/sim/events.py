"""The event loop: a virtual clock and a heap of timed actions (SimPy's core, smaller).

Events are ``(time_s, sequence, timer)`` entries in a heap; the sequence number breaks ties in
scheduling order, so a run is deterministic. Cancelling a timer marks it and the loop skips it
when it comes up (lazy deletion keeps cancel O(1)).

After the last event of an instant (no more events at the current time), the loop calls
``settle``: the simulator uses it to ask the scheduling core for admissions once per instant,
after every release and submission of that instant has been recorded.

>>> loop = EventLoop()
>>> seen = []
>>> _ = loop.after(2.0, lambda: seen.append(loop.now))
>>> _ = loop.after(1.0, lambda: seen.append(loop.now))
>>> loop.run()
>>> seen
[1.0, 2.0]
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from itertools import count

from hermes_agents.errors import ValidationError

Action = Callable[[], None]


class Timer:
    """A scheduled action; ``cancel()`` stops it from running."""

    __slots__ = ("action", "cancelled", "time_s")

    def __init__(self, time_s: float, action: Action) -> None:
        self.time_s = time_s
        self.action = action
        self.cancelled = False

    def cancel(self) -> None:
        """Do not run this action (harmless if it already ran)."""
        self.cancelled = True


class EventLoop:
    """A virtual clock (``now``, seconds) and the actions scheduled on it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.events_run = 0
        self._heap: list[tuple[float, int, Timer]] = []
        self._sequence = count()

    def clock(self) -> float:
        """The current virtual time (a clock to inject into the scheduling core)."""
        return self.now

    def at(self, time_s: float, action: Action) -> Timer:
        """Run ``action`` at ``time_s`` (not before now)."""
        if not time_s >= self.now:  # also rejects NaN
            raise ValidationError(
                f"cannot schedule at {time_s!r}, before now ({self.now})", "argument 'time_s'"
            )
        timer = Timer(time_s, action)
        heapq.heappush(self._heap, (time_s, next(self._sequence), timer))
        return timer

    def after(self, delay_s: float, action: Action) -> Timer:
        """Run ``action`` ``delay_s`` seconds from now."""
        return self.at(self.now + delay_s, action)

    def run(self, until_s: float = math.inf, settle: Action | None = None) -> None:
        """Run events in time order up to ``until_s``; ``settle`` ends every instant."""
        heap = self._heap
        while True:
            if not heap or heap[0][0] > self.now:
                if settle is not None:
                    settle()
                if not heap or heap[0][0] > until_s:
                    return
            time_s, _, timer = heapq.heappop(heap)
            if timer.cancelled:
                continue
            self.now = time_s
            self.events_run += 1
            timer.action()

    @property
    def pending(self) -> int:
        """Events still in the heap (cancelled ones included until they come up)."""
        return len(self._heap)
