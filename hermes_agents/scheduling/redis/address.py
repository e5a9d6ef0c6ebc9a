"""``RedisAddress``: a ``redis://`` or ``rediss://`` URL, checked when it is read.

``redis://[user:password@]host[:port][/db]`` (port 6379, db 0 by default); ``rediss://`` is
the same over TLS, verified against the system's CAs or ``HERMES_REDIS_CA_FILE``. Credentials
not in the URL come from ``HERMES_REDIS_USERNAME`` / ``HERMES_REDIS_PASSWORD``. Nothing here
imports the ``redis`` package until a client is made (``client``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from hermes_agents import settings
from hermes_agents.errors import ValidationError

if TYPE_CHECKING:
    import redis

DEFAULT_PORT = 6379
CONNECT_TIMEOUT_S = 1.0
"""How long connecting to Redis may take before the call runs unscheduled."""
COMMAND_TIMEOUT_S = 2.0
"""How long one admission script may take before the call runs unscheduled."""


def address_problem(url: str) -> str | None:
    """What is wrong with ``url`` as a Redis scheduler address, or None when it is well formed."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        return f"an unreadable redis address ({error})"
    if parts.scheme not in ("redis", "rediss"):
        return f"unknown scheme {parts.scheme!r}"
    if not parts.hostname:
        return "a redis address needs a host (redis://host:port/db)"
    if port == 0:
        return "a redis address needs a port from 1 to 65535"
    path = parts.path.strip("/")
    if path and not (path.isdigit() and int(path) < 16_384):
        return f"the database after the host must be a number (redis://host:port/0), got {path!r}"
    if parts.query or parts.fragment:
        return "a redis address takes nothing after the database (no ?options or #)"
    return None


@dataclass(frozen=True)
class RedisAddress:
    """A checked Redis scheduler address (see the module docstring).

    >>> address = RedisAddress.parse("redis://cache.internal:6380/2")
    >>> (address.host, address.port, address.db, address.tls)
    ('cache.internal', 6380, 2, False)
    >>> address.display
    'redis://cache.internal:6380/2'
    """

    host: str
    port: int = DEFAULT_PORT
    db: int = 0
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: Path | None = None

    @classmethod
    def parse(cls, url: str) -> RedisAddress:
        """``url`` checked, with credentials from the environment where it has none;
        ``ValidationError`` naming ``HERMES_SCHEDULER`` and the fix otherwise."""
        problem = address_problem(url)
        if problem is not None:
            raise ValidationError(
                f"{problem}; use redis://host:port/db or rediss://host:port/db",
                "environment variable 'HERMES_SCHEDULER'",
            )
        parts = urlsplit(url)
        username, password = parts.username, parts.password
        if username is None and password is None:
            username, password = settings.redis_credentials()
        assert parts.hostname is not None
        path = parts.path.strip("/")
        return cls(
            host=parts.hostname,
            port=parts.port or DEFAULT_PORT,
            db=int(path) if path else 0,
            tls=parts.scheme == "rediss",
            username=unquote(username) if username else None,
            password=unquote(password) if password else None,
            ca_file=settings.redis_ca_file() if parts.scheme == "rediss" else None,
        )

    @property
    def display(self) -> str:
        """The address as a URL without credentials (for logs and status)."""
        scheme = "rediss" if self.tls else "redis"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}/{self.db}"

    def client(self, *, timeout_s: float | None = COMMAND_TIMEOUT_S) -> redis.Redis:
        """A client (a connection pool) for this address; ``timeout_s`` bounds each command
        (None: unbounded, for blocking pops)."""
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        options: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "db": self.db,
            "username": self.username,
            "password": self.password,
            "socket_connect_timeout": CONNECT_TIMEOUT_S,
            "socket_timeout": timeout_s,
            "decode_responses": True,
            "retry": Retry(NoBackoff(), 0),  # a failed call runs unscheduled, not again
        }
        if self.tls:
            options["ssl"] = True
            options["ssl_cert_reqs"] = "required"
            if self.ca_file is not None:
                options["ssl_ca_certs"] = str(self.ca_file)
        return redis.Redis(**options)
