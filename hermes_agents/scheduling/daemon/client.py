"""``DaemonScheduler``: the scheduler of a process whose slots come from a shared daemon.

One connection per process, shared by every thread and event loop in it. Callers send their
requests on it directly; one background thread reads the daemon's answers, wakes the callers
whose tasks were granted, and sends a heartbeat (a third of the daemon's lease).

Failing open: when the daemon cannot be reached, or goes away, calls run unscheduled with one
warning per outage and a count in ``unscheduled_calls``; callers waiting for a slot at that
moment go ahead at once. At most every ``retry_s`` the next call tries to reconnect; once it
succeeds, the process's active runs are registered again and scheduling resumes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hermes_agents.scheduling.daemon.protocol import (
    MAX_MESSAGE_BYTES,
    PROTOCOL_VERSION,
    ProtocolError,
    encode,
)
from hermes_agents.scheduling.front import Scheduler, Slot
from hermes_agents.scheduling.state import Usage

logger = logging.getLogger(__name__)

DEFAULT_CONNECT_TIMEOUT_S = 2.0
DEFAULT_RETRY_S = 1.0


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
    except (OSError, ValueError) as error:
        sock.close()
        raise DaemonUnavailableError(f"no welcome from {address}: {error}") from error
    if welcome.get("op") != "welcome":
        sock.close()
        raise DaemonUnavailableError(f"{address} refused us: {welcome.get('error', welcome)}")
    return sock, welcome, buffer


def read_message(sock: socket.socket, buffer: bytearray) -> dict[str, Any]:
    """Read one message (blocking, under the socket's timeout); extra bytes stay in ``buffer``."""
    while (end := buffer.find(b"\n")) < 0:
        if len(buffer) > MAX_MESSAGE_BYTES:
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


def query_status(
    address: str, *, token: str | None = None, timeout_s: float = 5.0
) -> dict[str, Any]:
    """Ask the daemon at ``address`` for its status snapshot."""
    sock, _, buffer = open_connection(address, token=token, timeout_s=timeout_s)
    with sock:
        try:
            sock.sendall(encode({"op": "status"}))
            reply = read_message(sock, buffer)
        except (OSError, ValueError) as error:
            raise DaemonUnavailableError(f"no status from {address}: {error}") from error
    if reply.get("op") != "status":
        raise DaemonUnavailableError(f"{address} answered {reply}")
    return reply


@dataclass
class _RunRecord:
    """What re-registers a run with a daemon that restarted."""

    app: str
    deadline: float | None
    stage: str | None = None


class _Connection:
    """One live connection: what it has asked for, and the thread that reads its answers."""

    def __init__(
        self, owner: DaemonScheduler, sock: socket.socket, welcome: dict[str, Any], rest: bytearray
    ) -> None:
        self.owner = owner
        self.sock = sock
        self.pid = os.getpid()
        self.alive = True
        self.pending: set[int] = set()
        """Tasks submitted and not granted yet."""
        self.held: set[int] = set()
        self.ranks: dict[int, float] = {}
        """The rank each held task's run had when granted (a priority hint)."""
        self._lock = threading.Lock()
        self._buffer = rest
        lease_s = welcome.get("lease_s", 30.0)
        self.ping_every_s = max(0.05, float(lease_s) / 3)
        self._reader = threading.Thread(target=self._read_loop, daemon=True, name="hermes-client")

    def start(self) -> None:
        self.sock.settimeout(self.ping_every_s)
        self._reader.start()

    def add_pending(self, task: int) -> bool:
        with self._lock:
            if self.alive:
                self.pending.add(task)
            return self.alive

    def drop(self, task: int) -> bool:
        """Forget ``task``; True if the daemon still knows it (so it must be told)."""
        with self._lock:
            known = task in self.pending or task in self.held
            self.pending.discard(task)
            self.held.discard(task)
            self.ranks.pop(task, None)
            return known and self.alive

    def send(self, message: dict[str, Any]) -> bool:
        data = encode(message)
        try:
            with self._lock:
                if not self.alive:
                    return False
                self.sock.sendall(data)
        except OSError:
            self.lost()
            return False
        return True

    def lost(self) -> None:
        """The connection is gone: every caller still waiting goes ahead unscheduled."""
        with self._lock:
            if not self.alive:
                return
            self.alive = False
            waiting = sorted(self.pending)
            self.pending.clear()
            self.held.clear()
        try:
            self.sock.close()
        finally:
            self.owner._connection_lost(self, waiting)

    def close(self) -> None:
        if self.pid == os.getpid():
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)
        self.lost()

    def _read_loop(self) -> None:
        try:
            while True:
                while (end := self._buffer.find(b"\n")) >= 0:
                    line = bytes(self._buffer[:end])
                    del self._buffer[: end + 1]
                    self._on_message(json.loads(line))
                try:
                    chunk = self.sock.recv(65536)
                except TimeoutError:
                    if not self.send({"op": "ping", "unscheduled": self.owner.unscheduled_calls}):
                        break
                    continue
                if not chunk:
                    break
                self._buffer += chunk
        except Exception:  # a broken socket or a garbled answer: the connection is done
            logger.debug("hermes client connection ended", exc_info=True)
        finally:
            self.lost()

    def _on_message(self, message: dict[str, Any]) -> None:
        op = message.get("op")
        task = message.get("task")
        if op == "grant" and isinstance(task, int):
            with self._lock:
                if task not in self.pending:
                    return
                self.pending.discard(task)
                self.held.add(task)
                rank = message.get("rank")
                if isinstance(rank, float | int):
                    self.ranks[task] = float(rank)
            self.owner._wakeups.granted(task)
        elif op == "error":
            self._on_error(message, task if isinstance(task, int) else None)

    def _on_error(self, message: dict[str, Any], task: int | None) -> None:
        problem = f"the hermes daemon refused a request: {message.get('error')}"
        if message.get("fatal"):
            logger.warning("%s; disconnecting", problem)
            self.sock.close()
            return
        if task is None:
            logger.warning(problem)
            return
        with self._lock:
            waiting = task in self.pending
            self.pending.discard(task)
        if waiting:
            self.owner._fail_open(1, problem)
            self.owner._wakeups.granted(task)


