"""``Outage``: whether this process believes Redis is out, and the probe that ends it.

While Redis is out every call runs at once, unscheduled: no call waits on a Redis that does not
answer. Whether it is back is asked off the callers' threads: a probe thread, started when the
outage begins, tries Redis every ``retry_s`` (each try may take up to the connect or command
timeout there) and reports the first answer (``back``); the next call is scheduled again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)


class Outage:
    """Redis believed out or not; ``probe`` raises while it is out, ``back`` is told when a
    probe answered (see the module docstring)."""

    def __init__(
        self, probe: Callable[[], object], back: Callable[[], None], *, retry_s: float
    ) -> None:
        self.probe = probe
        self.back = back
        self.retry_s = retry_s
        self._lock = threading.Lock()
        self._out = False
        self._closed = False
        self._probing = False
        self._wake = threading.Event()

    @property
    def out(self) -> bool:
        """Whether calls should run unscheduled now (Redis out, or the scheduler closed)."""
        return self._out

    def begin(self) -> bool:
        """Redis failed: calls run unscheduled until a probe answers; whether this began a new
        outage (it was believed up)."""
        with self._lock:
            first = not self._out
            self._out = True
            start = not self._probing and not self._closed
            self._probing = self._probing or start
        if start:
            thread = threading.Thread(target=self._probe_loop, name="hermes-redis-probe")
            thread.daemon = True
            thread.start()
        return first

    def end(self) -> bool:
        """Redis answered: whether an outage ended (never after ``close``)."""
        with self._lock:
            if self._closed:
                return False
            was_out, self._out = self._out, False
        return was_out

    def close(self) -> None:
        """For good: calls run unscheduled, the probe stops."""
        with self._lock:
            self._closed = self._out = True
        self._wake.set()

    def _probe_loop(self) -> None:
        while True:
            self._wake.wait(self.retry_s)
            with self._lock:
                if self._closed or not self._out:
                    self._probing = False
                    return
            try:
                self.probe()
            except Exception as error:  # still out: try again in retry_s
                logger.debug("Redis is still out (%s: %s)", type(error).__name__, error)
                continue
            try:
                self.back()
            except Exception:
                logger.exception("resuming scheduling failed")
