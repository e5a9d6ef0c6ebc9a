"""Files only this user may read: the daemon's TCP token.

Written exclusively (``O_EXCL``), mode 0600, never through a symlink (``O_NOFOLLOW``), into a
temporary name that then replaces the target atomically (a planted symlink at the target is
replaced, not followed). Read without following symlinks, and refused when another user owns
the file or others may read or write it: a token that others can read is no secret.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "token"
>>> write_private(path, "s3cret")
>>> read_private(path)
's3cret'
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from hermes_agents.errors import HermesError


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (see the module docstring); its directory must exist."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    descriptor = os.open(temporary, flags, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text + "\n")
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def read_private(path: Path) -> str:
    """The stripped text of ``path``; ``HermesError`` if it is a symlink, another user's, or
    readable or writable by others (the message says how to fix it)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as error:
        raise HermesError(f"cannot read {path}: {error.strerror}") from error
    with os.fdopen(descriptor, encoding="utf-8") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise HermesError(f"{path} is not a regular file")
        if info.st_uid != os.getuid():
            raise HermesError(f"{path} belongs to uid {info.st_uid}, not to you; remove it")
        if info.st_mode & 0o077:
            raise HermesError(
                f"{path} can be read or written by others (mode "
                f"{stat.S_IMODE(info.st_mode):o}); run: chmod 600 {path}"
            )
        return file.read().strip()