class DaemonScheduler(Scheduler):
    """Slots from the shared daemon at ``address`` (``unix:///path`` or ``tcp://host:port``)."""

    def __init__(
        self,
        address: str,
        *,
        token: str | None = None,
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
        retry_s: float = DEFAULT_RETRY_S,
    ) -> None:
        super().__init__()
        self.address = address
        self.connect_timeout_s = connect_timeout_s
        self.retry_s = retry_s
        self._token = token
        self._lock = threading.Lock()
        self._connection: _Connection | None = None
        self._next_attempt_s = 0.0
        self._outage = False
        self._task_ids = count(1)
        self._runs: dict[str, _RunRecord] = {}

    @property
    def connected(self) -> bool:
        """Whether a connection to the daemon is open now."""
        connection = self._connection
        return connection is not None and connection.alive and connection.pid == os.getpid()

    def close(self) -> None:
        with self._lock:
            connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def _submit(self, slot: Slot) -> tuple[int | None, bool]:
        connection = self._live()
        if connection is None:
            self._fail_open(1, f"the hermes daemon at {self.address} is unreachable")
            return None, True
        task = next(self._task_ids)
        self._wakeups.expect(task)
        if not connection.add_pending(task):
            self._wakeups.forget(task)
            self._fail_open(1, f"the hermes daemon at {self.address} went away")
            return None, True
        slot.handle = connection
        message: dict[str, Any] = {
            "op": "submit",
            "task": task,
            "run": slot.run_id,
            "backend": slot.backend,
        }
        if slot.stage is not None:
            message["stage"] = slot.stage
        if slot.visit is not None:
            message["visit"] = slot.visit
        if slot.estimate_s:
            message["estimate_s"] = slot.estimate_s
        if slot.tokens:
            message["tokens"] = slot.tokens
        connection.send(message)  # on failure, lost() has already woken this task
        return task, self._wakeups.claim(task)

    def _release(self, slot: Slot, usage: Usage) -> None:
        connection = slot.handle
        if slot.task is None or not isinstance(connection, _Connection):
            return
        if connection.drop(slot.task):
            connection.send({"op": "release", "task": slot.task, "usage": _usage(usage)})

    def _withdraw(self, slot: Slot) -> None:
        if slot.task is not None:
            self._wakeups.forget(slot.task)
        connection = slot.handle
        if (
            slot.task is not None
            and isinstance(connection, _Connection)
            and connection.drop(slot.task)
        ):
            connection.send({"op": "release", "task": slot.task})

    def _start_run(self, run_id: str, app: str, deadline: float | None) -> None:
        self._runs[run_id] = _RunRecord(app, deadline)
        connection = self._live()
        if connection is not None:
            connection.send(_run_message(run_id, self._runs[run_id]))

    def _finish_run(self, run_id: str) -> None:
        connection = self._connection
        if self._runs.pop(run_id, None) is not None and connection is not None:
            connection.send({"op": "end", "run": run_id})

    def _enter_stage(self, run_id: str, stage: str, visit: str | None) -> None:
        record = self._runs.get(run_id)
        if record is None:
            return
        record.stage = stage
        connection = self._live()
        if connection is not None:
            message = {"op": "stage", "run": run_id, "stage": stage}
            if visit is not None:
                message["visit"] = visit
            connection.send(message)

    def _rank(self, slot: Slot) -> float | None:
        connection = slot.handle
        if not isinstance(connection, _Connection) or slot.task is None:
            return None
        return connection.ranks.get(slot.task)

    def _has_run(self, run_id: str) -> bool:
        return run_id in self._runs

    # -- the connection's life ----------------------------------------------------------------

    def _live(self) -> _Connection | None:
        """The open connection, or a new one if a retry is due; None while unreachable."""
        connection = self._connection
        if connection is not None and connection.alive and connection.pid == os.getpid():
            return connection
        with self._lock:
            connection = self._connection
            if connection is not None and connection.alive and connection.pid == os.getpid():
                return connection
            if time.monotonic() < self._next_attempt_s:
                return None
            return self._connect()

    def _connect(self) -> _Connection | None:
        try:
            sock, welcome, rest = open_connection(
                self.address, token=self._token, timeout_s=self.connect_timeout_s
            )
        except DaemonUnavailableError as error:
            self._next_attempt_s = time.monotonic() + self.retry_s
            if not self._outage:
                self._outage = True
                self._fail_open(0, f"the hermes daemon is unreachable ({error})")
            return None
        connection = _Connection(self, sock, welcome, rest)
        for run_id, record in list(self._runs.items()):  # a restarted daemon knows nothing
            connection.send(_run_message(run_id, record))
            if record.stage is not None:
                connection.send({"op": "stage", "run": run_id, "stage": record.stage})
        connection.start()
        self._connection = connection
        if self._outage:
            self._outage = False
            logger.info("the hermes daemon at %s is back; scheduling resumed", self.address)
        self._recovered()
        return connection

    def _connection_lost(self, connection: _Connection, waiting: list[int]) -> None:
        if self._connection is connection:
            self._connection = None
            if connection.pid == os.getpid():
                self._outage = True
                self._fail_open(len(waiting), f"lost the hermes daemon at {self.address}")
        for task in waiting:
            self._wakeups.granted(task)


def _run_message(run_id: str, record: _RunRecord) -> dict[str, Any]:
    message: dict[str, Any] = {"op": "run", "run": run_id, "app": record.app}
    if record.deadline is not None:
        message["deadline_s"] = record.deadline - time.monotonic()
    return message


def _usage(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "output_tokens": usage.output_tokens,
        "cached_tokens": usage.cached_tokens,
        "seconds": max(0.0, usage.seconds),
    }
