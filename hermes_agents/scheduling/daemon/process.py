"""Start ``hermes serve`` as a child process and wait until it listens (tests, benchmarks, demo).

>>> daemon = DaemonProcess(Path("/tmp/h/hermes.sock"), config=Path("hermes.toml"))  # doctest: +SKIP
>>> daemon.start()                                                                  # doctest: +SKIP
>>> os.environ["HERMES_SCHEDULER"] = daemon.address                                 # doctest: +SKIP
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from hermes_agents.errors import HermesError
from hermes_agents.scheduling.daemon.client import listening


class DaemonProcess:
    """A ``hermes serve`` child process on the Unix socket ``socket_path``.

    Its output goes to ``log_path`` (default: beside the socket, ``daemon.log``).
    """

    def __init__(
        self,
        socket_path: Path,
        *,
        config: Path | None = None,
        args: Sequence[str] = (),
        log_path: Path | None = None,
    ) -> None:
        self.socket_path = socket_path
        self.config = config
        self.args = tuple(args)
        self.log_path = log_path or socket_path.with_name("daemon.log")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        """The value for ``HERMES_SCHEDULER``."""
        return f"unix://{self.socket_path}"

    @property
    def pid(self) -> int:
        assert self.process is not None, "the daemon was not started"
        return self.process.pid

    def start(self, timeout_s: float = 20.0) -> DaemonProcess:
        """Start it and return once it accepts connections (or raise with its log)."""
        command = [sys.executable, "-m", "hermes_agents.cli", "-v", "serve"]
        command += ["--socket", os.fspath(self.socket_path)]
        if self.config is not None:
            command += ["--config", os.fspath(self.config)]
        self.socket_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command + list(self.args), stdout=log, stderr=log)
        self._wait_listening(timeout_s)
        return self

    def stop(self, timeout_s: float = 10.0) -> int | None:
        """SIGTERM, then wait; returns the exit status (None if it never started)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout_s)
        return self.process.returncode

    def kill(self) -> None:
        """``kill -9``: no cleanup, the socket file stays behind."""
        assert self.process is not None, "the daemon was not started"
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def log(self) -> str:
        """What the daemon has logged so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def _wait_listening(self, timeout_s: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise HermesError(f"hermes serve exited at start:\n{self.log()}")
            if listening(self.socket_path):
                return
            time.sleep(0.02)
        self.stop()
        raise HermesError(f"hermes serve did not listen within {timeout_s} s:\n{self.log()}")
