"""``RedisProfileStore``: learned profiles in Redis, read and written by every host.

The same sliding window as the SQLite ``ProfileStore``: each finished run of an app is
appended to the app's list (its ``Visit`` records as JSON, with the version of the app's graph
they came from) and the list is trimmed to its ``keep_runs`` most recent runs in the same
transaction; a learner is rebuilt by replaying them, so every host that loads an app learns
from the same runs and ranks its own runs from the same model. Keys (``PREFIX``, default
``hermes``): ``hermes:profile:{APP}:runs`` (list), ``hermes:profile:{APP}:prior`` (hash:
``version``, ``graph``), ``hermes:profile:{APP}:count`` (runs ever recorded: hosts reload an
app whose count grew, ``ProfileSync``), ``hermes:profiles`` (set of app names). Unreadable
records are skipped with a warning; Redis failures raise ``RedisStoreError`` (the models carry
on in memory).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from hermes_agents.errors import HermesError, ValidationError
from hermes_agents.pdgraph import DEFAULT_SAMPLES, Learner, PDGraph, Visit
from hermes_agents.store.profiles import AppProfile
from hermes_agents.store.runjson import decode_run, encode_run, structure_id

if TYPE_CHECKING:
    import redis

logger = logging.getLogger(__name__)

RECORD_VERSION = 1
"""The ``v`` of every stored run record; others are skipped."""


class RedisStoreError(HermesError):
    """Redis could not be read or written (the message names the address and the fix)."""


class RedisProfileStore:
    """Profiles of apps in Redis (see the module docstring); thread-safe (a client pool).

    Args:
        client: a ``redis.Redis`` with ``decode_responses=True``.
        keep_runs: runs kept per app; older ones are trimmed as new ones arrive.
        prefix: the first part of every key.
        clock: Unix time stamped on recorded runs.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        keep_runs: int = DEFAULT_SAMPLES,
        prefix: str = "hermes",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if keep_runs < 1:
            raise ValidationError("must be >= 1", "argument 'keep_runs'")
        self.client = client
        self.keep_runs = keep_runs
        self.prefix = prefix
        self._clock = clock

    def _key(self, app: str, part: str) -> str:
        return f"{self.prefix}:profile:{{{app}}}:{part}"

    def record_run(
        self,
        app: str,
        visits: Sequence[Visit],
        *,
        observed_at: float | None = None,
        graph: str | None = None,
    ) -> int:
        """Append one finished run of ``app``; returns how many runs it now has stored."""
        _check_app(app)
        record = {
            "v": RECORD_VERSION,
            "observed_at": self._clock() if observed_at is None else observed_at,
            "graph": graph,
            "visits": json.loads(encode_run(visits)),
        }
        key = self._key(app, "runs")
        with _failing("write"):
            pipe = self.client.pipeline(transaction=True)
            pipe.rpush(key, json.dumps(record, separators=(",", ":")))
            pipe.ltrim(key, -self.keep_runs, -1)
            pipe.llen(key)
            pipe.sadd(f"{self.prefix}:profiles", app)
            pipe.incr(self._key(app, "count"))
            replies = pipe.execute()
        return int(replies[2])

    def recorded(self, apps: Sequence[str]) -> dict[str, int]:
        """How many runs of each app were ever recorded (by every host; 0 when none)."""
        if not apps:
            return {}
        with _failing("read"):
            pipe = self.client.pipeline(transaction=False)
            for app in apps:
                pipe.get(self._key(app, "count"))
            counts = pipe.execute()
        return {app: _int(count) or 0 for app, count in zip(apps, counts, strict=True)}

    def runs(
        self, app: str, limit: int | None = None, *, graph: str | None = None
    ) -> list[tuple[Visit, ...]]:
        """The ``limit`` (default ``keep_runs``) most recent runs of ``app``, oldest first;
        with ``graph``, only those of that version of its graph (and of no known version)."""
        count = self.keep_runs if limit is None else limit
        with _failing("read"):
            texts = self.client.lrange(self._key(app, "runs"), -count, -1) if count > 0 else []
        runs: list[tuple[Visit, ...]] = []
        bad = 0
        for text in texts:
            try:
                record = json.loads(text)
                if not isinstance(record, dict) or record.get("v") != RECORD_VERSION:
                    raise ValidationError("not a run record of this version")
                version = record.get("graph")
                if graph is not None and version is not None and version != graph:
                    continue
                runs.append(decode_run(json.dumps(record["visits"])))
            except (ValueError, KeyError, TypeError):
                bad += 1
        if bad:
            logger.warning("Redis profile store: skipped %d unreadable run(s) of %r", bad, app)
        return runs

    def replay(self, learner: Learner, *, limit: int | None = None) -> int:
        """Feed the stored runs of ``learner.name`` into ``learner`` (those of its graph's
        version), oldest first; returns how many it learned."""
        version = structure_id(learner.prior) if learner.prior is not None else None
        taken = 0
        for run in self.runs(learner.name, limit, graph=version):
            try:
                taken += learner.observe(run)
            except ValidationError as error:
                logger.warning("Redis profile store: skipped a run of %r: %s", learner.name, error)
        return taken

    def learner(self, app: str, prior: PDGraph | None = None) -> Learner:
        """A default ``Learner`` for ``app`` on ``prior`` (default: the stored one), fed the
        stored runs."""
        learner = Learner(app, prior if prior is not None else self.prior(app))
        self.replay(learner)
        return learner

    def save_prior(self, app: str, graph: PDGraph) -> None:
        """Keep ``graph`` (its workload JSON and version) as the prior of ``app``."""
        _check_app(app)
        mapping = {"version": graph.version, "graph": graph.to_json(indent=None)}
        with _failing("write"):
            pipe = self.client.pipeline(transaction=True)
            pipe.hset(self._key(app, "prior"), mapping=mapping)  # type: ignore[arg-type]
            pipe.sadd(f"{self.prefix}:profiles", app)
            pipe.execute()

    def prior(self, app: str) -> PDGraph | None:
        """The stored prior of ``app``; None without one (or, with a warning, unreadable)."""
        with _failing("read"):
            fields = self.client.hgetall(self._key(app, "prior"))
        if not fields:
            return None
        try:
            return PDGraph.from_json(fields["graph"]).with_version(int(fields["version"]))
        except (ValueError, KeyError, TypeError) as error:
            logger.warning(
                "Redis profile store: ignoring the unreadable prior of %r: %s", app, error
            )
            return None

    def apps(self) -> list[AppProfile]:
        """Every app with stored runs or a prior, sorted by name (``last_observed_at`` is
        not kept per app here: None)."""
        with _failing("read"):
            names = sorted(str(name) for name in self.client.smembers(f"{self.prefix}:profiles"))
            pipe = self.client.pipeline(transaction=False)
            for name in names:
                pipe.llen(self._key(name, "runs"))
                pipe.hget(self._key(name, "prior"), "version")
            replies = pipe.execute()
        found = []
        for i, name in enumerate(names):
            version = replies[2 * i + 1]
            found.append(AppProfile(name, int(replies[2 * i]), None, _int(version)))
        return found

    def forget(self, app: str) -> int:
        """Delete the runs and the prior of ``app``; returns how many keys were deleted."""
        with _failing("write"):
            self.client.srem(f"{self.prefix}:profiles", app)
            return int(self.client.delete(self._key(app, "runs"), self._key(app, "prior")))

    def close(self) -> None:
        """Close the client's connections."""
        self.client.close()


@contextmanager
def _failing(what: str) -> Iterator[None]:
    """Turns a Redis failure into ``RedisStoreError``."""
    import redis

    try:
        yield
    except redis.RedisError as error:
        raise RedisStoreError(
            f"could not {what} the Redis profile store ({error}); learning goes on in "
            "memory; check that Redis is reachable"
        ) from error


def _check_app(app: object) -> None:
    if not isinstance(app, str) or not app:
        raise ValidationError("an app name must be a non-empty string", "argument 'app'")


def _int(value: object) -> int | None:
    try:
        return int(value) if value is not None else None  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None
