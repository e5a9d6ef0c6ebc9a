"""Tool functions run inside the sandbox's worker processes (module-level: picklable)."""

from __future__ import annotations

import os


def square(x: int) -> int:
    """x squared."""
    return x * x


def worker_pid() -> int:
    """The worker's process id."""
    return os.getpid()


def crash() -> None:
    """Kill the worker process mid-call, as a segfault or OOM kill would."""
    os._exit(3)


def fail(message: str) -> None:
    """Raise the tool's own exception."""
    raise ValueError(message)
