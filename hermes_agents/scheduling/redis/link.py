"""``BackendLink``: this process's calls on one backend in Redis (their scripts, batched by
``Combiner``s; where each ticket stands: ``LinkTickets``), and the thread that hears their
grants.

The thread blocks on the process's grant list for the backend (``BLMPOP``, or ``BLPOP`` on a
Redis before 7: woken by the grant itself, never polling; it takes every grant there at once)
and, every third of the lease TTL while the process has calls there, renews the process's
lease and asks where each of its tickets stands: a grant it missed is
answered, a ticket Redis no longer has (expired, dropped as corrupt, lost in a restart) is
handed to the owner (a waiting call fails open; a running one is counted unscheduled).
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from hermes_agents.scheduling.redis.batches import End, SharedReply
from hermes_agents.scheduling.redis.call import Call, Owner
from hermes_agents.scheduling.redis.combiner import (
    MAX_BATCH,
    BatchInterruptedError,
    Combiner,
    Raised,
)
from hermes_agents.scheduling.redis.headroom import headroom_args
from hermes_agents.scheduling.redis.keys import BackendKeys, backends_key
from hermes_agents.scheduling.redis.lane import Late
from hermes_agents.scheduling.redis.scripts import (
    Exchanged,
    NewTicket,
    RedisRestartedError,
    RedisStateError,
    Reply,
    Scripts,
)
from hermes_agents.scheduling.redis.tickets import LinkTickets
from hermes_agents.scheduling.state import BackendLimits

if TYPE_CHECKING:
    import redis

    from hermes_agents.scheduling.redis.lane import Lane

logger = logging.getLogger(__name__)

NO_RANK = 1e18
"""The score of a ticket whose run has no finite rank: behind every ranked one."""
GRANTS_AT_ONCE = 64
"""The most pushed grants the thread takes from Redis in one command."""
WAKE = ""
"""Pushed onto the process's own grant list to wake its thread (closing)."""


