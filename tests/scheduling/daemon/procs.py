"""Real processes for the daemon tests: the daemon itself, and client programs.

Run a client as ``python -m tests.scheduling.daemon.procs MODE ADDRESS ...`` from the
repository root; see ``_main`` for the modes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hermes_agents.scheduling.daemon.process import DaemonProcess

ROOT = Path(__file__).resolve().parents[3]


def short_socket_dir() -> Path:
    """A fresh directory with a path short enough for a Unix socket."""
    return Path(tempfile.mkdtemp(prefix="hermes-", dir="/tmp"))


class Daemon(DaemonProcess):
    """A real ``hermes serve`` process with a capacity-``capacity`` ``llm`` backend."""

    def __init__(self, directory: Path, *extra: str, capacity: int = 1) -> None:
        config = directory / "hermes.toml"
        config.write_text(
            f'[backends.llm]\nkind = "llm"\nmax_concurrency = {capacity}\n', encoding="utf-8"
        )
        super().__init__(directory / "hermes.sock", config=config, args=extra)
        self.socket = self.socket_path

    def start(self, timeout_s: float = 20.0) -> Daemon:
        super().start(timeout_s)
        return self

    def logged(self) -> str:
        return self.log()


def client(mode: str, address: str, *args: str) -> subprocess.Popen[bytes]:
    """Start a client program (see ``_main``)."""
    command = [sys.executable, "-m", "tests.scheduling.daemon.procs", mode, address, *args]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _calls(address: str, out: str, count: str, hold_s: str) -> None:
    """Make ``count`` calls on ``llm`` in one app run; write each call's interval to ``out``."""
    from hermes_agents.scheduling.daemon.client import DaemonScheduler

    scheduler = DaemonScheduler(address)
    intervals = []
    with scheduler.run("worker"):
        for _ in range(int(count)):
            with scheduler.slot("llm", stage="call"):
                start = time.monotonic()
                time.sleep(float(hold_s))
                intervals.append((start, time.monotonic()))
    Path(out).write_text(
        json.dumps({"intervals": intervals, "unscheduled": scheduler.unscheduled_calls}),
        encoding="utf-8",
    )


def _hold(address: str) -> None:
    """Take the ``llm`` slot, say so on stdout, and keep it until killed."""
    from hermes_agents.scheduling.daemon.client import DaemonScheduler

    scheduler = DaemonScheduler(address)
    with scheduler.slot("llm"):
        print("holding", flush=True)
        time.sleep(3600)


def _main() -> None:
    mode, address, *rest = sys.argv[1:]
    if mode == "calls":
        _calls(address, *rest)
    else:
        _hold(address)


if __name__ == "__main__":
    os.environ.pop("HERMES_SCHEDULER", None)
    _main()
