"""``wait_for``: how the tests wait for what another thread or process makes true (polling,
never a fixed sleep; a test fails with what it waited for once the time is out)."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(
    predicate: Callable[[], object],
    timeout_s: float = 10.0,
    *,
    poll_s: float = 0.02,
    detail: Callable[[], str] | None = None,
) -> None:
    """Wait until ``predicate()`` holds; fail the test after ``timeout_s`` (with ``detail()``,
    read then, in the message: a daemon's log, say)."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() >= deadline:
            raise AssertionError(
                "condition not met in time" + ("" if detail is None else f":\n{detail()}")
            )
        time.sleep(poll_s)
