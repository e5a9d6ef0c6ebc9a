"""``LinkTickets``: where each of this process's tickets on one backend stands, under one lock.

A call's ticket is *waiting* (queued in Redis under its name) until a grant makes it *held*; it
leaves when it is released or withdrawn, or found gone from Redis. Tickets that left are
remembered (the last ``REMEMBERED``), so that a late or repeated grant of one is ignored; a
grant heard before its submit's reply (the listener may be quicker than the sender) is kept as
*early* until the name is known. *Orphans* are tickets to end in Redis once it answers again
(failed open while it was out, or whose script failed); the held ones among them are kept, so
that a slot Redis took back meanwhile is counted. Calls posted and not sent when the link
closed are waiting calls too (``take_waiting``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

from hermes_agents.scheduling.redis.call import Call

REMEMBERED = 4096
"""Tickets remembered after they left (a late or repeated grant of one is ignored)."""


class LinkTickets:
    """This process's tickets on one backend (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.waiting: dict[str, Call] = {}
        self.held: dict[str, Call] = {}
        self._orphans: list[str] = []
        self._orphan_calls: dict[str, Call] = {}
        self._early: OrderedDict[str, None] = OrderedDict()
        self._left: OrderedDict[str, None] = OrderedDict()
        self._never_sent: list[Call] = []

    def named(self, calls: Sequence[Call], members: Sequence[str]) -> list[str]:
        """``calls`` were queued under these names (in order): they wait now. Returns the
        names whose grant was heard already (``grant`` them)."""
        early = []
        with self._lock:
            for call, member in zip(calls, members, strict=True):
                call.member = member
                self.waiting[member] = call
                if member in self._early:
                    del self._early[member]
                    early.append(member)
        return early

    def leave(self, call: Call) -> bool | None:
        """``call`` leaves (released or withdrawn): whether it was here (False: it left
        already); None when it has no name yet (its submit is on its way): it is marked
        ``ended``, and ended in Redis once the name is known."""
        with self._lock:
            member = call.member
            if member is None:
                call.ended = True
                return None
            known = self.waiting.pop(member, None) or self.held.pop(member, None)
            self._remember(member)
        return known is not None

    def grant(self, member: str, *, retired: bool) -> Call | None:
        """A grant of ``member`` was heard: its call, held now, whose caller is to be told;
        None when there is nobody to tell: the ticket left, its submit's reply is not in yet
        (kept as early), it is a lost submit's ticket on a ``retired`` link (an orphan now), or
        its call was withdrawn before its name was known (ended where the name is learnt)."""
        with self._lock:
            call = self.waiting.pop(member, None)
            if call is None:
                if retired and member not in self.held:
                    self._orphans.append(member)
                elif member not in self._left and member not in self.held:
                    self._early[member] = None
                    while len(self._early) > REMEMBERED:
                        self._early.popitem(last=False)
                return None
            self.held[member] = call
            call.granted = True
            return None if call.ended else call

    def gone(self, member: str) -> tuple[Call | None, bool]:
        """Redis no longer holds ``member``: its call, if it was here, and whether it was
        running (held) rather than waiting."""
        with self._lock:
            call = self.waiting.pop(member, None)
            running = call is None
            if call is None:
                call = self.held.pop(member, None)
            self._remember(member)
        return call, running

    def standing(self) -> tuple[list[str], bool]:
        """The names of the tickets waiting or held, and whether orphans are left."""
        with self._lock:
            return [*self.waiting, *self.held], bool(self._orphans)

    # -- orphans and outages --------------------------------------------------------------

    def orphan(self, call: Call) -> None:
        """End ``call``'s ticket in Redis at the next renewal that works."""
        assert call.member is not None
        with self._lock:
            self._orphans.append(call.member)
            if call.granted:
                self._orphan_calls[call.member] = call

    def take_orphans(self) -> list[str]:
        """The orphans, taken out (``restore_orphans`` those not ended after all)."""
        with self._lock:
            orphans, self._orphans = self._orphans, []
        return orphans

    def restore_orphans(self, members: Sequence[str]) -> None:
        """Orphans not ended after all: first at the next renewal."""
        with self._lock:
            self._orphans[:0] = members

    def orphan_ended(self, member: str) -> Call | None:
        """An orphan was ended in Redis: its call, if it held a slot."""
        with self._lock:
            return self._orphan_calls.pop(member, None)

    def never_sent(self, call: Call) -> None:
        """``call`` was posted and not sent when the link closed: a waiting call."""
        with self._lock:
            self._never_sent.append(call)

    def take_waiting(self) -> list[Call]:
        """Every waiting call, taken out (they fail open); their tickets become orphans."""
        with self._lock:
            calls = [*self.waiting.values(), *self._never_sent]
            self.waiting.clear()
            self._never_sent.clear()
            for call in calls:
                if call.member is not None:
                    self._orphans.append(call.member)
                    self._remember(call.member)
        return calls

    def lose_all(self) -> list[str]:
        """Redis lost the backend's state: no orphan is left to end; the names of the tickets
        still here (each ``gone``)."""
        with self._lock:
            self._orphans.clear()
            self._orphan_calls.clear()
            return [*self.waiting, *self.held]

    def _remember(self, member: str) -> None:
        self._left[member] = None
        while len(self._left) > REMEMBERED:
            self._left.popitem(last=False)
