"""Fixtures of the several-hosts tests: the namespaces, Redis in the hub, the recording backend,
and app processes on the hosts. Each fixture undoes what it made however the test ends."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.scaleout.netns import Network, unavailable
from tests.scaleout.recorder import Call, Recorder

REPO = Path(__file__).resolve().parents[2]
REDIS_PORT = 6390
LEASE_TTL_S = 2.0
"""``HERMES_REDIS_LEASE_TTL_S`` of every app process: short, so expiry tests are quick."""
BACKEND = "llm"
START_LIMIT_S = 20.0


def skip_reason() -> str | None:
    """Why these tests cannot run here (None: they can)."""
    reason = unavailable()
    if reason is not None:
        return reason
    if shutil.which("redis-server") is None:
        return "redis-server is not installed (Debian: apt-get install redis-server)"
    try:
        import redis  # noqa: F401
    except ImportError:
        return "the redis package is not installed (pip install 'hermes-agents[redis]')"
    return None


@pytest.fixture
def network() -> Iterator[Network]:
    """Three hosts (A, B, C) and a hub; skipped with the reason where namespaces cannot be
    made or redis-server is missing."""
    reason = skip_reason()
    if reason is not None:
        pytest.skip(reason)
    with Network(hosts=3) as net:
        yield net


@dataclass
class HubRedis:
    """A real redis-server in the hub namespace: TCP on the bridge for the hosts, and a Unix
    socket for the test's own looks (it reaches the hub whatever the links do)."""

    net: Network
    folder: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """What the hosts' ``HERMES_SCHEDULER`` says."""
        return f"redis://{self.net.redis_ip}:{REDIS_PORT}/0"

    @property
    def socket(self) -> Path:
        return self.folder / "redis.sock"

    def start(self) -> None:
        """Start redis-server (no persistence: a restart loses every queue) and wait for it."""
        argv = ["redis-server", "--port", str(REDIS_PORT), "--bind", self.net.redis_ip]
        argv += ["--unixsocket", str(self.socket), "--unixsocketperm", "700", "--save", ""]
        argv += ["--appendonly", "no", "--protected-mode", "no", "--dir", str(self.folder)]
        self.process = self.net.spawn("hub", argv, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + START_LIMIT_S
        while True:
            try:
                if self.client().ping():
                    return
            except Exception:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.05)

    def kill9(self) -> None:
        """``kill -9`` redis-server."""
        if self.process is not None:
            self.net.kill(self.process)
            self.process = None
        self.socket.unlink(missing_ok=True)

    def client(self) -> Any:
        """A redis client on the Unix socket."""
        import redis

        return redis.Redis(unix_socket_path=str(self.socket), socket_timeout=5)

    def waiting(self) -> int:
        """Tickets waiting on the backend (``hermes:{llm}:queue``, docs/scale-out.md)."""
        return int(self.client().zcard(f"hermes:{{{BACKEND}}}:queue"))

    def granted(self) -> int:
        """Grants Redis made on the backend since it started (``hermes:{llm}:meta``)."""
        value = self.client().hget(f"hermes:{{{BACKEND}}}:meta", "granted")
        return int(value or 0)

    def wait_waiting(self, count: int, timeout_s: float = START_LIMIT_S) -> None:
        """Wait until ``count`` tickets wait in Redis."""
        deadline = time.monotonic() + timeout_s
        while (seen := self.waiting()) != count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{seen} tickets waiting in Redis, expected {count}")
            time.sleep(0.02)


@pytest.fixture
def hub_redis(network: Network, tmp_path: Path) -> Iterator[HubRedis]:
    """redis-server running in the hub (killed with the network however the test ends)."""
    folder = tmp_path / "redis"
    folder.mkdir()
    server = HubRedis(network, folder)
    server.start()
    yield server
    server.kill9()


@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[Recorder]:
    """The recording backend on a Unix socket (every gate opened at the end)."""
    backend = Recorder(tmp_path / "backend.sock")
    yield backend
    backend.close()


@dataclass
class App:
    """An app process on a host (``tests/scaleout/app.py``)."""

    host: str
    process: subprocess.Popen[bytes]
    log: Path
    lines: list[dict[str, Any]] = field(default_factory=list)

    def result(self, timeout_s: float = 60.0) -> dict[str, Any]:
        """Wait for the process to end; its ``done`` line. ``AssertionError`` with its stderr
        when it hangs (a waiter that never got an answer) or ends without one."""
        try:
            out, _ = self.process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"the app on host {self.host} did not end within {timeout_s} s; stderr:\n"
                f"{self.log.read_text()[-3000:]}"
            ) from None
        self.lines = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
        done = [line for line in self.lines if line.get("event") == "done"]
        if not done:
            raise AssertionError(
                f"the app on host {self.host} exited {self.process.returncode} without its "
                f"totals; stderr:\n{self.log.read_text()[-3000:]}"
            )
        return done[-1]


@dataclass
class Apps:
    """Starts app processes on the hosts, pointed at the hub's Redis and the recorder."""

    net: Network
    redis: HubRedis
    recorder: Recorder
    folder: Path
    started: list[App] = field(default_factory=list)

    def env(self, host: str) -> dict[str, str]:
        """The environment of an app process on ``host``."""
        home = self.folder / host
        home.mkdir(exist_ok=True)
        config = self.folder / "hermes.toml"
        config.write_text(f'[backends.{BACKEND}]\nkind = "tool"\nmax_concurrency = 1\n')
        keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "HOME")}
        return keep | {
            "PYTHONPATH": str(REPO),
            "HERMES_SCHEDULER": self.redis.url,
            "HERMES_CONFIG": str(config),
            "HERMES_REDIS_LEASE_TTL_S": str(LEASE_TTL_S),
            "HERMES_DATA_DIR": str(home / "data"),
            "XDG_RUNTIME_DIR": str(home / "run"),
        }

    def wait_for(self, count: int, timeout_s: float, *, app: str | None = None) -> list[Call]:
        """``Recorder.wait_for``; a failure also shows each app process's state and stderr."""
        try:
            return self.recorder.wait_for(count, timeout_s, app=app)
        except AssertionError as error:
            raise AssertionError(f"{error}\n{self.report()}") from None

    def wait_waiting(self, count: int) -> None:
        """``HubRedis.wait_waiting``; a failure also shows the app processes (``report``)."""
        try:
            self.redis.wait_waiting(count)
        except AssertionError as error:
            raise AssertionError(f"{error}\n{self.report()}") from None

    def report(self) -> str:
        """Each app process: host, exit status so far, the end of its stderr."""
        return "\n".join(
            f"--- {a.host} {a.log.stem}: exit {a.process.poll()}\n{a.log.read_text()[-2000:]}"
            for a in self.started
        )

    def start(self, host: str, app: str, *flags: str) -> App:
        """Run ``tests/scaleout/app.py --app APP FLAGS`` on ``host``."""
        argv = [sys.executable, "-m", "tests.scaleout.app", "--host", host, "--app", app]
        argv += ["--recorder", str(self.recorder.path), *flags]
        log = self.folder / f"{host}-{app}.log"
        process = self.net.spawn(host, argv, env=self.env(host), log=log)
        started = App(host, process, log)
        self.started.append(started)
        return started


@pytest.fixture
def apps(network: Network, hub_redis: HubRedis, recorder: Recorder, tmp_path: Path) -> Apps:
    """App processes on the hosts (killed with the network however the test ends)."""
    folder = tmp_path / "hosts"
    folder.mkdir()
    return Apps(network, hub_redis, recorder, folder)
