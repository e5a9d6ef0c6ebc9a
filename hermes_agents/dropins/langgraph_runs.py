"""Which app run an invocation of an instrumented graph is, and how it ends.

``AppState`` is what an instrumented graph and its copies (``with_config``, ``copy``) share:
the app class, the scheduler, the prior, and the runs suspended at an interrupt, by thread.
``AppState.invocation`` decides, when the graph is invoked, what the invocation is:

- **nested** (None): the graph runs inside a node of an instrumented graph of the same
  scheduler (a subgraph node, a graph invoked in a node, ``instrument(g)`` inside another):
  the outer run's tracker sees its nodes as stages ``outer/inner``; nothing starts;
- **joined**: it runs inside a run scope of the scheduler (``with scheduler.run(...)``): its
  nodes are stages of that run, which it neither starts nor ends;
- **owned**: a top-level invocation: one app run. A resume on a thread whose last run stopped
  at an interrupt (input ``None`` or a ``Command``, no ``checkpoint_id``) continues that run;
  a resume with nothing to continue (another process suspended it, it expired, a time-travel
  replay) is a run that is not learned; any other input starts a new run.

An owned run that stops at an interrupt (``interrupt()``, ``interrupt_before/after``) is
suspended (``Scheduler.suspend_run``): no slot, no rank, no warm-up while a human thinks; else
it finishes and is learned, whole, when it reaches its end. One that raised, or whose stream
was closed before the end, is a partial run (``finish_run(complete=False)``): not learned.
"""

from __future__ import annotations

import contextvars
import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import count
from typing import Any

from langchain_core.callbacks import BaseCallbackManager
from langchain_core.runnables.config import RunnableConfig, var_child_runnable_config
from langgraph.types import Command

from hermes_agents.dropins.langgraph_tracker import NodeTracker, find_tracker
from hermes_agents.pdgraph import PDGraph
from hermes_agents.scheduling.default import get_scheduler
from hermes_agents.scheduling.interface import (
    SUSPENDED_RUN_TTL_S,
    RunContext,
    Scheduler,
    current_run,
)
from hermes_agents.scheduling.tiers import Tier, checked_deadline_s, checked_tier

logger = logging.getLogger(__name__)

MAX_SUSPENDED_THREADS = 10_000
"""Threads an app remembers a suspended run for (the oldest are forgotten first)."""

_run_ids = count(1)
_PROCESS = secrets.token_hex(4)  # not uuid4: LangGraph's tests patch it, we must not draw


DEADLINE_KEY = "hermes_deadline_s"
"""The metadata key of an invocation's deadline: seconds from its start (``config={"metadata":
{"hermes_deadline_s": 5.0}}``)."""
TIER_KEY = "hermes_tier"
"""The metadata key of an invocation's tier (``critical``, ``standard``, ``sheddable``)."""


@dataclass(frozen=True)
class ServiceDefaults:
    """What ``instrument(..., slo_s=..., tier=...)`` gives every run of the app (None: the
    class's from the configuration)."""

    slo_s: float | None = None
    tier: Tier | None = None

    @classmethod
    def checked(cls, slo_s: object, tier: object) -> ServiceDefaults:
        """Validated (``ValidationError`` naming ``slo_s`` or ``tier``)."""
        return cls(
            None if slo_s is None else checked_deadline_s(slo_s, "slo_s"),
            None if tier is None else checked_tier(tier),
        )

    def for_invocation(self, metadata: Mapping[str, Any]) -> ServiceDefaults:
        """These defaults, overridden by the invocation's metadata (``DEADLINE_KEY``,
        ``TIER_KEY``); a bad value raises a ``ValidationError`` naming the key."""
        slo_s, tier = self.slo_s, self.tier
        if metadata.get(DEADLINE_KEY) is not None:
            slo_s = checked_deadline_s(metadata[DEADLINE_KEY], f"metadata {DEADLINE_KEY}")
        if metadata.get(TIER_KEY) is not None:
            tier = checked_tier(metadata[TIER_KEY], f"metadata {TIER_KEY}")
        return ServiceDefaults(slo_s, tier)


NO_DEFAULTS = ServiceDefaults()


