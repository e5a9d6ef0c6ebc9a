"""The in-process runtime: slots for asyncio code and for worker threads, one core behind a lock.

``with scheduler.slot("llm"):`` and ``async with scheduler.slot("llm"):`` wait for admission
(woken by the grant itself, no polling). The slot is released however the block ends: normally,
by an exception (re-raised unchanged), by a timeout, or by cancellation. Calls made inside
``scheduler.run("my-app")`` belong to that app run; calls outside any run are one-call apps.

Failing open: if the scheduler itself breaks, the call goes ahead unscheduled, with one warning
and a counter (``unscheduled_calls``). The user's call never fails because of us.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import TypeAlias

from hermes_agents.cost import CostModel
from hermes_agents.scheduling.core import SchedulerCore
from hermes_agents.scheduling.models import AppModels
from hermes_agents.scheduling.policies import Policy, policy_named
from hermes_agents.scheduling.state import UNLIMITED, BackendLimits, Grant, Usage

logger = logging.getLogger(__name__)

Traceback: TypeAlias = TracebackType | None


@dataclass(frozen=True)
class RunContext:
    """The app run that calls in this context belong to."""

    scheduler: Scheduler
    run_id: str


current_run: contextvars.ContextVar[RunContext | None] = contextvars.ContextVar(
    "hermes_current_run", default=None
)


class Scheduler:
    """Thread-safe front of a ``SchedulerCore``, usable from asyncio and from threads."""

    def __init__(self, core: SchedulerCore) -> None:
        self.core = core
        self.unscheduled_calls = 0
        self._lock = threading.Lock()
        self._wakers: dict[int, Callable[[], None]] = {}
        self._warned = False

    @classmethod
    def in_process(
        cls,
        backends: Mapping[str, BackendLimits] | None = None,
        *,
        policy: str | Policy = "gittins",
        models: AppModels | None = None,
        cost: CostModel | None = None,
    ) -> Scheduler:
        """A scheduler on the monotonic clock; unconfigured backends are unlimited."""
        cost = cost or CostModel()
        core = SchedulerCore(
            backends or {},
            policy_named(policy) if isinstance(policy, str) else policy,
            time.monotonic,
            models=models or AppModels(cost),
            cost=cost,
            default_limits=UNLIMITED,
        )
        return cls(core)

    def slot(
        self,
        backend: str,
        *,
        stage: str | None = None,
        estimate_s: float = 0.0,
        tokens: int = 0,
        timeout: float | None = None,
    ) -> Slot:
        """A slot on ``backend``: use with ``with`` or ``async with``."""
        return Slot(self, backend, stage, estimate_s, tokens, timeout)

    def run(self, app: str, *, deadline: float | None = None) -> RunScope:
        """Scope an app run: calls inside it share the run's rank."""
        return RunScope(self, app, deadline)

    def enter_stage(self, stage: str) -> None:
        """The current run starts a (new) visit of ``stage`` (a loop iteration counts)."""
        context = current_run.get()
        if context is not None and context.scheduler is self:
            self._guarded(lambda: self.core.enter_stage(context.run_id, stage))

    # -- used by Slot and RunScope ------------------------------------------------------------

    def _submit(self, slot: Slot) -> tuple[int | None, bool]:
        """Queue the slot's task; returns (task id or None if failing open, granted now)."""
        with self._lock:
            try:
                run_id = self._run_for(slot)
                task = self.core.submit(
                    run_id,
                    slot.backend,
                    stage=slot.stage,
                    estimate_s=slot.estimate_s,
                    tokens=slot.tokens,
                )
                granted = self._dispatch(self.core.schedule())
            except Exception:
                self._fail_open()
                return None, True
            return task, task in granted

    def _wait_sync(self, task: int, timeout: float | None) -> None:
        event = threading.Event()
        if not self._register(task, event.set):
            return
        if not event.wait(timeout):
            self._withdraw(task)
            raise TimeoutError(f"no slot on the backend within {timeout} s")

    async def _wait_async(self, task: int, timeout: float | None) -> None:
        loop = asyncio.get_running_loop()
        granted = loop.create_future()

        def wake() -> None:
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(_resolve, granted)

        if not self._register(task, wake):
            return
        try:
            async with asyncio.timeout(timeout):
                await granted
        except BaseException:
            self._withdraw(task)
            raise

    def _register(self, task: int, waker: Callable[[], None]) -> bool:
        """Arrange for ``waker`` to run on the task's grant; False if it was granted already."""
        with self._lock:
            waiting = self.core.tasks.get(task)
            if waiting is None or waiting.started_at is not None:
                return False
            self._wakers[task] = waker
            return True

    def _release(self, slot: Slot, usage: Usage) -> None:
        with self._lock:
            try:
                if slot.task is not None:
                    self.core.release(slot.task, usage)
                if slot.own_run is not None:
                    self.core.finish_run(slot.own_run)
                self._dispatch(self.core.schedule())
            except Exception:
                self._fail_open()

    def _withdraw(self, task: int) -> None:
        """Cancel a waiting task, or release it if its grant raced the cancellation."""
        with self._lock:
            self._wakers.pop(task, None)
            self._guarded_locked(lambda: self.core.cancel(task))
            self._guarded_locked(lambda: self._dispatch(self.core.schedule()))

    def _run_for(self, slot: Slot) -> str:
        context = current_run.get()
        if context is not None and context.scheduler is self and context.run_id in self.core.runs:
            return context.run_id
        slot.own_run = f"call-{uuid.uuid4().hex[:12]}"
        self.core.start_run(slot.own_run, f"call:{slot.backend}")
        return slot.own_run

    def _dispatch(self, grants: list[Grant]) -> set[int]:
        for grant in grants:
            waker = self._wakers.pop(grant.task_id, None)
            if waker is not None:
                waker()
        return {grant.task_id for grant in grants}

    def _guarded(self, action: Callable[[], object]) -> None:
        with self._lock:
            self._guarded_locked(action)

    def _guarded_locked(self, action: Callable[[], object]) -> None:
        try:
            action()
        except Exception:
            self._fail_open()

    def _fail_open(self) -> None:
        self.unscheduled_calls += 1
        if not self._warned:
            self._warned = True
            logger.warning("hermes scheduler error; calls continue unscheduled", exc_info=True)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class Slot:
    """Admission to one backend for one call; a sync and async context manager.

    Set ``slot.usage`` (a ``Usage``) before the block ends to report the actual demand;
    otherwise the measured wall time is reported.
    """

    def __init__(
        self,
        scheduler: Scheduler,
        backend: str,
        stage: str | None,
        estimate_s: float,
        tokens: int,
        timeout: float | None,
    ) -> None:
        self.scheduler = scheduler
        self.backend = backend
        self.stage = stage
        self.estimate_s = estimate_s
        self.tokens = tokens
        self.timeout = timeout
        self.task: int | None = None
        self.own_run: str | None = None
        self.usage: Usage | None = None
        self._started = 0.0

    def __enter__(self) -> Slot:
        self.task, granted = self.scheduler._submit(self)
        if self.task is not None and not granted:
            try:
                self.scheduler._wait_sync(self.task, self.timeout)
            except BaseException:
                self._finish_run_only()
                raise
        self._started = time.monotonic()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: Traceback
    ) -> None:
        self._done()

    async def __aenter__(self) -> Slot:
        self.task, granted = self.scheduler._submit(self)
        if self.task is not None and not granted:
            try:
                await self.scheduler._wait_async(self.task, self.timeout)
            except BaseException:
                self._finish_run_only()
                raise
        self._started = time.monotonic()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: Traceback
    ) -> None:
        self._done()

    def _done(self) -> None:
        usage = self.usage or Usage(seconds=time.monotonic() - self._started)
        self.scheduler._release(self, usage)

    def _finish_run_only(self) -> None:
        self.task = None
        self.scheduler._release(self, Usage())


class RunScope:
    """One app run: ``with scheduler.run("app"):`` or ``async with``; calls inside share it."""

    def __init__(self, scheduler: Scheduler, app: str, deadline: float | None) -> None:
        self.scheduler = scheduler
        self.app = app
        self.deadline = deadline
        self.run_id = f"{app}-{uuid.uuid4().hex[:12]}"
        self._token: contextvars.Token[RunContext | None] | None = None

    def __enter__(self) -> RunScope:
        core = self.scheduler.core
        self.scheduler._guarded(
            lambda: core.start_run(self.run_id, self.app, deadline=self.deadline)
        )
        self._token = current_run.set(RunContext(self.scheduler, self.run_id))
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: Traceback
    ) -> None:
        if self._token is not None:
            current_run.reset(self._token)
        scheduler = self.scheduler

        def finish() -> None:
            scheduler.core.finish_run(self.run_id)
            scheduler._dispatch(scheduler.core.schedule())

        scheduler._guarded(finish)

    async def __aenter__(self) -> RunScope:
        return self.__enter__()

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: Traceback
    ) -> None:
        self.__exit__(kind, error, tb)
