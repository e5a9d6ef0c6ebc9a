"""Small test helpers: a fake clock and duck-typed warm hints."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any


class FakeClock:
    """A clock that moves only when told to (``clock()`` reads it)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def hint(app: str, **fields: Any) -> Any:
    """A warm hint as the planner makes them; adapters read it as optional data."""
    defaults: dict[str, Any] = {
        "backend": "gpu",
        "run_id": "run-1",
        "probability": 0.9,
        "expected_in_s": 2.0,
        "issued_at_s": 0.0,
        "action": "wake",
        "keep_s": 0.0,
    }
    return SimpleNamespace(app=app, **{**defaults, **fields})
