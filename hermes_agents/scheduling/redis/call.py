"""``Call``: one call of this process through Redis, ``Owner``: what a backend's link reports
about its calls to the scheduler that owns them, and ``on_event_loop``."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from hermes_agents.scheduling.ticket import Ticket
from hermes_agents.scheduling.tiers import Tier

if TYPE_CHECKING:
    from hermes_agents.scheduling.redis.link import BackendLink

__all__ = ["Call", "Owner", "on_event_loop"]


def on_event_loop() -> bool:
    """Whether this thread runs an asyncio event loop now: a call made here must never wait on
    Redis (it would stall every task of the loop; ``BackendLink.submit``: ``wait=False``)."""
    return asyncio._get_running_loop() is not None


@dataclass(eq=False)
class Call:
    """One call of this process through Redis: the caller's ticket, the in-process twin that
    keeps its run's position and rank, its place in Redis's queue (``order``: the policy's
    priority of its run, lower first; the Gittins rank under ``gittins``, the tier and the
    deadline under ``+tiers`` and deadline policies), its run's tier (the headroom in Redis:
    ``headroom``), and its ticket name in Redis once queued."""

    ticket: Ticket
    inner: Ticket
    link: BackendLink
    run_id: str
    rank: float | None
    app: str
    order: float | None = None
    tier: Tier = Tier.STANDARD
    member: str | None = None
    granted: bool = field(default=False)
    ended: bool = False
    """Released or withdrawn before its ticket had a name (its submit on its way): ended in
    Redis once the name is known."""


class Owner(Protocol):
    """What a link reports to its scheduler."""

    def granted(self, call: Call) -> bool:
        """``call`` was admitted; False if its caller was answered already."""

    def submit_failed(self, call: Call, error: Exception) -> None:
        """Queueing ``call`` in Redis failed with ``error``: it goes ahead unscheduled."""

    def gone(self, call: Call, running: bool, reason: str) -> None:
        """Redis no longer holds ``call`` (running: its lease expired)."""

    def lost(self, error: Exception) -> None:
        """Redis failed (unreachable, restarted)."""

    def reached(self) -> None:
        """A command on Redis worked."""

    def corrupt(self, backend: str, tickets: Sequence[str]) -> None:
        """Redis dropped these tickets of ``backend``: their records were unreadable."""

    def renewed(self) -> None:
        """A lease was renewed (the scheduler may publish its counters)."""
