"""``Lane``: commands on this process's own connections to Redis, without redis-py's
per-command layers.

``redis.Redis.execute_command`` takes a connection from its pool, wraps the command in its
retry, event and metrics machinery and gives the connection back: about 45 µs of client CPU
per command here. The admission scripts and the blocking pops run on every call, so they go
through a ``Lane``: a stack of connections made like the client's own (same address,
credentials, TLS, timeouts), each used by one thread at a time. A command is packed by hiredis
and written to the connection's socket, and its reply read by the parser redis-py made for
that connection, without the connection's own per-command layers (its health checks, its
error wrapping): an admission script's round trip costs about 26 µs of client CPU here, of
which some 12 µs is the kernel's (``Connection.send_command`` + ``read_response``: 32 µs).

A lane never reconnects behind its user's back: a connection that failed is closed and
dropped, and the error goes up (the scheduler fails open and takes a new name), so a Redis that
restarted is always noticed. A reply that is an error (``redis.ResponseError``) leaves the
connection in use.

A command may also be sent without waiting for its reply (``send``): the ``InFlight`` it
returns reads the reply later, and a reply that is ``Late`` (none within the reader's
patience) can be read to the end by another thread (a release's outbox), on the same
connection, so nothing is sent twice and nothing is guessed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import redis

_pack_command: Callable[[tuple[str | int, ...]], bytes] | None
try:  # hiredis packs a command in C (the ``redis`` extra installs it)
    import hiredis

    _pack_command = cast(Callable[[tuple[str | int, ...]], bytes], hiredis.pack_command)
except ImportError:  # pragma: no cover (redis-py packs it then)
    _pack_command = None

Connection = Any
"""A redis-py connection (``redis.connection.Connection`` or its TLS kind; untyped there)."""


class Late(Exception):  # noqa: N818 (a state, not an error: the reply is still coming)
    """No reply within the reader's patience: the command is still in flight, its connection
    kept for it. ``finish()`` waits for the reply (the connection's own timeout) and does with
    it what the reader would have done; it raises what the reader would have raised."""

    def __init__(self, finish: Callable[[], Any]) -> None:
        super().__init__("no reply yet")
        self.finish = finish


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

    def execute(self, *args: str | int) -> Any:
        """Send one command and return its reply (waiting up to the connection's own timeout).
        Raises what redis-py raises: ``redis.ResponseError`` for an error reply,
        ``redis.ConnectionError`` or ``redis.TimeoutError`` when Redis does not answer."""
        return self.send(*args).reply()

    def send(self, *args: str | int) -> InFlight:
        """Send one command; its reply is read from the ``InFlight`` returned (the connection
        is the command's until then). Raises like ``execute`` when it cannot be sent."""
        import redis

        connection = self._take()
        try:
            pack, sock = _pack_command, connection._sock
            if pack is None or sock is None:  # not connected yet, or no hiredis: redis-py's way
                connection.send_command(*args)
            else:
                sock.sendall(pack(args))
        except (redis.RedisError, OSError, ValueError, AttributeError) as error:
            self._drop(connection)  # ValueError, AttributeError: closed under us (``close``)
            if isinstance(error, redis.RedisError):
                raise
            raise redis.ConnectionError(f"the connection broke ({error})") from error
        except BaseException:
            self._drop(connection)
            raise
        return InFlight(self, connection)

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


class InFlight:
    """A command sent on one of ``lane``'s connections, its reply not read yet (``Lane.send``)."""

    def __init__(self, lane: Lane, connection: Connection) -> None:
        self._lane = lane
        self._connection = connection

    def reply(self, patience_s: float | None = None) -> Any:
        """The command's reply. ``patience_s``: how long to wait for it before raising ``Late``
        (whose ``finish`` reads it to the end; None: the connection's own timeout, then give
        up on it). Raises like ``Lane.execute`` otherwise."""
        import redis

        connection = self._connection
        try:
            # the parser redis-py made for this connection (its buffer, its decoding), without
            # the connection's per-reply layers; a parser that timed out keeps what it read
            if patience_s is None:
                reply = connection._parser.read_response()
            else:
                reply = connection._parser.read_response(timeout=patience_s)
        except redis.TimeoutError:
            if patience_s is None:
                self._lane._drop(connection)
                raise
            raise Late(self.reply) from None  # what was read so far stays in the parser
        except (redis.RedisError, OSError, ValueError, AttributeError) as error:
            self._lane._drop(connection)
            if isinstance(error, redis.RedisError):
                raise
            raise redis.ConnectionError(f"the connection broke ({error})") from error
        except BaseException:
            self._lane._drop(connection)
            raise
        self._lane._give(connection)
        if isinstance(reply, redis.ResponseError):
            raise reply
        return reply
