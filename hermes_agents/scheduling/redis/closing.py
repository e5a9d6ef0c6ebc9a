"""``shut_down``: how a ``RedisScheduler`` closes its links (kept apart from the scheduler)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hermes_agents.scheduling.redis.call import Call
    from hermes_agents.scheduling.redis.lane import Lane
    from hermes_agents.scheduling.redis.link import BackendLink

CLOSE_WAIT_S = 2.0
"""How long closing waits, in all, for the link threads to end."""


def shut_down(links: Sequence[BackendLink], listener: Lane, fail: Callable[[Call], None]) -> None:
    """Stop ``links``' threads (``listener`` closed: every blocking pop returns at once), hand
    each waiting call to ``fail`` (it goes ahead unscheduled), withdraw their tickets in Redis
    (not again once it failed to answer) and wait up to ``CLOSE_WAIT_S`` for the threads."""
    for link in links:
        link.close()
    listener.close()
    for call in [call for link in links for call in link.take_waiting()]:
        fail(call)
    for link in links:
        try:
            link.withdraw_orphans()
        except Exception:
            break
    deadline = time.monotonic() + CLOSE_WAIT_S
    for link in links:
        link.join(deadline - time.monotonic())
