"""The daemon's sockets: a Unix socket (mode 0600), optional TCP on 127.0.0.1, and metrics.

``serve_forever`` runs until SIGTERM or SIGINT (or ``stop``), then closes every connection and
removes its socket file. Each connection is a line protocol (``protocol.py``) fed to the
service (a ``SessionService``: ``DaemonService``, or ``FrontService`` when it fronts Redis);
admissions are decided once per batch of received lines.

A connection whose line exceeds ``MAX_MESSAGE_BYTES`` gets a fatal error and is closed; one that
ends in the middle of a line (truncated) is closed; one that stops reading while the daemon has
more than ``MAX_PENDING_OUTPUT_BYTES`` for it is closed. Either way its slots come back.

One timer on the loop (``WarmupTimer``) calls ``flush`` again at the time the last driver step
asked for (a warm-up falling due, a slot reaching its hold bound), without any client message.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import math
import os
import signal
import socket
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hermes_agents.errors import HermesError
from hermes_agents.scheduling.daemon.metrics import serve_metrics
from hermes_agents.scheduling.daemon.protocol import MAX_MESSAGE_BYTES
from hermes_agents.scheduling.daemon.sessions import Session
from hermes_agents.scheduling.daemon.sessionservice import SessionService
from hermes_agents.settings import MAX_UNIX_PATH_BYTES

logger = logging.getLogger(__name__)

MAX_PENDING_OUTPUT_BYTES = 4 * 1024 * 1024
LINES_PER_TURN = 64
"""Lines of one connection handled per turn of the loop (then the others get theirs)."""
BYTES_PER_TURN = 16 * 1024
"""Bytes of one connection's lines handled per turn of the loop."""


@dataclass(frozen=True)
class Listen:
    """Where the daemon listens.

    Attributes:
        socket_path: the Unix socket (its directory is created 0700 if missing).
        tcp_port: also listen on 127.0.0.1:PORT (0: any free port); clients need the token.
        metrics_port: serve Prometheus metrics on http://127.0.0.1:PORT/metrics (behind the
            token when TCP is on).
        metrics_app_names: include the per-app series (they name the apps).
    """

    socket_path: Path
    tcp_port: int | None = None
    metrics_port: int | None = None
    metrics_app_names: bool = True


