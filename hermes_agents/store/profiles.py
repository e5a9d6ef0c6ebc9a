"""``ProfileStore``: observed runs and priors per app, appended by many processes at once."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from hermes_agents import settings
from hermes_agents.errors import ValidationError
from hermes_agents.pdgraph import DEFAULT_SAMPLES, Learner, PDGraph, Visit
from hermes_agents.store.runjson import decode_run, encode_run, structure_id
from hermes_agents.store.sqlitefile import ProfileStoreError, check_file, connect, create_file

__all__ = ["FILE_NAME", "AppProfile", "ProfileStore"]

logger = logging.getLogger(__name__)

FILE_NAME = "profiles.sqlite3"
"""Name of the store inside ``settings.data_dir()``."""

# Deletes the app's runs older than its ``keep``-th most recent (nothing when it has fewer).
_PRUNE = (
    "DELETE FROM runs WHERE app = ?1 AND id <= "
    "(SELECT id FROM runs WHERE app = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)"
)


@dataclass(frozen=True)
class AppProfile:
    """What the store holds for one app.

    Attributes:
        name: the app's name (its key in the store).
        runs: stored runs (at most the writers' ``keep_runs``).
        last_observed_at: Unix time of its most recent stored run; None without runs.
        prior_version: version of its stored prior; None without one.
    """

    name: str
    runs: int
    last_observed_at: float | None
    prior_version: int | None


class ProfileStore:
    """Learned profiles of apps in one SQLite file (WAL) that many processes share.

    Every finished run is appended as one row, in a short ``BEGIN IMMEDIATE`` transaction that
    also prunes the app to its ``keep_runs`` most recent runs; writers wait up to
    ``busy_timeout_s`` for each other and never overwrite each other's rows. ``learner(app)``
    replays the stored runs into a fresh ``Learner``.

    Thread-safe: one connection per store, used under a lock, so threads may share a store.
    Each process opens its own; a child that inherits one through ``fork`` reconnects on first
    use. A file that is not a profile store raises ``ProfileStoreError`` here and is left
    untouched; so do SQLite failures later (callers on a run's path should catch it and carry
    on). Unreadable rows are skipped with a warning.

    Args:
        path: the store file; default ``settings.data_dir() / "profiles.sqlite3"`` (its
            directory is created with mode 0700 when missing).
        keep_runs: runs kept per app; older ones are deleted as new ones arrive.
        busy_timeout_s: how long a write waits for other processes' writes.
        clock: Unix time stamped on recorded runs.

    >>> from hermes_agents.pdgraph import Call, Visit
    >>> with ProfileStore(tmp_path / "profiles.sqlite3") as store:  # doctest: +SKIP
    ...     _ = store.record_run("qa", [Visit("answer", calls=(Call(300, 80),))])
    ...     store.learner("qa").graph().successors("answer")
    {'END': 1.0}
    """

    def __init__(
        self,
        path: Path | None = None,
        *,
        keep_runs: int = DEFAULT_SAMPLES,
        busy_timeout_s: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if keep_runs < 1 or busy_timeout_s < 0:
            raise ValidationError("keep_runs must be >= 1 and busy_timeout_s >= 0")
        self.path = path if path is not None else settings.data_dir() / FILE_NAME
        self.keep_runs = keep_runs
        self.busy_timeout_s = busy_timeout_s
        self._clock = clock
        self._fix = "move it away (a new store is then created in its place) or " + (
            "open another path" if path is not None else "set HERMES_DATA_DIR to another directory"
        )
        self._lock = threading.Lock()
        create_file(self.path, self._fix)
        check_file(self.path, self._fix, busy_timeout_s)
        self._pid = os.getpid()
        self._conn: sqlite3.Connection | None = connect(self.path, self._fix, busy_timeout_s)

    def record_run(
        self,
        app: str,
        visits: Sequence[Visit],
        *,
        observed_at: float | None = None,
        graph: str | None = None,
    ) -> int:
        """Append one finished run of ``app`` (its visits in order); returns its row id.

        ``graph`` names the version of the app's graph the run came from
        (``structure_id(prior)``): a replay onto another version skips it.
        """
        if not isinstance(app, str) or not app:
            raise ValidationError("an app name must be a non-empty string", "argument 'app'")
        text = encode_run(visits)
        when = self._clock() if observed_at is None else observed_at
        with self._connected(write=True) as conn:
            cursor = conn.execute(
                "INSERT INTO runs (app, observed_at, visits, graph) VALUES (?, ?, ?, ?)",
                (app, when, text, graph),
            )
            conn.execute(_PRUNE, (app, self.keep_runs))
        return int(cursor.lastrowid or 0)

    def runs(
        self, app: str, limit: int | None = None, *, graph: str | None = None
    ) -> list[tuple[Visit, ...]]:
        """The ``limit`` (default ``keep_runs``) most recent runs of ``app``, oldest first;
        with ``graph``, only those of that version of its graph (and of no known version)."""
        with self._connected() as conn:
            rows = conn.execute(
                "SELECT id, visits, graph FROM runs WHERE app = ? ORDER BY id DESC LIMIT ?",
                (app, self.keep_runs if limit is None else limit),
            ).fetchall()
        runs, bad = [], []
        stale = 0
        for row_id, text, version in reversed(rows):
            if graph is not None and version is not None and version != graph:
                stale += 1
                continue
            try:
                runs.append(decode_run(text))
            except ValidationError as error:
                bad.append((row_id, error))
        if stale:
            logger.info(
                "profile store %s: %d run(s) of app %r came from another version of its graph; "
                "not replayed",
                *(self.path, stale, app),
            )
        if bad:
            ids = [row_id for row_id, _ in bad]
            logger.warning(
                "profile store %s: skipped %d unreadable run(s) of app %r, row id(s) %s: %s",
                *(self.path, len(bad), app, ids, bad[0][1]),
            )
        return runs

    def bad_runs(self, app: str) -> list[tuple[int, str]]:
        """The stored runs of ``app`` that cannot be learned, as (row id, why): unreadable
        rows, and runs its learner refuses (a stage whose kind changed, a value out of
        bounds). ``remove_runs`` deletes them."""
        with self._connected() as conn:
            rows = conn.execute(
                "SELECT id, visits FROM runs WHERE app = ? ORDER BY id", (app,)
            ).fetchall()
        learner = Learner(app, self.prior(app))
        bad: list[tuple[int, str]] = []
        for row_id, text in rows:
            try:
                run = decode_run(text)
                rejected = learner.runs_rejected
                learned = learner.observe(run)
            except ValidationError as error:
                bad.append((int(row_id), str(error)))
                continue
            if not learned or learner.runs_rejected > rejected:
                bad.append((int(row_id), "its stages do not fit the app's other runs"))
        return bad

    def remove_runs(self, app: str, row_ids: Sequence[int]) -> int:
        """Delete these stored runs of ``app``; returns how many were deleted."""
        with self._connected(write=True) as conn:
            deleted = sum(
                conn.execute("DELETE FROM runs WHERE app = ? AND id = ?", (app, row)).rowcount
                for row in row_ids
            )
        return int(deleted)

    def save_prior(self, app: str, graph: PDGraph) -> None:
        """Store ``graph`` (its workload JSON and version) as the prior of ``app``."""
        if not isinstance(app, str) or not app:
            raise ValidationError("an app name must be a non-empty string", "argument 'app'")
        row = (app, graph.version, self._clock(), graph.to_json(indent=None))
        with self._connected(write=True) as conn:
            conn.execute("INSERT OR REPLACE INTO priors VALUES (?, ?, ?, ?)", row)

    def prior(self, app: str) -> PDGraph | None:
        """The stored prior of ``app``; None without one (or, with a warning, if unreadable).

        Parametric distributions (``{"normal": ...}``) are drawn again with seed 0, so every
        process that loads the prior gets the same samples.
        """
        with self._connected() as conn:
            row = conn.execute("SELECT version, graph FROM priors WHERE app = ?", (app,)).fetchone()
        if row is None:
            return None
        try:
            return PDGraph.from_json(row[1]).with_version(row[0])
        except (ValidationError, TypeError) as error:
            message = "profile store %s: ignoring the unreadable prior of app %r: %s"
            logger.warning(message, self.path, app, error)
            return None

    def apps(self) -> list[AppProfile]:
        """Every app with stored runs or a prior, sorted by name."""
        with self._connected() as conn:
            runs = conn.execute(
                "SELECT app, COUNT(*), MAX(observed_at) FROM runs GROUP BY app"
            ).fetchall()
            priors = dict(conn.execute("SELECT app, version FROM priors").fetchall())
        found = {
            name: AppProfile(name, count, last, priors.get(name)) for name, count, last in runs
        }
        for name, version in priors.items():
            found.setdefault(name, AppProfile(name, 0, None, version))
        return [found[name] for name in sorted(found)]

    def forget(self, app: str) -> int:
        """Delete the runs and the prior of ``app``; returns the number of rows deleted."""
        with self._connected(write=True) as conn:
            deleted = conn.execute("DELETE FROM runs WHERE app = ?", (app,)).rowcount
            deleted += conn.execute("DELETE FROM priors WHERE app = ?", (app,)).rowcount
        return int(deleted)

    def replay(self, learner: Learner, *, limit: int | None = None) -> int:
        """Feed the stored runs of ``learner.name`` into ``learner``, oldest first.

        Returns how many it learned; runs it cannot learn (a stage that changed its kind) are
        counted in ``learner.runs_rejected`` (warned once), malformed ones skipped with a
        warning, and runs of another version of the app's graph (its prior's ``structure_id``)
        left out. Use this for learner options: ``store.replay(Learner(app, window=50))``.
        """
        taken = 0
        graph = structure_id(learner.prior) if learner.prior is not None else None
        for run in self.runs(learner.name, limit, graph=graph):
            try:
                learned = learner.observe(run)
            except ValidationError as error:
                message = "profile store %s: skipped a stored run of app %r: %s"
                logger.warning(message, self.path, learner.name, error)
            else:
                taken += learned
        return taken

    def learner(self, app: str, prior: PDGraph | None = None) -> Learner:
        """A default ``Learner`` for ``app`` on ``prior`` (default: the stored prior), fed the
        stored runs (see ``replay``)."""
        learner = Learner(app, prior if prior is not None else self.prior(app))
        self.replay(learner)
        return learner

    def close(self) -> None:
        """Close the connection (idempotent); later calls raise ``ProfileStoreError``."""
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    def __enter__(self) -> ProfileStore:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ProfileStore({str(self.path)!r}, keep_runs={self.keep_runs})"

    @contextmanager
    def _connected(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        """The connection under the lock; with ``write``, inside a transaction committed after."""
        with self._lock:
            if self._conn is None:
                raise ProfileStoreError(self.path, "this ProfileStore is closed", "open a new one")
            if self._pid != os.getpid():
                # A connection must not cross fork(): leave the parent's alone, open our own.
                self._conn = connect(self.path, self._fix, self.busy_timeout_s)
                self._pid = os.getpid()
            conn = self._conn
            try:
                if write:
                    conn.execute("BEGIN IMMEDIATE")  # take the write lock now, not mid-way
                try:
                    yield conn
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                if write:
                    conn.execute("COMMIT")
            except sqlite3.Error as error:
                # Usually another process writing for longer than busy_timeout_s, or a full disk.
                fix = "if it persists, " + self._fix
                raise ProfileStoreError(self.path, f"SQLite failed ({error})", fix) from error
