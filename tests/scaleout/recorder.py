"""The backend the several-hosts tests call: a real HTTP server that records every call.

``GET /call?host=A&app=long&call=3&ms=50`` records the call's start, works ``ms``
milliseconds, records its end and answers ``{"ok": true}``; ``&gate=NAME`` also holds the call
until the test opens that gate (``open_gate``), so a test decides when a slot frees. The
recorder counts calls in flight at every start: ``max_in_flight`` above the backend's capacity
is an overlap the scheduler should have prevented.

It listens on a Unix socket (HTTP over it, as ``httpx.HTTPTransport(uds=...)`` speaks): paths
are shared by every network namespace, so a host whose link to Redis is cut still reaches its
backend, and fails open onto it.
"""

from __future__ import annotations

import json
import socketserver
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

GATE_LIMIT_S = 120.0
"""A gated call gives up waiting after this long (a test that forgot its gate still ends)."""


@dataclass
class Call:
    """One call as the backend saw it (``time.monotonic()``, shared by every namespace)."""

    host: str
    app: str
    call: str
    started_s: float
    in_flight: int
    """Calls running when this one started, itself included."""
    ended_s: float | None = None


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    recorder: Recorder

    def handle_error(self, request: object, client_address: object) -> None:
        """Quiet: a client the test killed with kill -9 leaves a broken pipe behind."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        if parts.path != "/call":
            self.send_error(404)
            return
        self.server.recorder.serve(query)
        body = json.dumps({"ok": True}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def address_string(self) -> str:
        return "unix"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads the records, not a log."""


class Recorder:
    """The recording backend on the Unix socket ``path`` (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.calls: list[Call] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._gates: dict[str, threading.Event] = {}
        self._server = _Server(str(path), _Handler)
        self._server.recorder = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def gate(self, name: str) -> threading.Event:
        """The gate ``name`` (made closed on first use)."""
        with self._lock:
            return self._gates.setdefault(name, threading.Event())

    def open_gate(self, name: str) -> None:
        """Let the calls held at gate ``name`` finish."""
        self.gate(name).set()

    def serve(self, query: dict[str, str]) -> None:
        """Record one call from start to end (the handler's thread)."""
        with self._changed:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            record = Call(
                query.get("host", "?"),
                query.get("app", "?"),
                query.get("call", "?"),
                time.monotonic(),
                self._in_flight,
            )
            self.calls.append(record)
            self._changed.notify_all()
        try:
            time.sleep(float(query.get("ms", "0")) / 1000)
            if "gate" in query:
                self.gate(query["gate"]).wait(GATE_LIMIT_S)
        finally:
            with self._changed:
                self._in_flight -= 1
                record.ended_s = time.monotonic()
                self._changed.notify_all()

    def wait_for(self, count: int, timeout_s: float, *, app: str | None = None) -> list[Call]:
        """Wait until ``count`` calls (of ``app``, if given) have started; return them all.
        ``AssertionError`` naming what did arrive when they do not within ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                seen = [c for c in self.calls if app is None or c.app == app]
                if len(seen) >= count:
                    return list(self.calls)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{len(seen)} of {count} calls{f' of {app}' if app else ''} reached "
                        f"the backend within {timeout_s} s: {self.summary()}"
                    )
                self._changed.wait(left)

    def summary(self) -> str:
        """The calls so far, one ``host/app/call@start`` each (for failure messages)."""
        if not self.calls:
            return "none"
        first = self.calls[0].started_s
        return ", ".join(
            f"{c.host}/{c.app}/{c.call}@{c.started_s - first:.2f}s" for c in list(self.calls)
        )

    def close(self) -> None:
        """Open every gate, stop serving, remove the socket."""
        with self._lock:
            gates = list(self._gates.values())
        for gate in gates:
            gate.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self.path.unlink(missing_ok=True)
