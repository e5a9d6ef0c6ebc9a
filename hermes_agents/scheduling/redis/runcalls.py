"""``RunCalls``: this process's waiting calls through Redis, per app run (withdrawn when the
run ends or is suspended; re-ranked in place when it moves)."""

from __future__ import annotations

import threading

from hermes_agents.scheduling.redis.call import Call


class RunCalls:
    """Waiting calls per run id (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_run: dict[str, set[Call]] = {}

    def add(self, call: Call) -> None:
        """``call`` waits in Redis for its run."""
        with self._lock:
            self._by_run.setdefault(call.run_id, set()).add(call)

    def forget(self, call: Call) -> None:
        """``call`` no longer waits (granted, failed open, withdrawn)."""
        with self._lock:
            calls = self._by_run.get(call.run_id)
            if calls is not None:
                calls.discard(call)
                if not calls:
                    del self._by_run[call.run_id]

    def take(self, run_id: str) -> set[Call]:
        """The run's calls, taken out (it ended or was suspended)."""
        with self._lock:
            return self._by_run.pop(run_id, set())

    def waiting(self, run_id: str) -> list[Call]:
        """The run's calls not granted yet."""
        with self._lock:
            return [call for call in self._by_run.get(run_id, ()) if not call.granted]
