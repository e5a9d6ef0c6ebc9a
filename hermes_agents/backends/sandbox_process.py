"""One process of the tool sandbox's pool: ``sandbox_worker.py`` run as a script, and our ends
of its two pipes (``ToolSandbox`` in ``sandbox.py`` keeps the pool)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from hermes_agents.errors import HermesError

STOP_S = 2.0
"""How long a worker asked to exit may take before it is killed."""
WORKER_SCRIPT = Path(__file__).with_name("sandbox_worker.py")


def main_path() -> str | None:
    """The parent's main script, for tools defined in it (see ``sandbox_worker``)."""
    path = getattr(sys.modules.get("__main__"), "__file__", None)
    return path if isinstance(path, str) and os.path.isfile(path) else None


class WorkerProcess:
    """One worker process (``sandbox_worker.py``, run as a script) and our ends of its pipes."""

    def __init__(self, options: tuple[Any, ...], main_path: str | None) -> None:
        to_child, self_out = os.pipe()
        self_in, from_child = os.pipe()
        try:
            self.process = subprocess.Popen(
                [sys.executable, str(WORKER_SCRIPT), str(to_child), str(from_child)],
                pass_fds=(to_child, from_child),
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # terminal signals are for us; our exit stops it
            )
        except BaseException:
            os.close(self_out)
            os.close(self_in)
            raise
        finally:
            os.close(to_child)  # only the child holds these now, so its death closes our end
            os.close(from_child)
        self.inbox = Connection(self_in, writable=False)
        self.outbox = Connection(self_out, readable=False)
        self.last_used = 0.0
        try:
            self.outbox.send(list(sys.path))
            self.outbox.send(main_path)
            self.outbox.send(options)  # an unpicklable initializer fails here
        except BaseException:
            self.kill()
            raise

    def wait_ready(self, timeout_s: float) -> None:
        if not self.inbox.poll(timeout_s):
            raise HermesError(f"sandbox worker did not start within {timeout_s:.0f} s")
        try:
            kind, detail = self.inbox.recv()
        except (EOFError, OSError) as error:
            raise HermesError("sandbox worker died while starting") from error
        if kind != "ready":
            raise HermesError(f"sandbox worker failed to start: {detail}")

    def receive(self) -> tuple[str, Any]:
        reply: tuple[str, Any] = self.inbox.recv()
        return reply

    def dead(self) -> bool:
        """Exited, or its end of the pipe closed (an idle worker never sends anything)."""
        return self.process.poll() is not None or self.inbox.poll(0)

    def stop(self) -> None:
        """Ask it to exit; kill it if it has not within a moment."""
        with contextlib.suppress(OSError, ValueError):  # already gone
            self.outbox.send_bytes(b"")
        try:
            self.process.wait(STOP_S)
        except subprocess.TimeoutExpired:
            self.kill()
        self._close()

    def kill(self) -> None:
        """Kill it now and reap it."""
        with contextlib.suppress(OSError):
            self.process.kill()
        self.process.wait()
        self._close()

    def _close(self) -> None:
        for conn in (getattr(self, "inbox", None), getattr(self, "outbox", None)):
            if conn is not None and not conn.closed:
                conn.close()
