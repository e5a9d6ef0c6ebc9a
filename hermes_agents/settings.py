"""Every environment variable hermes-agents reads, in one place.

No other module reads ``os.environ``. Each function reads its variables when it is called, never
at import time, so a process (or a test) can change them at any point. An empty value counts as
unset.

=====================  ========================================================================
Variable               Meaning
=====================  ========================================================================
``HERMES_CONFIG``      Path of the TOML config file (backends, limits, policy); ``~`` is
                       expanded. Unset: no config file, no limits (see ``config.find_config``).
``HERMES_SCHEDULER``   Address of a running scheduler: ``unix:///abs/path.sock`` or
                       ``tcp://host:port`` (for example ``tcp://127.0.0.1:7461``). Unset: use
                       the Unix socket at ``default_socket_path()``.
``HERMES_SCHEDULER_TOKEN``
                       The token a ``tcp://`` daemon asks for. Unset: read the file at
                       ``token_path()``, which ``hermes serve --tcp-port`` writes.
``HERMES_REDIS_USERNAME``, ``HERMES_REDIS_PASSWORD``
                       Credentials for a ``redis://`` / ``rediss://`` scheduler whose URL
                       carries none (credentials in the URL win).
``HERMES_REDIS_CA_FILE``
                       PEM file of the CA that signed a ``rediss://`` server's certificate
                       (default: the system's CAs).
``HERMES_REDIS_LEASE_TTL_S``
                       Seconds a process's lease on a backend lasts unrenewed (default 10;
                       renewed every third of it while the process has calls there).
``HERMES_DATA_DIR``    Directory for learned profiles and other persistent data; ``~`` is
                       expanded. Unset: ``$XDG_DATA_HOME/hermes``, else
                       ``~/.local/share/hermes``.
``XDG_RUNTIME_DIR``    Per-user runtime directory (mode 0700, set by systemd-logind). The
                       default socket is ``$XDG_RUNTIME_DIR/hermes/hermes.sock``.
``XDG_CACHE_HOME``     Used for the default socket when ``XDG_RUNTIME_DIR`` is unset:
                       ``$XDG_CACHE_HOME/hermes/hermes.sock``, else
                       ``~/.cache/hermes/hermes.sock``; where neither can hold a socket (no
                       writable directory, or a path too long for a socket),
                       ``/tmp/hermes-UID/hermes.sock``.
``XDG_DATA_HOME``      Base of the default data directory (see ``HERMES_DATA_DIR``).
``HOME``               Base of the ``~/...`` fallbacks above.
=====================  ========================================================================

As the XDG Base Directory specification asks, a relative ``XDG_*`` path is ignored. Every default
lives under a directory only its user can normally read: the runtime directory, the home
directory, or the per-user ``/tmp/hermes-UID``. Whoever creates the socket's directory should
create it with mode 0700. The default socket is the same in every process of one user with the
same variables, so ``hermes serve`` and its clients agree on it whether or not
``XDG_RUNTIME_DIR`` is set.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from urllib.parse import urlsplit

from hermes_agents.errors import HermesError, ValidationError

logger = logging.getLogger(__name__)

__all__ = [
    "MAX_UNIX_PATH_BYTES",
    "SCHEDULER_SCHEMES",
    "config_path",
    "data_dir",
    "default_scheduler_address",
    "default_socket_path",
    "redacted_address",
    "redis_ca_file",
    "redis_credentials",
    "redis_lease_ttl_s",
    "scheduler_address",
    "scheduler_token",
    "token_path",
]

SCHEDULER_SCHEMES: tuple[str, ...] = ("unix", "tcp", "redis", "rediss")
"""The address schemes ``HERMES_SCHEDULER`` accepts."""

MAX_UNIX_PATH_BYTES = 107
"""The longest Unix socket path (``sockaddr_un.sun_path`` on Linux, less its final NUL)."""

_SOCKET = Path("hermes", "hermes.sock")


def _get(name: str) -> str | None:
    """The variable's value, or None when it is unset or empty."""
    value = os.environ.get(name, "")
    return value or None


def _user_path(name: str) -> Path | None:
    """A user-set path variable with ``~`` expanded, or None when unset."""
    value = _get(name)
    return None if value is None else Path(value).expanduser()


def _xdg(name: str) -> Path | None:
    """An XDG base directory, or None when unset or relative (the spec says to ignore those)."""
    value = _get(name)
    if value is None or not Path(value).is_absolute():
        return None
    return Path(value)


def config_path() -> Path | None:
    """The config file named by ``HERMES_CONFIG`` (``~`` expanded), or None when unset."""
    return _user_path("HERMES_CONFIG")


def _check_address(address: str) -> str | None:
    """Return what is wrong with a scheduler address, or None when it is well formed."""
    scheme = address.split("://", 1)[0] if "://" in address else ""
    if scheme not in SCHEDULER_SCHEMES:
        return f"unknown scheme {scheme!r}"
    if scheme in ("redis", "rediss"):
        from hermes_agents.scheduling.redis.address import address_problem

        return address_problem(address)
    parts = urlsplit(address)
    if parts.scheme == "unix":
        if parts.netloc or not parts.path.startswith("/"):
            return "a unix address needs an absolute socket path after 'unix://'"
        return None
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None or parts.path not in ("", "/"):
        return "a tcp address needs a host and a port, and nothing after them"
    return None


