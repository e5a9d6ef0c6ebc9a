"""``SharedClock``: the clock a Redis scheduler's runs are ordered on, comparable across hosts.

Priorities that are times (arrival order, deadlines: ``fcfs``, ``app-fcfs``, ``edf``,
``hermes-ddl``) must mean the same moment on every host, and ``time.monotonic()`` starts at an
arbitrary point on each. This clock is the monotonic clock moved to the wall clock once, when
the scheduler is made: it never steps back (an NTP correction later does not move it), and two
hosts agree to within their wall clocks' skew at their start (milliseconds under NTP).

>>> clock = SharedClock()
>>> abs(clock() - time.time()) < 1.0
True
>>> later = time.monotonic() + 5.0
>>> abs(clock.from_monotonic(later) - (clock() + 5.0)) < 1.0
True
"""

from __future__ import annotations

import time

__all__ = ["SharedClock"]


class SharedClock:
    """Seconds since the epoch, advancing with ``time.monotonic()`` (see the module docstring)."""

    def __init__(self) -> None:
        self.offset_s = time.time() - time.monotonic()
        """What this clock adds to ``time.monotonic()``."""

    def __call__(self) -> float:
        """Now."""
        return time.monotonic() + self.offset_s

    def from_monotonic(self, when: float) -> float:
        """``when``, a time on ``time.monotonic()`` (the interface's deadlines), on this clock."""
        return when + self.offset_s
