"""What drop-ins hold: a ``Scheduler`` that hands out slots and scopes app runs.

Two schedulers implement it: the in-process one (``runtime.LocalScheduler``, a core behind a
lock) and the daemon client (``daemon.client.DaemonScheduler``, one socket per process). Both
share the parts here: ``Slot`` (a sync and async context manager), ``RunScope``, the context
variable that carries the current run into every call, grant wake-ups (no polling), and the
fail-open counter.

Failing open: when scheduling breaks (a bug, an unreachable daemon), calls go ahead
unscheduled, with one warning and a count in ``unscheduled_calls``. The user's call never fails
because of the scheduler, and its exceptions pass through unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import sys
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TypeAlias

from hermes_agents.scheduling.state import Usage

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


class Wakeups:
    """Matches grants, which may arrive on any thread, to the callers waiting for them.

    ``expect`` a task when it is submitted; ``granted`` either runs the waiter's waker or, when
    the grant beats the waiter, remembers it so that ``register`` answers False (go ahead).
    Grants of tasks nobody expects (withdrawn ones) are ignored.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[int, Callable[[], None] | None] = {}
        self._early: set[int] = set()

    def expect(self, task: int) -> None:
        with self._lock:
            self._waiting[task] = None

    def granted(self, task: int) -> None:
        with self._lock:
            if task not in self._waiting:
                return
            waker = self._waiting.pop(task)
            if waker is None:
                self._early.add(task)
        if waker is not None:
            waker()

    def claim(self, task: int) -> bool:
        """True (and forget it) if ``task`` was granted before anyone waited for it."""
        with self._lock:
            if task in self._early:
                self._early.discard(task)
                return True
            return False

    def register(self, task: int, waker: Callable[[], None]) -> bool:
        """Arrange for ``waker`` to run on the grant; False if it was granted already."""
        with self._lock:
            if task in self._early or task not in self._waiting:
                self._early.discard(task)
                return False
            self._waiting[task] = waker
            return True

    def forget(self, task: int) -> None:
        with self._lock:
            self._waiting.pop(task, None)
            self._early.discard(task)