class BackendLink:
    """One backend's calls of this process (see the module docstring)."""

    def __init__(
        self,
        owner: Owner,
        keys: BackendKeys,
        limits: BackendLimits,
        *,
        process: str,
        scripts: Scripts,
        listener: Lane,
        lease_ttl_s: float,
        retry_s: float,
        headroom: bool = False,
    ) -> None:
        self.owner, self.keys, self.limits = owner, keys, limits
        self.process = process
        self.scripts = scripts
        self.listener = listener
        """Where the thread blocks (its connection closed by ``Lane.close`` wakes it)."""
        self.lease_ttl_s = lease_ttl_s
        self.renew_every_s = lease_ttl_s / 3
        self.answered_at_s = time.monotonic()
        """When a script last answered (and so renewed the lease)."""
        self.retry_s = retry_s
        self.tickets = LinkTickets()
        """Where each of this process's tickets here stands."""
        self._script_keys = keys.script_keys
        self._grants = keys.grants(process)
        self._args = [
            process,
            str(round(lease_ttl_s * 1000)),
            str(limits.max_concurrency),
            str(limits.token_budget or 0),
            str(round((limits.max_wait_s or 0) * 1000)),
            str(round((limits.max_hold_s or 0) * 1000)),
            *headroom_args(limits, headroom=headroom),  # held-back runs' share (``headroom``)
        ]
        self.epoch = ""
        """The backend's epoch in Redis, from the first reply (``Scripts``)."""
        self._start_lock = threading.Lock()
        self._closed = threading.Event()
        self._retired = False
        self._thread: threading.Thread | None = None
        self._warned_limits = False
        self._submits: Combiner[Call, Call | End] = Combiner(
            self._send_submits, name=f"hermes-redis-sender-{keys.backend}"
        )
        """Submits, with the ends that ride on them (``release``) and the calls of callers that
        never wait (``submit``, ``release``: ``wait=False``)."""
        self._releases: Combiner[End, None] = Combiner(self._send_releases)
        self._blmpop = True
        """Whether Redis has ``BLMPOP`` (7.0 and later; ``_pop_grants``)."""
        self._late: SharedReply | None = None
        """The last batch of ends whose reply was late (``_send_releases``)."""

    # -- calls ----------------------------------------------------------------------------

    def submit(self, call: Call, *, wait: bool = True) -> None:
        """Queue ``call`` in Redis (with the calls other threads submit meanwhile: ``Combiner``);
        a grant answers it (now or from the thread). Raises ``redis.RedisError`` or
        ``RedisStateError`` (the caller fails it open). ``wait=False`` (a caller that must
        not wait on Redis): it goes with the next script, sent by another thread, and a
        failure of that script is the owner's to handle (``Owner.submit_failed``); raises
        ``redis.ConnectionError`` at once once the link is closed."""
        if wait:
            self._submits.run(call)
        elif not self._submits.post(call):
            import redis

            raise redis.ConnectionError("the scheduler was closed")  # as its lane says

    def _send_submits(self, calls: list[Call], riders: list[Call | End]) -> list[None]:
        """One script for ``calls`` and the riders: ends (``release``) and the submits of
        callers that do not wait. Nobody waits for the riders, so what becomes of them is
        settled here."""
        ends = [rider for rider in riders if isinstance(rider, End)]
        news = [*calls, *(rider for rider in riders if isinstance(rider, Call))]
        try:
            done = self.scripts.exchange(
                self._script_keys,
                [*self._args, self.epoch],
                ends=[cast(str, end.call.member) for end in ends],
                news=[
                    NewTicket(_score(c.order), str(max(0, c.ticket.tokens)), c.tier.value, c.app)
                    for c in news
                ],
            )
        except BaseException as error:
            self._unsent(ends, news[len(calls) :], error, told=bool(calls))
            raise
        for end, status in zip(ends, done.statuses, strict=True):
            self.ended(end.call, status)
        self.epoch = done.epoch
        self._check_limits(done.max_concurrency)
        early = self.tickets.named(news, done.members)
        self._answer(done, extra=tuple(early))
        for call in news:
            if call.ended:  # withdrawn while its submit was on its way: ended now
                self.release(call, wait=False)  # (never waiting, never raising, here)
        if self._closed.is_set():  # closed while the script was out: nothing hears grants now
            for call in self.take_waiting():
                self.owner.gone(call, False, "the scheduler was closed while the call waited")
        else:
            self._start()
        return [None] * len(calls)

    def _unsent(
        self, ends: list[End], posted: list[Call], error: BaseException, *, told: bool
    ) -> None:
        """A script with riders failed: the ends' slots were lost with Redis's state (a
        restart: counted) or are ended at the next renewal that works; the posted submits
        fail open (those withdrawn meanwhile have nobody to tell). The owner hears of the
        failure once: from a call that fails open, else here (``told``: the batch's waiting
        calls tell it)."""
        for end in ends:
            if isinstance(error, RedisRestartedError):  # its ticket was lost with Redis's state
                self.ended(end.call, 0)
            else:
                self.tickets.orphan(end.call)
        if not isinstance(error, Exception):  # the sending thread's own interruption
            error = BatchInterruptedError("the thread sending this call to Redis was interrupted")
        for call in posted:
            if not call.ended:
                self.owner.submit_failed(call, error)
                told = True
        if not told:
            self.owner.lost(error)

    def ended(self, call: Call, status: int | None) -> None:
        """``call``'s end in Redis answered ``status``: 0 (its lease had expired, unnoticed
        until now, or Redis lost it) tells the owner its slot was taken back (counted)."""
        if status == 0:
            self.owner.gone(call, True, f"a slot on {self.keys.backend!r} had been taken back")

    def release(
        self, call: Call, patience_s: float | None = None, *, wait: bool = True
    ) -> int | None:
        """End ``call`` in Redis (free its slot, or withdraw it): with the next script of
        submits while one is on its way (at once: its sender settles it), else with the calls
        other threads end meanwhile (``Combiner``); returns the script's status (1 released,
        2 withdrawn, 0 unknown), None if it was never queued (it is ended once it is) or
        rides with the submits. Raises like ``submit``; ``Late`` when no reply came within
        ``patience_s`` (its ``finish`` returns the status, on any thread). ``wait=False``: it
        rides in any case (another thread sends it)."""
        known = self.tickets.leave(call)
        if known is None:  # not queued yet (its submit is still on its way): ended there
            return None
        if not known:  # it left already (gone from Redis, or withdrawn at an outage)
            return 0
        wait_until = None if patience_s is None else time.monotonic() + patience_s
        end = End(call, wait_until)
        if not wait:
            if not self._submits.post(end):  # closed: withdrawn with the orphans, if at all
                self.tickets.orphan(call)
            return None
        if self._submits.ride(end):
            return None
        return cast(int, self._releases.run(end))

    def _send_releases(self, ends: list[End], _riders: list[None]) -> list[object]:
        """One script for ``ends``; each is answered its status, or ``Late`` (whose ``finish``
        reads the batch's reply once, whichever end's runs first), or its error. While an
        earlier batch's reply is late, ``ends`` are not sent: each is answered ``Late``, and
        the first ``finish`` to run sends them (Redis is stalled: waiting on it again, or on
        a new connection's handshake, would hold the threads longer than their patience)."""
        members = [cast(str, end.call.member) for end in ends]
        late_before = self._late
        if late_before is not None and not late_before.settled:
            shared = SharedReply(
                functools.partial(
                    self.scripts.exchange, self._script_keys, [*self._args, self.epoch], members
                )
            )
            return self._late_ends(ends, shared)
        try:
            done = self.scripts.exchange(
                self._script_keys,
                [*self._args, self.epoch],
                ends=members,
                patience_s=End.patience_s(ends),
            )
        except Late as late:
            shared = SharedReply(late.finish)
            self._late = shared
            return self._late_ends(ends, shared)
        except RedisRestartedError:
            raise
        except BaseException:  # an interrupted sender too: the batch's other calls end later
            for end in ends:
                self.tickets.orphan(end.call)  # ended in Redis at the next renewal that works
            raise
        self._answer(done)
        return list(done.statuses)

    def _late_ends(self, ends: list[End], shared: SharedReply) -> list[object]:
        return [
            Raised(Late(functools.partial(self._ended, end.call, index, shared)))
            for index, end in enumerate(ends)
        ]

    def _ended(self, call: Call, index: int, shared: SharedReply) -> int:
        """The status of the ``index``-th end of a batch; its reply answered once."""
        try:
            done, first = shared.read()
        except (Late, RedisRestartedError):
            raise
        except Exception:
            self.tickets.orphan(call)
            raise
        if first:
            self._answer(done)
        return done.statuses[index]

    def lease_lost(self) -> bool:
        """Whether the lease has surely expired: no script answered for a whole TTL."""
        return time.monotonic() - self.answered_at_s > self.lease_ttl_s

    @property
    def active(self) -> bool:
        """Whether its thread still runs (or was never needed yet)."""
        return not self._closed.is_set()

    def retire(self) -> None:
        """No new calls come here (the process took a new name): the thread ends once the
        calls still here ended, and a grant of a ticket it does not know is given back. The
        sender's thread ends now (what was posted and not sent: ``_stop_sender``); the calls
        still here end with scripts of their own."""
        self._retired = True
        self._stop_sender()

    def release_later(self, call: Call) -> None:
        """End ``call`` in Redis once it answers again (it is out now)."""
        if self.tickets.leave(call) is not None:  # (None: ended once its name is known)
            self.tickets.orphan(call)

    def refresh(self, pipeline: redis.client.Pipeline, calls: Sequence[Call]) -> None:
        """Queue a new rank for each waiting call on ``pipeline`` (``ZADD XX``: a ticket that
        left meanwhile is not added back)."""
        scores = {c.member: float(_score(c.order)) for c in calls if c.member}
        if scores:
            pipeline.zadd(self.keys.queue, scores, xx=True)

    def take_waiting(self) -> list[Call]:
        """Every waiting call, taken out (Redis is out: they fail open); their tickets are
        withdrawn once Redis answers again."""
        return self.tickets.take_waiting()

    # -- the thread -----------------------------------------------------------------------

    def close(self) -> None:
        """Stop the threads: the listener ends once its blocking pop returns (at once when the
        scheduler closes its listener lane; see ``join``). Calls posted and not sent yet are
        waiting calls (``take_waiting``); ends posted and not sent are orphans."""
        self._closed.set()
        self._stop_sender()

    def _stop_sender(self) -> None:
        """Close the combiner of submits (its thread ends): ends posted and not sent become
        orphans, calls posted and not sent waiting calls (``take_waiting``)."""
        for rider in self._submits.close():
            if isinstance(rider, End):
                self.tickets.orphan(rider.call)
            else:
                self.tickets.never_sent(rider)

    def join(self, timeout_s: float) -> None:
        """Wait up to ``timeout_s`` for the thread to end (after ``close``)."""
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(max(0.0, timeout_s))

    def _start(self) -> None:
        if self._thread is None:
            with self._start_lock:
                if self._thread is not None:
                    return
                self._thread = threading.Thread(
                    target=self._listen, name=f"hermes-redis-{self.keys.backend}", daemon=True
                )
            self._thread.start()

    def _listen(self) -> None:
        import redis

        renew_at = time.monotonic() + self.renew_every_s
        try:  # for hermes status (off the callers' path)
            self.listener.execute("SADD", backends_key(self.keys.prefix), self.keys.backend)
        except (redis.RedisError, OSError) as error:
            if self._closed.is_set():
                return
            self.owner.lost(error)
        while not self._closed.is_set():
            try:
                timeout = max(0.01, renew_at - time.monotonic())
                members = self._pop_grants(timeout)
                self.owner.reached()
                if members:
                    self._grant(members)
                if time.monotonic() >= renew_at:
                    self.renew()
                    renew_at = time.monotonic() + self.renew_every_s
            except RedisRestartedError as error:
                if self._closed.is_set():
                    return
                if not self._retired:
                    self.owner.lost(error)  # retires this link: its waiting calls fail open
                self._lose_all(str(error))
            except (redis.RedisError, RedisStateError, OSError) as error:
                if self._closed.is_set():
                    return
                self.owner.lost(error)
                self._closed.wait(self.retry_s)
                renew_at = time.monotonic()
            except Exception:  # never let the thread die: nobody would hear grants
                logger.exception("the grant listener of %r failed", self.keys.backend)
                self._closed.wait(self.retry_s)

    def _pop_grants(self, timeout_s: float) -> list[str]:
        """The grants pushed to this process, waiting up to ``timeout_s`` for the first: all
        that are there, up to ``GRANTS_AT_ONCE`` (``BLMPOP``, Redis 7), so that calls granted
        together go on together (and their releases batch); one (``BLPOP``) on an older Redis
        or one that renamed the command away."""
        import redis

        wait = f"{timeout_s:.3f}"
        if self._blmpop:
            try:
                reply = self.listener.execute(
                    "BLMPOP", wait, 1, self._grants, "LEFT", "COUNT", GRANTS_AT_ONCE
                )
            except redis.ResponseError as error:
                if "unknown command" not in str(error).lower():
                    raise
                self._blmpop = False  # an older Redis: one at a time from now on
            else:
                return [str(member) for member in reply[1]] if reply else []
        item = self.listener.execute("BLPOP", self._grants, wait)
        return [str(item[1])] if item else []

    def withdraw_orphans(self) -> bool:
        """End the orphans' tickets in Redis (``MAX_BATCH`` a script); whether there were any.
        Raises like ``submit`` (those not ended yet stay orphans)."""
        orphans = self.tickets.take_orphans()
        for start in range(0, len(orphans), MAX_BATCH):
            chunk = orphans[start : start + MAX_BATCH]
            try:
                done = self.scripts.exchange(
                    self._script_keys, [*self._args, self.epoch], ends=chunk
                )
            except RedisRestartedError:
                raise  # every orphan is gone with the old state
            except Exception:
                self.tickets.restore_orphans(orphans[start:])  # (these too: the next renewal)
                raise
            for member, status in zip(chunk, done.statuses, strict=True):
                call = self.tickets.orphan_ended(member)
                if call is not None and status == 0:  # its slot had been taken back
                    reason = f"a slot on {self.keys.backend!r} expired in Redis"
                    self.owner.gone(call, True, reason)
            self._answer(done)
        return bool(orphans)

    def renew(self) -> None:
        """Renew the lease, withdraw orphans, settle tickets whose state changed unheard."""
        orphans = self.withdraw_orphans()
        asked, orphans_left = self.tickets.standing()
        if self._retired and not asked and not orphans_left:
            self._closed.set()
        if not asked:
            if orphans:
                self.owner.reached()
            return
        args = [*self._args, self.epoch, *asked]
        reply = self.scripts.renew(self._script_keys, args, len(asked))
        self.owner.reached()
        for member, state in zip(asked, reply.status, strict=True):
            if state == 1:
                self._grant([member])
            elif state == 2:
                self._gone(member)
        self._answer(reply)
        self.owner.renewed()

    # -- answers --------------------------------------------------------------------------

    def _answer(self, reply: Reply | Exchanged, extra: tuple[str, ...] = ()) -> None:
        self.answered_at_s = time.monotonic()
        self.owner.reached()
        if reply.corrupt:
            self.owner.corrupt(self.keys.backend, reply.corrupt)
        if reply.mine or extra:
            self._grant([*reply.mine, *extra])

    def _grant(self, members: Sequence[str]) -> None:
        for member in members:
            call = None if member == WAKE else self.tickets.grant(member, retired=self._retired)
            if call is not None and not self.owner.granted(call):  # answered already:
                self.release(call, wait=False)  # the slot goes back

    def _gone(self, member: str) -> None:
        call, running = self.tickets.gone(member)
        if call is not None:
            reason = (
                f"its slot on {self.keys.backend!r} was taken back in Redis (its lease expired, "
                "or it was held past max_hold_s)"
                if running
                else f"Redis lost its ticket on {self.keys.backend!r}"
            )
            self.owner.gone(call, running, reason)

    def _lose_all(self, reason: str) -> None:
        """Redis lost this link's state: every call still here is gone; the thread ends."""
        for member in self.tickets.lose_all():
            self._gone(member)
        logger.debug("backend %r: %s", self.keys.backend, reason)
        self._closed.set()

    def _check_limits(self, stored: int) -> None:
        if stored != self.limits.max_concurrency and not self._warned_limits:
            self._warned_limits = True
            logger.warning(
                "backend %r: Redis holds max_concurrency %d, this host's config says %d; the "
                "stored limits apply (give every host the same config, or delete %s to reset)",
                self.keys.backend,
                stored,
                self.limits.max_concurrency,
                self.keys.meta,
            )


def _score(order: float | None) -> str:
    """A call's ``order`` as a queue score: NaN, infinite or missing ones wait behind every
    other (Redis refuses a NaN score, and the error would fail every call open)."""
    if order is None or not math.isfinite(order):
        return repr(NO_RANK)
    return repr(max(-NO_RANK, min(float(order), NO_RANK)))
