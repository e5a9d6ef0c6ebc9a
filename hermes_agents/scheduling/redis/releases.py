"""``Releases``: ending calls in Redis (a release frees the slot and admits the next ticket in
the same script) and refreshing the ranks of waiting ones, never stalling the caller's thread.

A release rides with the next script of submits while one is on its way (``Combiner.ride``:
no wait at all). Otherwise it is sent on the caller's thread and its reply awaited there for
at most ``RELEASE_WAIT_S`` (with a healthy Redis it has answered by then, and the next ticket
is admitted: one round trip, no thread hand-off). A reply that is late is read to the end by an
``Outbox``'s thread, on the same connection (nothing sent twice), and until that thread moves
again later releases go to it without waiting; so a Redis that stopped answering costs the
app's thread at most ``RELEASE_WAIT_S``, once. Rank refreshes always go to the outbox. While
Redis is believed out (or the outbox is full) a release is left to the link's thread, which
ends the ticket once Redis answers, and a call whose lease surely expired meanwhile is counted
as unscheduled. On an asyncio event loop's thread a release never waits: it is posted to go
with the next script, sent by another thread (``on_event_loop``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hermes_agents.scheduling.redis.call import Call, on_event_loop
from hermes_agents.scheduling.redis.lane import Late
from hermes_agents.scheduling.redis.link import BackendLink
from hermes_agents.scheduling.redis.outbox import Outbox
from hermes_agents.scheduling.redis.scripts import RedisRestartedError

if TYPE_CHECKING:
    import redis

RELEASE_WAIT_S = 0.25
"""How long a release waits, at most, for Redis's reply on the caller's thread."""


@dataclass(frozen=True)
class Rerank:
    """New ranks for these waiting calls, to write to Redis."""

    calls: tuple[Call, ...]


@dataclass(frozen=True)
class LateRelease:
    """A release whose reply was late on the caller's thread: ``late.finish`` reads it."""

    call: Call
    late: Late


class Releases:
    """The outbox of one scheduler's releases and rank refreshes (see the module docstring).

    Args:
        client: Redis (for the rank refreshes).
        out: whether the scheduler believes Redis is out.
        failed: told of a failure of Redis (the scheduler fails open).
        gone: told of a running call whose slot Redis took back (it counts it once).
        current: whether a link is the scheduler's current one for its backend.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        out: Callable[[], bool],
        failed: Callable[[Exception], None],
        gone: Callable[[Call, bool, str], None],
        current: Callable[[BackendLink], bool],
    ) -> None:
        self.client = client
        self.out, self.failed, self.gone, self.current = out, failed, gone, current
        self._outbox: Outbox[Call | Rerank | LateRelease] = Outbox(
            "hermes-redis-outbox", self._send
        )

    def end(self, call: Call) -> None:
        """Free ``call``'s slot (or withdraw it) in Redis (see the module docstring)."""
        if self.out():
            self._later(call)
            return
        self._lost_lease(call)  # nothing answered for a TTL: counted now, not after a timeout
        if on_event_loop():  # never waits: it goes with the next script, sent by another thread
            self._finish(call, lambda: call.link.release(call, wait=False))
            return
        if self._outbox.stuck:  # a late reply is being read: do not wait on Redis again
            if not self._outbox.put(call):
                call.link.release_later(call)  # ended at the link's next renewal
            return
        self._release_now(call, RELEASE_WAIT_S)

    def rerank(self, calls: Sequence[Call]) -> None:
        """Write the calls' new ranks (a full outbox: their old ranks stand)."""
        if calls and not self.out():
            self._outbox.put(Rerank(tuple(calls)))

    def close(self, timeout_s: float) -> None:
        """Let the thread finish for up to ``timeout_s``; what it did not get to is left to
        the links (withdrawn as orphans when they close)."""
        for item in self._outbox.close(timeout_s):
            if isinstance(item, Call):
                item.link.release_later(item)
            elif isinstance(item, LateRelease):  # its connection is closed with the lane
                item.call.link.release_later(item.call)

    def _send(self, item: Call | Rerank | LateRelease) -> None:
        if isinstance(item, Rerank):
            self._refresh(item.calls)
        elif isinstance(item, LateRelease):
            self._finish(item.call, item.late.finish)
        elif self.out():
            self._later(item)
        else:
            self._release_now(item)

    def _later(self, call: Call) -> None:
        call.link.release_later(call)
        self._lost_lease(call)

    def _release_now(self, call: Call, patience_s: float | None = None) -> None:
        try:
            self._finish(call, lambda: call.link.release(call, patience_s))
        except Late as late:  # the outbox's thread reads the reply; later releases queue
            if not self._outbox.put(LateRelease(call, late), stuck=True):
                call.link.release_later(call)  # (closing: the lane's close drops its connection)

    def _finish(self, call: Call, status_of: Callable[[], int | None]) -> None:
        try:
            status = status_of()
        except Late:
            raise
        except RedisRestartedError as error:  # its ticket was lost with Redis's state
            if self.current(call.link):
                self.failed(error)
            status = 0
        except Exception as error:
            self.failed(error)
            self._lost_lease(call)
            return
        call.link.ended(call, status)

    def _lost_lease(self, call: Call) -> None:
        """A call ended while Redis was out: if its lease surely expired meanwhile (nothing
        answered for a TTL), it ran unscheduled (if not, its orphaned release tells later)."""
        if call.link.lease_lost():
            reason = f"a slot on {call.link.keys.backend!r} expired while Redis was out"
            self.gone(call, True, reason)

    def _refresh(self, calls: Sequence[Call]) -> None:
        try:
            pipeline = self.client.pipeline(transaction=False)
            for link in {call.link for call in calls}:
                link.refresh(pipeline, [call for call in calls if call.link is link])
            pipeline.execute()
        except Exception as error:
            self.failed(error)