class AppState:
    """One instrumented app: shared by the graph and every copy of it (see the module)."""

    def __init__(
        self,
        name: str,
        scheduler: Scheduler | None,
        prior: PDGraph | None,
        service: ServiceDefaults | None = None,
    ) -> None:
        self.name = name
        self.given_scheduler = scheduler
        self.prior = prior
        self.service = service or NO_DEFAULTS
        self._registered: set[int] = set()
        self._suspended: OrderedDict[tuple[str, str], tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def __deepcopy__(self, memo: dict[int, Any]) -> AppState:
        return self  # a deep copy of the graph is the same app, with the same scheduler

    def scheduler(self) -> Scheduler:
        """The scheduler the runs go to (the process default unless one was given); the
        prior is given to each scheduler once."""
        scheduler = self.given_scheduler or get_scheduler()
        if id(scheduler) not in self._registered:
            self._registered.add(id(scheduler))
            if self.prior is not None:
                scheduler.add_prior(self.name, self.prior)
        return scheduler

    def invocation(
        self, graph: Any, input: Any, config: RunnableConfig | None
    ) -> Invocation | None:
        """What this invocation is: None (nested), or the run it is part of."""
        scheduler = self.scheduler()
        ambient = var_child_runnable_config.get() or {}
        for source in (config or {}, graph.config or {}, ambient):
            tracker = find_tracker(source.get("callbacks"), scheduler)
            if tracker is not None and scheduler.has_run(tracker.run_id):
                return None
        joined = scheduler.current_run_id()
        if joined is not None:
            return Invocation(self, scheduler, joined, owned=False)
        run_id = f"{self.name[:200]}-{_PROCESS}-{next(_run_ids)}"
        metadata = {
            **(ambient.get("metadata") or {}),
            **((graph.config or {}).get("metadata") or {}),
            **((config or {}).get("metadata") or {}),
        }
        service = self.service.for_invocation(metadata) if metadata else self.service
        configurable = {
            **(ambient.get("configurable") or {}),
            **((graph.config or {}).get("configurable") or {}),
            **((config or {}).get("configurable") or {}),
        }
        thread = configurable.get("thread_id")
        if thread is None or not graph.checkpointer:
            return Invocation(self, scheduler, run_id, owned=True, service=service)
        key = (str(thread), str(configurable.get("checkpoint_ns") or ""))
        suspended = self._take(key)
        if input is not None and not isinstance(input, Command):
            return Invocation(self, scheduler, run_id, owned=True, thread=key, service=service)
        if suspended is not None and not configurable.get("checkpoint_id"):
            run_id = suspended
        return Invocation(self, scheduler, run_id, owned=True, thread=key, resume=True)

    def suspended(self, key: tuple[str, str], run_id: str) -> None:
        """The run of thread ``key`` stopped at an interrupt: the next resume continues it."""
        with self._lock:
            self._suspended[key] = (run_id, time.monotonic())
            self._suspended.move_to_end(key)
            while len(self._suspended) > MAX_SUSPENDED_THREADS:
                self._suspended.popitem(last=False)

    def _take(self, key: tuple[str, str]) -> str | None:
        with self._lock:
            entry = self._suspended.pop(key, None)
        if entry is None or time.monotonic() - entry[1] >= SUSPENDED_RUN_TTL_S:
            return None
        return entry[0]


class Invocation:
    """One invocation's part in a run: the tracker it adds, how the run starts and ends."""

    def __init__(
        self,
        app: AppState,
        scheduler: Scheduler,
        run_id: str,
        *,
        owned: bool,
        thread: tuple[str, str] | None = None,
        resume: bool = False,
        service: ServiceDefaults = NO_DEFAULTS,
    ) -> None:
        self.app = app
        self.service = service
        self.scheduler = scheduler
        self.run_id = run_id
        self.owned = owned
        self.thread = thread
        self.resume = resume
        self.tracker = NodeTracker(scheduler, run_id)
        self._context = RunContext(scheduler, run_id)

    def config(self, config: RunnableConfig | None) -> RunnableConfig:
        """``config`` with the tracker among its callbacks, and nothing else changed (LangGraph
        merges it with the graph's own and the ambient callbacks)."""
        tracked: dict[str, Any] = dict(config or {})
        callbacks = tracked.get("callbacks")
        if isinstance(callbacks, BaseCallbackManager):
            manager = callbacks.copy()
            manager.add_handler(self.tracker, inherit=True)
            tracked["callbacks"] = manager
        else:
            tracked["callbacks"] = [*(callbacks or ()), self.tracker]
        return tracked  # type: ignore[return-value]

    def start(self) -> None:
        """The run starts, or resumes (owned runs only)."""
        if not self.owned:
            return
        try:
            if self.resume:
                self.scheduler.resume_run(self.run_id, self.app.name)
            else:
                self._start_run()
        except Exception:  # fail open: the graph runs unscheduled
            logger.warning("starting a run of %r failed", self.app.name, exc_info=True)

    def _start_run(self) -> None:
        slo_s, tier = self.service.slo_s, self.service.tier
        deadline = None if slo_s is None else time.monotonic() + slo_s
        if tier is None:  # schedulers that predate tiers keep working
            self.scheduler.start_run(self.run_id, self.app.name, deadline=deadline)
        else:
            self.scheduler.start_run(self.run_id, self.app.name, deadline=deadline, tier=tier)

    def enter(self) -> contextvars.Token[RunContext | None]:
        """Calls made from here on (until ``leave``) belong to the run."""
        return current_run.set(self._context)

    def leave(self, token: contextvars.Token[RunContext | None]) -> None:
        current_run.reset(token)

    def end(self, *, complete: bool) -> None:
        """The graph stopped: suspend the run at an interrupt, else finish it; one that did not
        reach its end (it raised, its stream was closed early) is partial, not learned."""
        if not self.owned:
            return
        try:
            if complete and self.tracker.interrupted and self.thread is not None:
                self.scheduler.suspend_run(self.run_id)
                self.app.suspended(self.thread, self.run_id)
            else:
                self.scheduler.finish_run(self.run_id, complete=complete)
        except Exception:  # fail open
            logger.warning("ending a run of %r failed", self.app.name, exc_info=True)
