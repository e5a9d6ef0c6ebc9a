"""The admission scripts (``lua/*.lua``, run on a ``Lane``) and their replies, checked.

``exchange`` (end tickets, queue new ones: the releases and submits of one or several calls) and
``renew`` each run atomically in Redis: ``lua/common.lua`` (the
backend's limits and schema, reaping expired processes and overdue slots, admission in rank
order) followed by the script's own part. Replies are checked before use: anything not of the
documented shape raises ``RedisStateError`` (the affected call runs unscheduled).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any, NamedTuple

from hermes_agents.errors import HermesError
from hermes_agents.scheduling.redis.keys import TICKET
from hermes_agents.scheduling.redis.lane import InFlight, Lane, Late

if TYPE_CHECKING:
    import redis


class RedisStateError(HermesError):
    """What Redis holds (or answered) is not this scheduler's: another schema version, keys of
    another layout, a corrupt reply. The calls it affects run unscheduled."""


class RedisRestartedError(HermesError):
    """Redis lost a backend's state under this process (a restart, a flush): its epoch
    changed. Handled like an outage: the process's calls there fail open and it starts over
    under a new name (ticket names start over too, so none of its old ones may be trusted)."""


def _source(name: str) -> str:
    return resources.files("hermes_agents.scheduling.redis").joinpath("lua", name).read_text()


class NewTicket(NamedTuple):
    """A ticket to queue: its score (``rank``), tokens, tier and app, as the script reads them
    (a named tuple: one is made for every call, and it is the cheapest record to make)."""

    rank: str
    tokens: str
    tier: str
    app: str


class Exchanged(NamedTuple):
    """An exchange's answer: one status per ended ticket (1 released, 2 withdrawn, 0 unknown:
    its lease had expired), the new tickets' names in their order, this process's grants (the
    new ones admitted at once among them), the corrupt tickets Redis dropped, the backend's
    stored ``max_concurrency`` and its epoch (a named tuple, as ``NewTicket``)."""

    statuses: tuple[int, ...]
    members: tuple[str, ...]
    mine: tuple[str, ...]
    corrupt: tuple[str, ...]
    max_concurrency: int
    epoch: str


@dataclass(frozen=True)
class Reply:
    """A script's answer: ``status`` (submit: the new ticket's name; release: 1 released,
    2 withdrawn, 0 unknown; renew: one state per ticket asked about), this process's grants,
    and the corrupt tickets Redis dropped; ``epoch``: the backend's (see ``Scripts``)."""

    status: Any
    mine: tuple[str, ...]
    corrupt: tuple[str, ...]
    epoch: str
    max_concurrency: int = 0


