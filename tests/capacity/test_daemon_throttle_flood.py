"""A flood of ``throttle`` lines on a real ``hermes serve`` with an ``auto`` backend: the lines
with bad numbers (NaN, infinities, 1e308, negatives, booleans, huge integers, unknown
statuses) are each refused with one error, the good ones are never answered, the daemon keeps
serving, and a burst of ``Retry-After: 0`` throttles cuts the window once (not to its floor)."""

from __future__ import annotations

import json
import math
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hermes_agents.scheduling.daemon.client import DaemonScheduler
from hermes_agents.scheduling.daemon.connection import query_status
from hermes_agents.scheduling.daemon.process import DaemonProcess
from tests.scheduling.daemon.procs import short_socket_dir

GOOD = b'{"op":"throttle","backend":"api","status":429,"retry_after_s":0}\n'
BAD = [
    b'{"op":"throttle","backend":"api","status":429,"retry_after_s":NaN}\n',
    b'{"op":"throttle","backend":"api","status":429,"retry_after_s":Infinity}\n',
    b'{"op":"throttle","backend":"api","status":429,"retry_after_s":-Infinity}\n',
    b'{"op":"throttle","backend":"api","status":429,"retry_after_s":1e999}\n',
    b'{"op":"throttle","backend":"api","status":429,"retry_after_s":1e308}\n',
    b'{"op":"throttle","backend":"api","status":429,"retry_after_s":-0.5}\n',
    b'{"op":"throttle","backend":"api","status":429,"retry_after_s":false}\n',
    b'{"op":"throttle","backend":"api","status":429,"retry_after_s":"7"}\n',
    b'{"op":"throttle","backend":"api","status":true}\n',
    b'{"op":"throttle","backend":"api","status":500}\n',
    b'{"op":"throttle","backend":"api","status":429.0}\n',
    b'{"op":"throttle","backend":"api","status":-429}\n',
    b'{"op":"throttle","backend":"api","status":1000000000000000000000000000000}\n',
    b'{"op":"throttle","backend":7,"status":429}\n',
    b'{"op":"throttle","status":429}\n',
]


def _read(sock: socket.socket, count: int, timeout_s: float = 20.0) -> list[dict[str, Any]]:
    """Read ``count`` lines (fails the test after ``timeout_s``)."""
    deadline, data = time.monotonic() + timeout_s, b""
    while data.count(b"\n") < count:
        left = deadline - time.monotonic()
        assert left > 0, data[-500:]
        sock.settimeout(left)
        chunk = sock.recv(65536)
        assert chunk, "the daemon hung up"
        data += chunk
    return [json.loads(line) for line in data.splitlines()]


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    """A directory with a path short enough for the daemon's socket, removed afterwards."""
    directory = short_socket_dir()
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _daemon(tmp_path: Path, socket_dir: Path) -> DaemonProcess:
    """A daemon whose ``api`` backend has an ``auto`` window starting at 16 (not started)."""
    config = tmp_path / "hermes.toml"
    config.write_text(
        '[backends.api]\nkind = "llm"\nmax_concurrency = "auto"\n'
        'base_url = "http://127.0.0.1:1/v1"\n[backends.api.auto]\nstart = 16\n',
        encoding="utf-8",
    )
    return DaemonProcess(socket_dir / "hermes.sock", config=config, args=["--no-store"])


def _window_moved(daemon: DaemonProcess) -> dict[str, Any]:
    """The daemon's status once the ``api`` window has left 16."""
    deadline = time.monotonic() + 10
    while query_status(daemon.address)["backends"][0]["max_concurrency"] == 16:
        assert time.monotonic() < deadline, daemon.log()
        time.sleep(0.05)
    state: dict[str, Any] = query_status(daemon.address)
    return state


def test_a_flood_of_throttles_is_refused_line_by_line_and_cuts_the_window_once(
    tmp_path: Path, socket_dir: Path
) -> None:
    daemon = _daemon(tmp_path, socket_dir)
    try:
        daemon.start()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(str(daemon.socket_path))
        sock.sendall(b'{"op":"hello","version":1}\n')
        assert _read(sock, 1)[0]["op"] == "welcome"
        # one overload's worth of refusals (all at once), the bad lines amid them
        sock.sendall(GOOD * 1000 + b"".join(BAD) + GOOD * 1000 + b'{"op":"ping"}\n')
        answers = _read(sock, len(BAD) + 1)
        assert answers[-1] == {"op": "pong"}
        assert [m["op_failed"] for m in answers[:-1]] == ["throttle"] * len(BAD)
        assert not any(m["fatal"] for m in answers[:-1])
        state = _window_moved(daemon)
        # halved once, not 16 -> 1 (4 only if a starved machine spread the flood over 1 s)
        assert state["backends"][0]["max_concurrency"] in (8, 4)
        assert state["counters"]["protocol_errors"] == len(BAD)
        sock.close()
    finally:
        daemon.stop()


def test_a_buggy_callers_throttles_through_the_client_never_raise(
    tmp_path: Path, socket_dir: Path
) -> None:
    """``Scheduler.throttled`` never raises: a status of 429.0 goes as 429, a ``Retry-After``
    that is no number (a string, NaN, inf) goes as none, 1e308 within the protocol's bounds;
    the daemon refuses none of them (no error lines to warn of), and the window halves once."""
    daemon = _daemon(tmp_path, socket_dir)
    try:
        daemon.start()
        scheduler = DaemonScheduler(daemon.address)
        with scheduler.run("app"), scheduler.slot("api"):  # connected (throttles need it)
            pass
        calls: list[tuple[Any, Any]] = [
            (429.0, "7"),
            (429, math.nan),
            (503, math.inf),
            (429, 1e308),
            (429, -5),
            (True, None),
            ([429], None),
            (None, 1.0),
            (429, [1]),
        ]
        for status, retry_after_s in calls:
            scheduler.throttled("api", status, retry_after_s)
        with scheduler.run("app"), scheduler.slot("api"):  # the connection is still good
            pass
        state = _window_moved(daemon)
        assert state["backends"][0]["max_concurrency"] == 8
        assert state["counters"]["protocol_errors"] == 0
        assert scheduler.unscheduled_calls == 0
        scheduler.close()
    finally:
        daemon.stop()