class Scheduler(ABC):
    """Slots and run scopes over some scheduler: in-process or a shared daemon.

    >>> from hermes_agents.scheduling import BackendLimits, LocalScheduler
    >>> scheduler = LocalScheduler.in_process({"llm": BackendLimits(max_concurrency=2)})
    >>> with scheduler.run("qa"):
    ...     with scheduler.slot("llm", stage="answer"):
    ...         pass  # call the backend here
    """

    def __init__(self) -> None:
        self.unscheduled_calls = 0
        self._wakeups = Wakeups()
        self._warned = False

    def slot(
        self,
        backend: str,
        *,
        stage: str | None = None,
        estimate_s: float = 0.0,
        tokens: int = 0,
        timeout: float | None = None,
        visit: str | None = None,
    ) -> Slot:
        """A slot on ``backend``: use with ``with`` or ``async with``.

        ``stage``: the app stage making the call; ``visit``: names the stage visit (calls of
        parallel branches each find their own); ``estimate_s``: expected service seconds;
        ``tokens``: prompt + output tokens (for token budgets); ``timeout``: seconds to wait
        for admission before ``TimeoutError``.
        """
        slot = Slot(self, backend, stage, estimate_s, tokens, timeout)
        slot.visit = visit
        return slot

    def run(self, app: str, *, deadline: float | None = None) -> RunScope:
        """Scope an app run of class ``app``; calls inside it share the run's rank.

        ``deadline`` is on the ``time.monotonic()`` clock (for the least-slack policy).
        """
        return RunScope(self, app, deadline)

    def enter_stage(self, stage: str, *, visit: str | None = None) -> None:
        """The current run starts a (new) visit of ``stage`` (a loop iteration counts).

        A named ``visit`` is entered once, however often it is named.
        """
        context = current_run.get()
        if context is not None and context.scheduler is self:
            self._enter_stage(context.run_id, stage, visit)

    def close(self) -> None:  # noqa: B027 (optional hook: most schedulers hold nothing)
        """Free what the scheduler holds (sockets, threads, prewarm workers)."""

    # -- what an implementation provides ------------------------------------------------------

    @abstractmethod
    def _submit(self, slot: Slot) -> tuple[int | None, bool]:
        """Queue the slot's task; (task id, or None when failing open; granted already)."""

    @abstractmethod
    def _release(self, slot: Slot, usage: Usage) -> None:
        """The slot's call ended (or never ran): free the slot, report ``usage``."""

    @abstractmethod
    def _withdraw(self, slot: Slot) -> None:
        """The slot stopped waiting (timeout, cancellation): withdraw its task, or release it
        if its grant raced the withdrawal, and end its one-call run if it has one."""

    @abstractmethod
    def _start_run(self, run_id: str, app: str, deadline: float | None) -> None: ...

    @abstractmethod
    def _finish_run(self, run_id: str) -> None: ...

    @abstractmethod
    def _enter_stage(self, run_id: str, stage: str, visit: str | None) -> None: ...

    @abstractmethod
    def _rank(self, slot: Slot) -> float | None:
        """The Gittins rank of the slot's run when it was admitted, if known."""

    @abstractmethod
    def _has_run(self, run_id: str) -> bool:
        """Whether ``run_id`` is a run this scheduler currently knows."""

    # -- shared machinery ---------------------------------------------------------------------

    def _current_run_id(self) -> str | None:
        """The run the calling context belongs to, or None for a one-call app."""
        context = current_run.get()
        if context is not None and context.scheduler is self and self._has_run(context.run_id):
            return context.run_id
        return None

    def _wait_sync(self, task: int, timeout: float | None) -> None:
        event = threading.Event()
        if not self._wakeups.register(task, event.set):
            return
        if not event.wait(timeout):
            raise TimeoutError(f"no slot on the backend within {timeout} s")

    async def _wait_async(self, task: int, timeout: float | None) -> None:
        loop = asyncio.get_running_loop()
        granted = loop.create_future()

        def wake() -> None:
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(_resolve, granted)

        if not self._wakeups.register(task, wake):
            return
        async with asyncio.timeout(timeout):
            await granted

    def _fail_open(self, calls: int = 1, reason: str = "hermes scheduler error") -> None:
        """Count ``calls`` that run unscheduled; warn the first time (until ``_recovered``)."""
        self.unscheduled_calls += calls
        if not self._warned:
            self._warned = True
            failing = sys.exc_info()[0] is not None
            logger.warning("%s; calls continue unscheduled", reason, exc_info=failing)

    def _recovered(self) -> None:
        """Scheduling works again: the next failure warns again."""
        self._warned = False


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
        self.run_id: str | None = None
        self.visit: str | None = None
        self.task: int | None = None
        self.usage: Usage | None = None
        self.handle: object = None
        """Whatever the scheduler keeps for this slot (its own run, its connection)."""
        self._started = 0.0

    @property
    def rank(self) -> float | None:
        """The run's Gittins rank when admitted (lower is more urgent), for backends that take
        a priority hint; None when unknown or when the call runs unscheduled."""
        if self.task is None:
            return None
        try:
            return self.scheduler._rank(self)
        except Exception:  # a hint only: never let it break the call
            return None

    def __enter__(self) -> Slot:
        self.run_id = self.scheduler._current_run_id()
        self.task, granted = self.scheduler._submit(self)
        if self.task is not None and not granted:
            try:
                self.scheduler._wait_sync(self.task, self.timeout)
            except BaseException:
                self.scheduler._withdraw(self)
                self.task = None
                raise
        self._started = time.monotonic()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: Traceback
    ) -> None:
        self._done()

    async def __aenter__(self) -> Slot:
        self.run_id = self.scheduler._current_run_id()
        self.task, granted = self.scheduler._submit(self)
        if self.task is not None and not granted:
            try:
                await self.scheduler._wait_async(self.task, self.timeout)
            except BaseException:
                self.scheduler._withdraw(self)
                self.task = None
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


class RunScope:
    """One app run: ``with scheduler.run("app"):`` or ``async with``; calls inside share it."""

    def __init__(self, scheduler: Scheduler, app: str, deadline: float | None) -> None:
        self.scheduler = scheduler
        self.app = app
        self.deadline = deadline
        self.run_id = f"{app}-{uuid.uuid4().hex[:12]}"
        self._token: contextvars.Token[RunContext | None] | None = None

    def enter_stage(self, stage: str, *, visit: str | None = None) -> None:
        """This run starts a (new) visit of ``stage``; a named ``visit`` is entered once."""
        self.scheduler._enter_stage(self.run_id, stage, visit)

    def __enter__(self) -> RunScope:
        self.scheduler._start_run(self.run_id, self.app, self.deadline)
        self._token = current_run.set(RunContext(self.scheduler, self.run_id))
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: Traceback
    ) -> None:
        if self._token is not None:
            current_run.reset(self._token)
        self.scheduler._finish_run(self.run_id)

    async def __aenter__(self) -> RunScope:
        return self.__enter__()

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: Traceback
    ) -> None:
        self.__exit__(kind, error, tb)
