"""The admission scripts (``lua/*.lua``, run on a ``Lane``) and their replies, checked.

``submit``, ``release`` and ``renew`` each run atomically in Redis: ``lua/common.lua`` (the
backend's limits and schema, reaping expired processes and overdue slots, admission in rank
order) followed by the script's own part. Replies are checked before use: anything not of the
documented shape raises ``RedisStateError`` (the affected call runs unscheduled).
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

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
    """The three admission scripts, run on ``lane`` (``EVALSHA``; loaded on first use and
    again after a Redis restart).

    Every reply's last element is the backend's epoch (written when its ``meta`` was made):
    one that changes under a process means Redis lost the backend's state (a restart, a flush)
    and ticket names may repeat, so ``RedisRestartedError`` is raised and the process starts
    over under a new name."""

    def __init__(self, client: redis.Redis, lane: Lane | None = None) -> None:
        common = _source("common.lua")
        self.client = client
        self.lane = lane if lane is not None else Lane(client)
        self._submit = _Script(common + _source("submit.lua"))
        self._release = _Script(common + _source("release.lua"))
        self._renew = _Script(common + _source("renew.lua"))

    def submit(self, keys: list[str], args: list[str]) -> Reply:
        """Queue a ticket; reply ``status`` is its name."""
        reply = _list(self._run(self._submit, keys, args), 5)
        return Reply(
            _ticket(reply[0]),
            _tickets(reply[1]),
            _tickets(reply[2]),
            _epoch(reply[4]),
            _count(reply[3]),
        )

    def release(self, keys: list[str], args: list[str], patience_s: float | None = None) -> Reply:
        """End a ticket; reply ``status``: 1 released, 2 withdrawn, 0 unknown. ``patience_s``:
        how long to wait for the reply before raising ``Late`` (its ``finish`` returns the
        ``Reply``); None: the connection's own timeout."""
        script = self._release
        in_flight = self.lane.send("EVALSHA", script.sha, len(keys), *keys, *args)
        try:
            raw = self._reply(script, in_flight, keys, args, patience_s)
        except Late:
            finish = functools.partial(self._reply, script, in_flight, keys, args, None)
            raise Late(lambda: _release_reply(finish())) from None
        return _release_reply(raw)

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


def _release_reply(value: object) -> Reply:
    reply = _list(value, 4)
    status = _count(reply[0])
    if status > 2:
        raise RedisStateError(f"a release answered status {status}")
    return Reply(status, _tickets(reply[1]), _tickets(reply[2]), _epoch(reply[3]))


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
