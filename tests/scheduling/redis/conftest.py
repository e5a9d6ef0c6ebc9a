"""A real ``redis-server`` per test (Debian's package), on a private port in a temporary
directory, without persistence; skipped with the reason when the binary is absent. And for the
tests of a daemon fronting it: a short socket directory (``workdir``) and the daemon itself."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.scheduling.daemon.procs import Daemon, short_socket_dir

if TYPE_CHECKING:
    import redis

pytest.importorskip("redis", reason="the redis extra is not installed")

REDIS_SERVER = shutil.which("redis-server") or (
    "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
)


@dataclass
class RedisServer:
    """One redis-server process the test owns: ``url``, ``kill`` (-9), ``start`` again."""

    directory: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    options: tuple[str, ...] = ()
    """More ``redis-server`` options (e.g. ``--rename-command BLMPOP ""``: an older Redis)."""

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert REDIS_SERVER is not None
        command = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        command += self.options
        log = (self.directory / "redis.log").open("ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def kill(self) -> None:
        """kill -9 (everything it held is lost: no persistence)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        self.process = None

    def client(self) -> redis.Redis:
        """A client of this server (with redis-py's default retries)."""
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A fresh redis-server for this test, stopped at teardown."""
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (Debian/Ubuntu: apt-get install redis-server)")
    server = RedisServer(tmp_path, _free_port())
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A directory with a path short enough for the daemon's socket, removed afterwards."""
    directory = short_socket_dir()
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def daemon(
    redis_server: RedisServer, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Daemon]:
    """A real ``hermes serve`` fronting the test's Redis (``llm``: capacity 1)."""
    monkeypatch.setenv("HERMES_REDIS_LEASE_TTL_S", "3")
    daemon = Daemon(workdir, "--scheduler", redis_server.url).start()
    try:
        yield daemon
    finally:
        daemon.stop()
