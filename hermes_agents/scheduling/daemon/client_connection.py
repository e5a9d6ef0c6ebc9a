"""``Connection``: the one live connection of a ``DaemonScheduler``, and its reader thread.

It knows the tickets waiting on it and the tasks it holds; its reader thread answers tickets
as the daemon's ``grant``, ``withdrawn`` and ``error`` lines arrive, sends a heartbeat every
third of the lease, and declares the daemon gone (every waiting ticket fails open) when the
socket breaks, an answer is garbled or over-long, or the daemon says nothing for
``silent_s`` (not even a pong): a stopped or stuck daemon never blocks a caller for good.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

from hermes_agents.scheduling.daemon.protocol import MAX_MESSAGE_BYTES, encode
from hermes_agents.scheduling.ticket import Ticket

if TYPE_CHECKING:
    from hermes_agents.scheduling.daemon.client import DaemonScheduler

logger = logging.getLogger(__name__)

SILENT_DAEMON_S = 5.0
"""At least this long without a word from the daemon (pongs included) and it counts as down."""


class Connection:
    """One live connection: the tickets it waits on and holds, and the thread that reads."""

    def __init__(
        self, owner: DaemonScheduler, sock: socket.socket, welcome: dict[str, Any], rest: bytearray
    ) -> None:
        self.owner = owner
        self.sock = sock
        self.pid = os.getpid()
        self.alive = True
        self.pending: dict[int, Ticket] = {}
        """Tickets submitted and not answered yet."""
        self.held: set[int] = set()
        self._lock = threading.Lock()
        self._buffer = rest
        lease_s = welcome.get("lease_s", 30.0)
        self.ping_every_s = max(0.05, float(lease_s) / 3)
        self.silent_s = max(SILENT_DAEMON_S, 2 * self.ping_every_s)
        """A daemon silent this long (not even a pong) is treated as gone: fail open."""
        self._reader = threading.Thread(target=self._read_loop, daemon=True, name="hermes-client")

    def start(self) -> None:
        self.sock.settimeout(self.ping_every_s)
        self._reader.start()

    def add_pending(self, task: int, ticket: Ticket) -> bool:
        with self._lock:
            if self.alive:
                self.pending[task] = ticket
            return self.alive

    def drop(self, task: int) -> bool:
        """Forget ``task``; True if the daemon still knows it (so it must be told)."""
        with self._lock:
            known = self.pending.pop(task, None) is not None or task in self.held
            self.held.discard(task)
            return known and self.alive

    def send(self, message: dict[str, Any] | bytes) -> bool:
        data = message if isinstance(message, bytes) else encode(message)
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
        """The connection is gone: every ticket still waiting goes ahead unscheduled."""
        with self._lock:
            if not self.alive:
                return
            self.alive = False
            waiting = list(self.pending.values())
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
        heard_s = time.monotonic()
        try:
            while True:
                while (end := self._buffer.find(b"\n")) >= 0:
                    line = bytes(self._buffer[:end])
                    del self._buffer[: end + 1]
                    self._on_message(json.loads(line))
                if len(self._buffer) > MAX_MESSAGE_BYTES:
                    logger.warning("the hermes daemon sent an over-long message; disconnecting")
                    break
                try:
                    chunk = self.sock.recv(65536)
                except TimeoutError:
                    if time.monotonic() - heard_s > self.silent_s:
                        logger.warning(
                            "the hermes daemon has not answered for %.0f s (stopped? stuck?); "
                            "calls run unscheduled until it answers again",
                            self.silent_s,
                        )
                        break
                    if not self.send({"op": "ping", "unscheduled": self.owner.unscheduled_calls}):
                        break
                    continue
                if not chunk:
                    break
                heard_s = time.monotonic()
                self._buffer += chunk
        except Exception:  # a broken socket or a garbled answer: the connection is done
            logger.debug("hermes client connection ended", exc_info=True)
        finally:
            self.lost()

    def _on_message(self, message: dict[str, Any]) -> None:
        op = message.get("op")
        task = message.get("task")
        if not isinstance(task, int):
            task = None
        if op == "grant" and task is not None:
            ticket = self._take(task, hold=True)
            rank = message.get("rank")
            if ticket is not None:
                ticket.grant(float(rank) if isinstance(rank, float | int) else None)
        elif op == "withdrawn" and task is not None:
            ticket = self._take(task, hold=False)
            if ticket is not None:
                ticket.withdraw(str(message.get("reason", "withdrawn by the daemon")))
        elif op == "error":
            self._on_error(message, task)

    def _take(self, task: int, *, hold: bool) -> Ticket | None:
        with self._lock:
            ticket = self.pending.pop(task, None)
            if ticket is not None and hold:
                self.held.add(task)
            return ticket

    def _on_error(self, message: dict[str, Any], task: int | None) -> None:
        problem = f"the hermes daemon refused a request: {message.get('error')}"
        if message.get("fatal"):
            logger.warning("%s; disconnecting", problem)
            self.sock.close()
            return
        ticket = self._take(task, hold=False) if task is not None else None
        if ticket is None:
            logger.warning(problem)
            return
        self.owner.fail_open(ticket, problem)
