"""``Lane``: commands on this process's own connections to Redis, without redis-py's
per-command layers.

``redis.Redis.execute_command`` takes a connection from its pool, wraps the command in its
retry, event and metrics machinery and gives the connection back: about 45 µs of client CPU
per command here, against 6 µs for sending on a connection and reading its reply
(``benchmarks/redis_scheduler.py``). The admission scripts and the blocking pops run on every
call, so they go through a ``Lane``: a stack of connections made like the client's own (same
address, credentials, TLS, timeouts), each used by one thread at a time.

A lane never reconnects behind its user's back: a connection that failed is closed and
dropped, and the error goes up (the scheduler fails open and takes a new name), so a Redis that
restarted is always noticed. A reply that is an error (``redis.ResponseError``) leaves the
connection in use.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import redis

Connection = Any
"""A redis-py connection (``redis.connection.Connection`` or its TLS kind; untyped there)."""


class Lane:
    """Connections to the Redis of ``client`` (see the module docstring)."""

    def __init__(self, client: redis.Redis) -> None:
        pool = client.connection_pool
        self._make_class = pool.connection_class
        self._kwargs = dict(pool.connection_kwargs)
        self._idle: list[Connection] = []
        self._lock = threading.Lock()
        self._busy: set[Connection] = set()
        self._closed = False

    def execute(self, *args: str | int, timeout_s: float | None = None) -> Any:
        """Send one command and return its reply (``timeout_s``: how long to wait for it,
        longer than the connection's own timeout for a blocking pop). Raises what redis-py
        raises: ``redis.ResponseError`` for an error reply, ``redis.ConnectionError`` or
        ``redis.TimeoutError`` when Redis does not answer."""
        import redis

        connection = self._take()
        try:
            connection.send_command(*args)
            if timeout_s is None:
                reply = connection.read_response()
            else:
                reply = connection.read_response(timeout=timeout_s)
        except redis.ResponseError:
            self._give(connection)
            raise
        except (redis.RedisError, OSError, ValueError, AttributeError) as error:
            self._drop(connection)  # ValueError, AttributeError: closed under us (``close``)
            if isinstance(error, redis.RedisError):
                raise
            raise redis.ConnectionError(f"the connection broke ({error})") from error
        except BaseException:
            self._drop(connection)
            raise
        self._give(connection)
        return reply

    def close(self) -> None:
        """Close every connection, those in use too: a blocking pop on one returns at once
        with an error (its thread sees it is closing)."""
        with self._lock:
            self._closed = True
            connections = [*self._idle, *self._busy]
            self._idle.clear()
            self._busy.clear()
        for connection in connections:
            connection.disconnect()

    def _take(self) -> Connection:
        with self._lock:
            if self._closed:
                import redis

                raise redis.ConnectionError("the scheduler was closed")
            connection = self._idle.pop() if self._idle else None
            if connection is None:
                connection = self._make_class(**self._kwargs)
            self._busy.add(connection)
        return connection

    def _give(self, connection: Connection) -> None:
        with self._lock:
            self._busy.discard(connection)
            if not self._closed:
                self._idle.append(connection)
                return
        connection.disconnect()

    def _drop(self, connection: Connection) -> None:
        with self._lock:
            self._busy.discard(connection)
        connection.disconnect()
