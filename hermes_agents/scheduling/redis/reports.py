"""What a ``RedisScheduler`` says about Redis: the reason a call runs unscheduled, errors about
what Redis holds (each kind logged once), unreadable tickets, this process's name and the
counters it publishes for ``hermes status``."""

from __future__ import annotations

import json
import logging
import secrets
import socket
import time
from collections.abc import Sequence

from hermes_agents.scheduling.redis.scripts import RedisStateError

logger = logging.getLogger("hermes_agents.scheduling.redis.scheduler")

MAX_STATE_ERRORS = 64
"""Distinct errors about what Redis holds that are each logged once (then: every time)."""


def process_name(pid: int) -> str:
    """A new name in Redis for process ``pid`` of this host (``<hostname>-<pid>-<6 hex>``)."""
    return f"{socket.gethostname()}-{pid}-{secrets.token_hex(3)}"


def host_record(pid: int, unscheduled_calls: int) -> str:
    """This process's counters as published in ``hermes:hosts`` (JSON)."""
    record = {
        "host": socket.gethostname(),
        "pid": pid,
        "unscheduled_calls": unscheduled_calls,
        "updated_unix_s": time.time(),
    }
    return json.dumps(record)


def failure_reason(display: str, error: Exception) -> str:
    """Why calls run unscheduled after ``error`` from the Redis at ``display``."""
    if isinstance(error, RedisStateError):
        return f"Redis at {display} holds what hermes cannot use ({error})"
    return f"Redis at {display} is unreachable ({type(error).__name__}: {error})"


def log_corrupt(display: str, backend: str, tickets: Sequence[str]) -> None:
    """Say that Redis dropped these unreadable tickets of ``backend``."""
    logger.error(
        "Redis at %s held %d unreadable ticket(s) on backend %r (%s); they were dropped, "
        "their calls go ahead unscheduled",
        display,
        len(tickets),
        backend,
        ", ".join(tickets[:5]),
    )


class StateErrors:
    """Logs each distinct error about what Redis holds once (it repeats on every call)."""

    def __init__(self, display: str) -> None:
        self.display = display
        self._seen: set[str] = set()

    def log(self, error: RedisStateError) -> None:
        """Log ``error`` unless its text was logged already."""
        text = str(error)
        if text not in self._seen:
            if len(self._seen) < MAX_STATE_ERRORS:
                self._seen.add(text)
            logger.error("Redis at %s: %s", self.display, text)
