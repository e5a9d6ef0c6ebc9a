"""The store's SQLite file: its schema, atomic creation, and the checks made before opening it.

Nothing here writes to a file that is not already a profile store: ``check_file`` reads the header
and then uses a read-only connection (a read-write one could checkpoint another application's
WAL into its file).
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from pathlib import Path

from hermes_agents.errors import HermesError

__all__ = [
    "APPLICATION_ID",
    "SCHEMA_VERSION",
    "ProfileStoreError",
    "check_file",
    "connect",
    "create_file",
]

APPLICATION_ID = 0x4845524D
"""``PRAGMA application_id`` of every profile store ("HERM" in ASCII)."""
SCHEMA_VERSION = 2
"""``PRAGMA user_version`` of the schema this version writes and reads (version 1 files are
upgraded when opened: their runs gain a ``graph`` column, NULL for the runs already there)."""

_HEADER = b"SQLite format 3\x00"
_TABLES = frozenset({"runs", "priors"})
_SCHEMA = (
    "CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, app TEXT NOT NULL,"
    " observed_at REAL NOT NULL, visits TEXT NOT NULL, graph TEXT)",
    "CREATE INDEX runs_by_app ON runs (app, id)",
    "CREATE TABLE priors (app TEXT PRIMARY KEY, version INTEGER NOT NULL,"
    " saved_at REAL NOT NULL, graph TEXT NOT NULL)",
    f"PRAGMA application_id = {APPLICATION_ID}",
    f"PRAGMA user_version = {SCHEMA_VERSION}",
)


class ProfileStoreError(HermesError):
    """The profile store file cannot be used; ``path`` names it, the message says what to do."""

    def __init__(self, path: Path, problem: str, fix: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"profile store {str(path)!r}: {problem}; {fix}")


def create_file(path: Path, fix: str) -> None:
    """Create an empty store at ``path`` unless something is there already.

    The store is built complete under a temporary name and hard-linked into place: ``os.link``
    never replaces a file, so of two processes creating it at once one wins and the other opens
    the winner's file, and no process ever sees a half-made store. The parent directory is
    created with mode 0700, the file with 0600.
    """
    if os.path.lexists(path):
        return
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        os.close(handle)
    except OSError as error:
        raise ProfileStoreError(path, f"cannot be created ({error})", fix) from error
    try:
        conn = sqlite3.connect(temporary, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("BEGIN")
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.execute("COMMIT")
        finally:
            conn.close()  # the last connection checkpoints the WAL into the file and removes it
        os.link(temporary, path)
    except FileExistsError:
        pass
    except (OSError, sqlite3.Error) as error:
        raise ProfileStoreError(path, f"cannot be created ({error})", fix) from error
    finally:
        Path(temporary).unlink(missing_ok=True)


def check_file(path: Path, fix: str, timeout_s: float) -> None:
    """Raise ``ProfileStoreError`` unless ``path`` is a store this version reads; never writes."""
    try:
        with path.open("rb") as file:
            header = file.read(len(_HEADER))
    except OSError as error:
        raise ProfileStoreError(path, f"cannot be read ({error})", fix) from error
    if header != _HEADER:
        raise ProfileStoreError(path, "is not an SQLite database, so not a profile store", fix)
    try:
        uri = path.resolve().as_uri() + "?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=timeout_s)
        try:
            app_id, version, tables = _describe(conn)
        finally:
            conn.close()
    except sqlite3.Error as error:
        raise ProfileStoreError(path, f"is damaged or unreadable ({error})", fix) from error
    if app_id != APPLICATION_ID:
        listed = ", ".join(sorted(tables)) or "none"
        problem = f"is another application's SQLite database (application_id {app_id}, tables: "
        raise ProfileStoreError(path, f"{problem}{listed}), not a hermes profile store", fix)
    if version > SCHEMA_VERSION:
        problem = f"was written by a newer hermes-agents (schema {version}; this one reads "
        raise ProfileStoreError(
            path, f"{problem}schema {SCHEMA_VERSION})", f"upgrade hermes-agents, or {fix}"
        )
    if version < 1 or not tables >= _TABLES:
        raise ProfileStoreError(
            path, f"is damaged (schema {version}, tables {sorted(tables)})", fix
        )


def connect(path: Path, fix: str, timeout_s: float) -> sqlite3.Connection:
    """A read-write connection in autocommit mode (callers ``BEGIN`` themselves), WAL on."""
    try:
        conn = sqlite3.connect(
            path, timeout=timeout_s, isolation_level=None, check_same_thread=False
        )
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode = WAL")  # someone switched our own file back
        conn.execute("PRAGMA synchronous = NORMAL")  # durable enough in WAL mode, and faster
        _upgrade(conn)
    except sqlite3.Error as error:
        raise ProfileStoreError(path, f"cannot be opened ({error})", fix) from error
    return conn


def _upgrade(conn: sqlite3.Connection) -> None:
    """Bring a version 1 store to version 2 (once, whoever opens it first)."""
    if int(conn.execute("PRAGMA user_version").fetchone()[0]) >= SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        if int(conn.execute("PRAGMA user_version").fetchone()[0]) < 2:
            conn.execute("ALTER TABLE runs ADD COLUMN graph TEXT")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _describe(conn: sqlite3.Connection) -> tuple[int, int, set[str]]:
    """``(application_id, user_version, table names)``, SQLite's internal tables left out."""
    app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    query = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite^_%'"
    rows = conn.execute(query + " ESCAPE '^'").fetchall()
    return app_id, version, {str(row[0]) for row in rows}
