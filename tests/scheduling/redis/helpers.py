"""What the Redis scheduler's tests share: schedulers on the test's Redis, each one a 'host' of
its own, the one-slot limits, waiting for a condition (``tests.waiting``), and checking that one
slot is enforced."""

from __future__ import annotations

from collections.abc import Mapping

from hermes_agents.scheduling.redis.address import RedisAddress
from hermes_agents.scheduling.redis.factory import OPEN
from hermes_agents.scheduling.redis.scheduler import RedisScheduler
from hermes_agents.scheduling.runtime import LocalScheduler
from hermes_agents.scheduling.state import BackendLimits, Usage
from hermes_agents.scheduling.ticket import Answer, Ticket
from tests.waiting import wait_for

ONE = {"llm": BackendLimits(1)}
"""One backend, ``llm``, that runs one call at a time."""


def host(
    url: str,
    limits: Mapping[str, BackendLimits],
    *,
    lease_ttl_s: float = 3.0,
    retry_s: float = 0.2,
) -> RedisScheduler:
    """A scheduler on ``url`` with these limits and an in-process twin without a store."""
    local = LocalScheduler.in_process(dict.fromkeys(limits, OPEN))
    address = RedisAddress.parse(url)
    return RedisScheduler(address, local, limits, lease_ttl_s=lease_ttl_s, retry_s=retry_s)


def assert_one_slot(scheduler: RedisScheduler, holder: Ticket) -> None:
    """With ``holder`` granted on ``llm``, a second call waits until it is released (capacity 1
    is enforced), then runs; both are released."""
    other = Ticket("llm")
    scheduler.submit(other)
    assert other.answer is None  # capacity 1 is enforced again
    scheduler.release(holder, Usage())
    assert other.wait(5) is Answer.GRANTED
    scheduler.release(other, Usage())


__all__ = ["ONE", "assert_one_slot", "host", "wait_for"]
