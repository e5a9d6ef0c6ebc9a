"""Replay a plan: every app invoked in its own thread at its arrival time, timed end to end.

Threads, because that is how LangGraph apps are usually served (a worker per request) and
because a sync ``invoke`` blocks for the whole run. Arrival times are honoured against one
monotonic start; an app's completion time (ACT) runs from its planned arrival to its return,
so an app that starts late (its thread was slow to wake) is charged for it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from hermes_agents.demo.plan import PlannedApp

DEADLINE_KEY = "hermes_deadline_s"
"""The LangGraph metadata key of a run's deadline (``dropins.langgraph_runs.DEADLINE_KEY``; not
imported: the plain runs need no LangGraph drop-in)."""

Invoke = Callable[[Mapping[str, Any]], Any]
"""Runs one app to completion on its task (a compiled graph's ``invoke``, instrumented or not)."""


@dataclass(frozen=True)
class AppOutcome:
    """How one planned app went."""

    index: int
    app: str
    arrival_s: float
    """Planned arrival, seconds after the run started."""
    finished_s: float
    """When ``invoke`` returned (or raised), seconds after the run started."""
    error: str | None = None
    """The exception, for an app that failed (its time still counts)."""

    @property
    def act_s(self) -> float:
        """App completion time: arrival to return."""
        return self.finished_s - self.arrival_s


def run_plan(
    plan: Sequence[PlannedApp],
    apps: Mapping[str, Invoke],
    *,
    on_done: Callable[[AppOutcome], None] | None = None,
    deadlines: bool = False,
) -> list[AppOutcome]:
    """Invoke every planned app at its arrival time; returns the outcomes in plan order.

    ``deadlines``: pass each app's ``deadline_s`` in its invocation's config metadata
    (``hermes_deadline_s``; ``apps`` are then instrumented graphs' ``invoke``)."""
    start = time.monotonic()
    lock = threading.Lock()

    def one(planned: PlannedApp) -> AppOutcome:
        delay = planned.arrival_s - (time.monotonic() - start)
        if delay > 0:
            time.sleep(delay)
        error = None
        try:
            if deadlines and planned.deadline_s is not None:
                metadata = {DEADLINE_KEY: planned.deadline_s}
                apps[planned.app](planned.task, {"metadata": metadata})  # type: ignore[call-arg]
            else:
                apps[planned.app](planned.task)
        except Exception as exc:  # an app's failure is reported, never fatal to the demo
            error = f"{type(exc).__name__}: {exc}"
        outcome = AppOutcome(
            planned.index, planned.app, planned.arrival_s, time.monotonic() - start, error
        )
        if on_done is not None:
            with lock:
                on_done(outcome)
        return outcome

    with ThreadPoolExecutor(max_workers=len(plan), thread_name_prefix="demo-app") as pool:
        return list(pool.map(one, plan))