class _LineConnection(asyncio.Protocol):
    """One client connection: split lines, hand them to the service, flush once per batch."""

    def __init__(self, service: SessionService, *, needs_token: bool) -> None:
        self.service = service
        self.needs_token = needs_token
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.session: Session | None = None
        self._paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.session = self.service.open(self._write, transport.close, needs_token=self.needs_token)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._process()

    def _process(self) -> None:
        """Handle the buffered lines, at most ``LINES_PER_TURN`` (or ``BYTES_PER_TURN``) per
        turn of the loop: a flooding client waits for its next turn (its reading paused), the
        others are served in between. Nothing more is read from a connection being closed."""
        session, transport = self.session, self.transport
        assert session is not None
        assert transport is not None
        start = handled = 0
        while (
            not session.closed
            and not transport.is_closing()
            and handled < LINES_PER_TURN
            and start < BYTES_PER_TURN
        ):
            end = self.buffer.find(b"\n", start)
            if end < 0:
                break
            self.service.receive(session, bytes(self.buffer[start:end]))
            start, handled = end + 1, handled + 1
        del self.buffer[:start]
        if session.closed or transport.is_closing():
            self.buffer.clear()
        elif b"\n" in self.buffer:  # more lines: the next turn, after the other clients
            if not self._paused:
                self._paused = True
                transport.pause_reading()
            asyncio.get_running_loop().call_soon(self._process)
        else:
            if self._paused:
                self._paused = False
                transport.resume_reading()
            if len(self.buffer) > MAX_MESSAGE_BYTES:
                self.service.counters.protocol_errors += 1
                self.service.reject(
                    session, f"message longer than {MAX_MESSAGE_BYTES} bytes", fatal=True
                )
        self.service.flush()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.session is not None:
            if self.buffer and not self.session.closed:
                logger.info("a client hung up in the middle of a message; dropping it")
            self.service.end_session(self.session)
            self.service.flush()

    def _write(self, data: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        transport.write(data)
        if transport.get_write_buffer_size() > MAX_PENDING_OUTPUT_BYTES:
            logger.warning("a client stopped reading its messages; closing its connection")
            transport.abort()


class WarmupTimer:
    """One timer handle on ``loop`` that calls ``action`` at a time on the core's ``clock``.

    ``at(when_s)`` arms it, or re-arms it for an earlier time only; ``cancel()`` disarms it.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        clock: Callable[[], float],
        action: Callable[[], None],
    ) -> None:
        self.loop, self.clock, self.action = loop, clock, action
        self.when_s: float | None = None
        """The core-clock time it is armed for; None: disarmed."""
        self._handle: asyncio.TimerHandle | None = None

    def at(self, when_s: float) -> None:
        """Call ``action`` at ``when_s`` unless it is armed for that time or earlier already."""
        if self.when_s is not None and self.when_s <= when_s:
            return
        self.cancel()
        # call_later on the core's clock: the loop's own clock need not be the same one
        delay_s = max(0.0, when_s - self.clock())
        self._handle = self.loop.call_later(delay_s, self._fire)
        self.when_s = when_s

    def cancel(self) -> None:
        """Disarm it."""
        if self._handle is not None:
            self._handle.cancel()
        self._handle, self.when_s = None, None

    def _fire(self) -> None:
        self._handle, self.when_s = None, None
        try:
            self.action()
        except Exception:  # never let a timer take the loop down
            logger.exception("the prewarm check failed")


def bind_unix_socket(path: Path) -> socket.socket:
    """A listening-ready Unix socket at ``path``, private to this user (mode 0600).

    Refuses to replace a live daemon's socket or a file that is not a socket; removes a stale
    socket left by a daemon that died.
    """
    if len(os.fsencode(path)) > MAX_UNIX_PATH_BYTES:
        raise HermesError(
            f"socket path {path} is longer than {MAX_UNIX_PATH_BYTES} bytes, the limit for "
            "Unix sockets; choose a shorter --socket"
        )
    private_directory(path.parent)
    _remove_stale_socket(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_mask = os.umask(0o177)
    try:
        sock.bind(os.fspath(path))
    except OSError as error:
        sock.close()
        raise HermesError(f"cannot create the socket {path}: {error.strerror}") from error
    finally:
        os.umask(old_mask)
    os.chmod(path, 0o600)
    return sock


def private_directory(directory: Path) -> None:
    """Make ``directory`` (0700, ours) or check that it already is private to this user.

    Refuses a symlink, a directory of another user, and one that others can write to: there
    another local user could plant or swap the socket (and read app, run and stage names).
    """
    if not directory.exists() and not directory.is_symlink():
        directory.mkdir(mode=0o700, parents=True)
    info = directory.lstat()
    fix = "use a directory of your own with mode 0700 (or let hermes serve create it)"
    if stat.S_ISLNK(info.st_mode):
        raise HermesError(f"{directory} is a symlink; the socket's directory must not be: {fix}")
    if not stat.S_ISDIR(info.st_mode):
        raise HermesError(f"{directory} is not a directory: {fix}")
    if info.st_uid != os.getuid():
        raise HermesError(f"{directory} belongs to uid {info.st_uid}, not to you: {fix}")
    if info.st_mode & 0o022:
        raise HermesError(
            f"{directory} can be written by others (mode {stat.S_IMODE(info.st_mode):o}): {fix}"
        )


def _remove_stale_socket(path: Path) -> None:
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise HermesError(f"{path} exists and is not a socket; move it, or choose another --socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(os.fspath(path))
    except OSError as error:
        if error.errno not in (errno.ECONNREFUSED, errno.ENOENT):
            raise HermesError(f"cannot check the socket {path}: {error.strerror}") from error
        path.unlink(missing_ok=True)  # nobody listens: a daemon died and left it behind
        return
    finally:
        probe.close()
    raise HermesError(
        f"a hermes daemon is already serving {path}; stop it first, or choose another --socket"
    )


async def serve_forever(
    service: SessionService, listen: Listen, *, stop: asyncio.Event | None = None
) -> None:
    """Serve until SIGTERM/SIGINT or until ``stop`` is set; then clean up."""
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(_QuietAcceptErrors())
    stop = stop or asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
    servers = [
        await loop.create_unix_server(
            lambda: _LineConnection(service, needs_token=False),
            sock=bind_unix_socket(listen.socket_path),
        )
    ]
    lease_checks: asyncio.Task[None] | None = None
    warmups = WarmupTimer(loop, service.clock, service.flush)
    try:  # from here on, whatever fails, the socket file goes away with us
        if listen.tcp_port is not None:
            servers.append(await _serve_tcp(service, listen.tcp_port))
        if listen.metrics_port is not None:
            metrics = await serve_metrics(
                service, listen.metrics_port, app_names=listen.metrics_app_names
            )
            servers.append(metrics)
        logger.info("hermes daemon listening on unix://%s", listen.socket_path)  # all up
        lease_checks = asyncio.create_task(_expire_leases(service))

        def flush_soon() -> None:  # from any thread: a profile loaded, an answer from Redis
            loop.call_soon_threadsafe(service.flush)

        service.serving(flush_soon)
        service.on_next_check = warmups.at  # prewarm checks and the hold bound
        await stop.wait()
    finally:
        service.on_next_check = None
        warmups.cancel()
        if lease_checks is not None:
            lease_checks.cancel()
        for server in servers:
            server.close()
        for session in list(service.sessions.values()):
            session.close()
            service.end_session(session)
        listen.socket_path.unlink(missing_ok=True)
        service.close()
        logger.info("hermes daemon stopped")


async def _serve_tcp(service: SessionService, port: int) -> asyncio.Server:
    if service.token is None:
        raise HermesError("TCP needs a token: give --token-file, or let hermes serve make one")
    loop = asyncio.get_running_loop()
    try:
        server = await loop.create_server(
            lambda: _LineConnection(service, needs_token=True), host="127.0.0.1", port=port
        )
    except OSError as error:
        raise HermesError(f"cannot listen on 127.0.0.1:{port}: {error.strerror}") from error
    bound = server.sockets[0].getsockname()[1]
    logger.info("hermes daemon listening on tcp://127.0.0.1:%d (token required)", bound)
    return server


async def _expire_leases(service: SessionService) -> None:
    loop = asyncio.get_running_loop()
    interval_s = min(1.0, service.lease_s / 4)
    while True:
        started = loop.time()
        await asyncio.sleep(interval_s)
        if loop.time() - started > 2 * interval_s:
            continue  # the daemon itself stalled: read the clients' pings before judging them
        if service.expire_leases():
            service.flush()


class _QuietAcceptErrors:
    """The loop's exception handler: errors the loop reports on its own (an ``accept`` that
    fails while file descriptors run out, say) are logged at most once per ``every_s``."""

    def __init__(self, every_s: float = 10.0) -> None:
        self.every_s = every_s
        self._last: dict[str, float] = {}

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, object]) -> None:
        message = str(context.get("message", "error in the event loop"))
        now = loop.time()
        if now - self._last.get(message, -math.inf) < self.every_s:
            return
        self._last[message] = now
        logger.warning(
            "%s (%s); repeats are not logged for %.0f s",
            message,
            context.get("exception"),
            self.every_s,
        )
