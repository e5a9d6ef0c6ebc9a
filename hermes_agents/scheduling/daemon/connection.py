"""Talking to the daemon outside the hot path: probe its socket, connect and say hello, read
one message, and one-shot queries (``status``, a learned ``graph``) on a connection of their
own."""

from __future__ import annotations

import json
import os
import socket
import struct
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hermes_agents.scheduling.daemon.protocol import (
    MAX_MESSAGE_BYTES,
    PROTOCOL_VERSION,
    ProtocolError,
    encode,
)

DEFAULT_CONNECT_TIMEOUT_S = 2.0
MAX_QUERY_REPLY_BYTES = 16 * 1024 * 1024
"""Longest answer to a one-shot query (a learned PDGraph carries its sample windows)."""


class DaemonUnavailableError(ConnectionError):
    """The daemon could not be reached, or refused us (the message says which and why)."""


def listening(path: Path, timeout_s: float = 1.0) -> bool:
    """Whether something accepts connections on the Unix socket ``path`` now."""
    if not path.exists():
        return False
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(timeout_s)
        probe.connect(os.fspath(path))
    except OSError:
        return False
    finally:
        probe.close()
    return True


def open_connection(
    address: str, *, token: str | None = None, timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S
) -> tuple[socket.socket, dict[str, Any], bytearray]:
    """Connect and say hello; returns the socket, the daemon's welcome, and unread bytes."""
    parts = urlsplit(address)
    try:
        if parts.scheme == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            target: Any = parts.path
        else:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            target = (parts.hostname, parts.port)
        sock.settimeout(timeout_s)
        sock.connect(target)
    except OSError as error:
        sock.close()
        raise DaemonUnavailableError(f"cannot connect to {address}: {error}") from error
    if parts.scheme == "unix":
        _check_peer(sock, address)
    hello: dict[str, Any] = {
        "op": "hello",
        "version": PROTOCOL_VERSION,
        "client": f"pid {os.getpid()}",
    }
    if token is not None and parts.scheme == "tcp":
        hello["token"] = token
    try:
        sock.sendall(encode(hello))
        buffer = bytearray()
        welcome = read_message(sock, buffer)
    except (OSError, ValueError, RecursionError) as error:
        sock.close()
        raise DaemonUnavailableError(f"no welcome from {address}: {error}") from error
    if welcome.get("op") != "welcome":
        sock.close()
        raise DaemonUnavailableError(f"{address} refused us: {welcome.get('error', welcome)}")
    return sock, welcome, buffer


def _check_peer(sock: socket.socket, address: str) -> None:
    """Refuse a Unix socket served by another user (``SO_PEERCRED``): it could be a socket
    planted to read our app, run and stage names, or to hold our calls."""
    credentials = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, _ = struct.unpack("3i", credentials)
    if uid != os.getuid():
        sock.close()
        raise DaemonUnavailableError(
            f"{address} is served by uid {uid} (pid {pid}), not by you: refusing it; "
            "calls run unscheduled until your own hermes serve listens there"
        )


def read_message(
    sock: socket.socket, buffer: bytearray, *, limit: int = MAX_MESSAGE_BYTES
) -> dict[str, Any]:
    """Read one message (blocking, under the socket's timeout); extra bytes stay in ``buffer``."""
    while (end := buffer.find(b"\n")) < 0:
        if len(buffer) > limit:
            raise ProtocolError("the daemon sent an over-long message")
        chunk = sock.recv(65536)
        if not chunk:
            raise ProtocolError("the daemon closed the connection")
        buffer += chunk
    line = bytes(buffer[:end])
    del buffer[: end + 1]
    message = json.loads(line)
    if not isinstance(message, dict):
        raise ProtocolError("the daemon sent something other than a JSON object")
    return message


def query(
    address: str, request: dict[str, Any], *, token: str | None = None, timeout_s: float = 5.0
) -> dict[str, Any]:
    """Send ``request`` to the daemon at ``address`` on a new connection; its answer."""
    sock, _, buffer = open_connection(address, token=token, timeout_s=timeout_s)
    op = request["op"]
    with sock:
        try:
            sock.sendall(encode(request))
            reply = read_message(sock, buffer, limit=MAX_QUERY_REPLY_BYTES)
        except (OSError, ValueError) as error:
            raise DaemonUnavailableError(f"no {op} from {address}: {error}") from error
    if reply.get("op") != op:
        raise DaemonUnavailableError(f"{address} answered {reply}")
    return reply


def query_status(
    address: str, *, token: str | None = None, timeout_s: float = 5.0
) -> dict[str, Any]:
    """Ask the daemon at ``address`` for its status snapshot."""
    return query(address, {"op": "status"}, token=token, timeout_s=timeout_s)