class Scripts:
    """The admission scripts, run on ``lane`` (``EVALSHA``; loaded on first use and again
    after a Redis restart): ``exchange`` (end tickets and queue new ones in one step; a lone
    submit or release is an exchange of one) and ``renew``.

    Every reply's last element is the backend's epoch (written when its ``meta`` was made):
    one that changes under a process means Redis lost the backend's state (a restart, a flush)
    and ticket names may repeat, so ``RedisRestartedError`` is raised and the process starts
    over under a new name."""

    def __init__(self, client: redis.Redis, lane: Lane | None = None) -> None:
        common = _source("common.lua")
        self.client = client
        self.lane = lane if lane is not None else Lane(client)
        self._exchange = _Script(common + _source("exchange.lua"))
        self._renew = _Script(common + _source("renew.lua"))

    def exchange(
        self,
        keys: list[str],
        args: list[str],
        ends: Sequence[str] = (),
        news: Sequence[NewTicket] = (),
        patience_s: float | None = None,
    ) -> Exchanged:
        """End the tickets ``ends`` (free their slots, or withdraw them) and queue ``news``, in
        one script (``args``: the nine common arguments). ``patience_s``: how long to wait for
        the reply before raising ``Late`` (its ``finish`` returns the ``Exchanged``); None: the
        connection's own timeout."""
        script = self._exchange
        argv = [*args, str(len(ends)), *ends]
        for new in news:
            argv += new
        in_flight = self.lane.send("EVALSHA", script.sha, len(keys), *keys, *argv)
        try:
            raw = self._reply(script, in_flight, keys, argv, patience_s)
        except Late:
            finish = functools.partial(self._reply, script, in_flight, keys, argv, None)
            raise Late(lambda: _exchanged(finish(), len(ends), len(news))) from None
        return _exchanged(raw, len(ends), len(news))

    def submit(self, keys: list[str], args: list[str]) -> Reply:
        """Queue a ticket (``args``: the nine common ones, then rank, tokens, tier, app);
        reply ``status`` is its name."""
        rank, tokens, tier, app = args[9:13]
        done = self.exchange(keys, args[:9], news=(NewTicket(rank, tokens, tier, app),))
        return Reply(done.members[0], done.mine, done.corrupt, done.epoch, done.max_concurrency)

    def release(self, keys: list[str], args: list[str]) -> Reply:
        """End a ticket (``args``: the nine common ones, then its name); reply ``status``: 1
        released, 2 withdrawn, 0 unknown."""
        done = self.exchange(keys, args[:9], ends=(args[9],))
        return Reply(done.statuses[0], done.mine, done.corrupt, done.epoch, done.max_concurrency)

    def renew(self, keys: list[str], args: list[str], asked: int) -> Reply:
        """Renew the lease; reply ``status``: a state (0, 1, 2) per ticket asked about."""
        reply = _list(self._run(self._renew, keys, args), 4)
        states = tuple(_count(state) for state in _list(reply[0], asked))
        if any(state > 2 for state in states):
            raise RedisStateError(f"a renewal answered states {states}")
        return Reply(states, _tickets(reply[1]), _tickets(reply[2]), _epoch(reply[3]))

    def _run(self, script: _Script, keys: list[str], args: list[str]) -> Any:
        in_flight = self.lane.send("EVALSHA", script.sha, len(keys), *keys, *args)
        return self._reply(script, in_flight, keys, args, None)

    def _reply(
        self,
        script: _Script,
        in_flight: InFlight,
        keys: list[str],
        args: list[str],
        patience_s: float | None,
    ) -> Any:
        import redis

        try:
            try:
                return in_flight.reply(patience_s)
            except redis.exceptions.NoScriptError:  # loaded, then run again (not in a hurry)
                self.lane.execute("SCRIPT", "LOAD", script.source)
                return self.lane.execute("EVALSHA", script.sha, len(keys), *keys, *args)
        except redis.ResponseError as error:
            text = str(error)
            if "HERMES_EPOCH" in text:
                raise RedisRestartedError(f"Redis lost its state ({text})") from error
            if "HERMES_" in text or "WRONGTYPE" in text:
                raise RedisStateError(_explain(text)) from error
            raise


@dataclass(frozen=True)
class _Script:
    """A script's source and its SHA1 (what ``EVALSHA`` names it by)."""

    source: str

    @property
    def sha(self) -> str:
        """The SHA1 of the source, hex."""
        return _sha(self.source)


@functools.cache
def _sha(source: str) -> str:
    return hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()


_EXPLAINED = (
    (
        "HERMES_ARGUMENT",
        "a script argument refused, nothing done: {}; every host must run one version",
    ),
    ("HERMES_SCHEMA", "wrong schema version: {}; clear the backend's keys or upgrade every host"),
    ("HERMES_LAYOUT", "a foreign key layout: {}; use another key prefix or database"),
)
"""The scripts' refusals (a marker in the error's text) and what each means to a person."""


def _explain(text: str) -> str:
    for marker, meaning in _EXPLAINED:
        if marker in text:
            return meaning.format(text.split(marker, 1)[1].strip())
    return f"a key of another type where hermes keeps its queues ({text}); use another database"


def _exchanged(value: object, ends: int, news: int) -> Exchanged:
    statuses, members, mine, corrupt, cap, epoch = _list(value, 6)
    if (
        type(statuses) is not list
        or len(statuses) != ends
        or not all(type(status) is int and 0 <= status <= 2 for status in statuses)
    ):
        raise RedisStateError(f"a release answered statuses {statuses!r:.80}")
    named = _tickets(members)
    if len(named) != news:
        raise RedisStateError(f"{news} tickets queued, {len(named)} named")
    return Exchanged(
        tuple(statuses), named, _tickets(mine), _tickets(corrupt), _count(cap), _epoch(epoch)
    )


def _list(value: object, size: int) -> list[Any]:
    if not isinstance(value, list) or len(value) != size:
        raise RedisStateError(f"an admission script answered {value!r:.80}")
    return value


def _count(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise RedisStateError(f"an admission script answered {value!r:.80} for a count")
    return value


def _ticket(value: object) -> str:
    if not isinstance(value, str) or TICKET.fullmatch(value) is None:
        raise RedisStateError(f"an admission script answered {value!r:.80} for a ticket")
    return value


def _epoch(value: object) -> str:
    if not isinstance(value, str) or not value or len(value) > 64:
        raise RedisStateError(f"an admission script answered {value!r:.80} for an epoch")
    return value


def _tickets(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise RedisStateError(f"an admission script answered {value!r:.80} for tickets")
    if not value:  # most replies (no grant of another call, nothing corrupt)
        return ()
    return tuple([_ticket(item) for item in value])