def scheduler_address() -> str | None:
    """The scheduler address from ``HERMES_SCHEDULER``, or None when unset.

    Accepts ``unix:///abs/path.sock`` and ``tcp://host:port``; anything else raises a
    ``ValidationError`` naming the variable.
    """
    address = _get("HERMES_SCHEDULER")
    if address is None:
        return None
    problem = _check_address(address)
    if problem is not None:
        raise ValidationError(
            f"{problem} in {redacted_address(address)!r}; use unix:///path/to/hermes.sock, "
            "tcp://host:port (for example tcp://127.0.0.1:7461) or redis://host:port/db "
            "(rediss:// for TLS), or unset it",
            "environment variable 'HERMES_SCHEDULER'",
        )
    return address


def redacted_address(address: str) -> str:
    """``address`` without the password it may carry (for errors, logs and output)."""
    try:
        password = urlsplit(address).password
    except ValueError:
        return address.split("@", 1)[-1] if "@" in address else address
    if password is None:
        return address
    return address.replace(f":{password}@", ":***@", 1)


def redis_credentials() -> tuple[str | None, str | None]:
    """``HERMES_REDIS_USERNAME`` and ``HERMES_REDIS_PASSWORD`` (None when unset)."""
    return _get("HERMES_REDIS_USERNAME"), _get("HERMES_REDIS_PASSWORD")


def redis_ca_file() -> Path | None:
    """``HERMES_REDIS_CA_FILE`` (``~`` expanded), or None when unset."""
    return _user_path("HERMES_REDIS_CA_FILE")


def redis_lease_ttl_s(default: float) -> float:
    """``HERMES_REDIS_LEASE_TTL_S`` as seconds (``default`` when unset); ``ValidationError``
    naming the variable unless it is a number from 0.5 to 600."""
    value = _get("HERMES_REDIS_LEASE_TTL_S")
    if value is None:
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not 0.5 <= seconds <= 600.0:
        raise ValidationError(
            f"must be a number of seconds from 0.5 to 600, got {value!r}",
            "environment variable 'HERMES_REDIS_LEASE_TTL_S'",
        )
    return seconds


def default_socket_path() -> Path:
    """The scheduler's Unix socket when ``HERMES_SCHEDULER`` is unset.

    ``$XDG_RUNTIME_DIR/hermes/hermes.sock`` when ``XDG_RUNTIME_DIR`` is set (a per-user 0700
    directory), else ``$XDG_CACHE_HOME/hermes/hermes.sock``, else
    ``~/.cache/hermes/hermes.sock``; the first of these that can hold a socket (a writable
    directory, a path short enough), else ``/tmp/hermes-UID/hermes.sock``.
    """
    for base in (_xdg("XDG_RUNTIME_DIR"), _cache_home()):
        if base is not None and _can_hold_socket(base / _SOCKET):
            return base / _SOCKET
    return Path("/tmp", f"hermes-{os.getuid()}", _SOCKET.name)


def default_scheduler_address() -> str:
    """``unix://`` and the default socket path: where clients look when ``HERMES_SCHEDULER``
    is unset, and where ``hermes serve`` listens without ``--socket``."""
    return f"unix://{default_socket_path()}"


def _cache_home() -> Path | None:
    """``$XDG_CACHE_HOME``, else ``~/.cache``; None when there is no home directory."""
    cache = _xdg("XDG_CACHE_HOME")
    if cache is not None:
        return cache
    try:
        return Path.home() / ".cache"
    except RuntimeError:  # no HOME and no password entry (a container's arbitrary user)
        return None


def _can_hold_socket(path: Path) -> bool:
    """Whether a socket fits at ``path``: short enough, and its nearest existing ancestor is a
    directory this user may write (the missing directories below it can be made)."""
    if len(os.fsencode(path)) > MAX_UNIX_PATH_BYTES:
        return False
    existing = path.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    return existing.is_dir() and os.access(existing, os.W_OK | os.X_OK)


def data_dir() -> Path:
    """Directory for persistent data (learned profiles).

    ``HERMES_DATA_DIR`` (``~`` expanded), else ``$XDG_DATA_HOME/hermes``, else
    ``~/.local/share/hermes``. The directory may not exist yet.
    """
    explicit = _user_path("HERMES_DATA_DIR")
    if explicit is not None:
        return explicit
    base = _xdg("XDG_DATA_HOME")
    return (base if base is not None else Path.home() / ".local" / "share") / "hermes"


def token_path() -> Path:
    """Where ``hermes serve`` keeps the TCP token it made: beside the default socket."""
    return default_socket_path().parent / "token"


def scheduler_token() -> str | None:
    """The TCP daemon's token: ``HERMES_SCHEDULER_TOKEN``, else ``token_path()``'s contents."""
    token = _get("HERMES_SCHEDULER_TOKEN")
    if token is not None:
        return token
    from hermes_agents.private_files import read_private

    path = token_path()
    if not path.exists() and not path.is_symlink():
        return None
    try:
        return read_private(path) or None
    except HermesError as error:  # a token others can read, or a planted file: not used
        logger.warning("not using the hermes token: %s", error)
        return None
