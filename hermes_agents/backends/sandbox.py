"""A real process-pool tool sandbox with a cold start, and its adapter.

``ToolSandbox`` runs tool functions in worker processes that start on demand and stop after
``idle_stop_s`` idle seconds. Starting one is a real cold start: a spawned interpreter, the
configured ``imports`` and ``initializer``, then ``warmup_s`` of warm-up (see
``sandbox_worker``). A call that finds no idle worker pays that start on its critical path;
``warm()`` (what ``SandboxAdapter.warm`` calls on a hint) pays it ahead of time.

A worker that dies is counted (``stats.crashes``) and replaced: found dead while idle, the call
simply gets another worker; dying during a call, that call raises ``SandboxCrashError`` (tools can
have side effects, so it is not retried) and the next call starts a fresh worker.

Example::

    with ToolSandbox(workers=2, warmup_s=0.5, imports=["json"]) as sandbox:
        sandbox.warm()                      # both workers start now, in parallel
        sandbox.call(run_tests, code)       # no cold start on the app's critical path

Tool functions and their arguments must be picklable (module-level functions).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.reduction import ForkingPickler
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from hermes_agents.backends.base import BackendState, FailOpenAdapter
from hermes_agents.backends.sandbox_process import WorkerProcess, main_path
from hermes_agents.errors import HermesError, ValidationError

if TYPE_CHECKING:
    from hermes_agents.prewarm.hints import (  # type: ignore[import-not-found,unused-ignore]
        WarmHint,
    )

__all__ = ["SandboxAdapter", "SandboxCrashError", "SandboxStats", "ToolSandbox"]

T = TypeVar("T")


class SandboxCrashError(HermesError):
    """A sandbox worker died while running a call (the sandbox replaces it)."""


@dataclass(frozen=True)
class SandboxStats:
    """A snapshot of a sandbox's counters."""

    worker_starts: int
    """Workers started (cold starts), by calls and by ``warm()``."""
    cold_calls: int
    """Calls that had to start a worker first."""
    calls: int
    """Calls run."""
    crashes: int
    """Workers found dead or that died during a call."""
    idle_stops: int
    """Workers stopped after ``idle_stop_s`` idle seconds."""
    live: int
    """Workers running or starting now."""
    busy: int
    """Workers running a call now."""
    waiting: int
    """Calls waiting for a worker now."""


def _check(value: float | None, field: str, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValidationError(f"must be a number >= 0, got {value!r}", "tool sandbox", field)


class ToolSandbox:
    """Worker processes for tool calls: started on demand, stopped when idle (see module).

    ``workers``: most processes at once; ``warmup_s``: configured start-up work per worker;
    ``imports``/``initializer``: run in each worker at start (picklable); ``idle_stop_s``: stop
    a worker idle this long (None: never); ``import_main``: run the parent's main script in
    each worker at start, as ``multiprocessing`` spawn does, so tools defined there resolve
    (False: tools live in importable modules; starts are cheaper); ``reap_every_s``: how
    often a background thread stops idle workers (None: only when ``reap()`` is called);
    ``clock``: for idle times.
    """

    def __init__(
        self,
        *,
        workers: int = 2,
        warmup_s: float = 0.0,
        imports: Sequence[str] = (),
        initializer: Callable[[], object] | None = None,
        idle_stop_s: float | None = 60.0,
        import_main: bool = True,
        start_timeout_s: float = 60.0,
        reap_every_s: float | None = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValidationError(f"must be an integer >= 1, got {workers!r}", "field 'workers'")
        _check(warmup_s, "field 'warmup_s'")
        _check(idle_stop_s, "field 'idle_stop_s'", allow_none=True)
        _check(reap_every_s, "field 'reap_every_s'", allow_none=True)
        self.workers, self.idle_stop_s, self.start_timeout_s = workers, idle_stop_s, start_timeout_s
        self._options = (tuple(imports), initializer, float(warmup_s))
        self._main_path = main_path() if import_main else None
        self._clock, self._reap_every_s = clock, reap_every_s
        self._cond = threading.Condition()
        self._idle: list[WorkerProcess] = []
        self._busy: set[WorkerProcess] = set()
        self._starting = self._waiting = 0
        self._counts = dict.fromkeys(("starts", "cold", "calls", "crashes", "idle_stops"), 0)
        self._closed = False
        self._reaper: threading.Thread | None = None

    # --- calls --------------------------------------------------------------------------------

    def call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` in a worker and return its result; its exception is
        re-raised as is. Raises ``SandboxCrashError`` if the worker dies during the call."""
        payload = bytes(ForkingPickler.dumps((fn, args, kwargs)))  # unpicklable: fail here
        worker = self._send(payload)
        try:
            kind, value = worker.receive()
        except (EOFError, OSError) as error:
            self._lost(worker)
            raise SandboxCrashError(f"sandbox worker died while running {fn!r}") from error
        except BaseException:
            self._lost(worker, crashed=False)  # interrupted mid-call: its reply is unusable
            raise
        self._release(worker)
        if kind == "error":
            raise value
        result: T = value
        return result

    def warm(self, count: int | None = None) -> int:
        """Start workers now until ``count`` (default: ``workers``) are live, in parallel, and
        keep the idle ones awake; returns how many were started."""
        with self._cond:
            self._check_open()
            self._drop_dead_idle()
            now = self._clock()
            for worker in self._idle:
                worker.last_used = now
            wanted = min(self.workers if count is None else count, self.workers)
            missing = max(0, wanted - self._live())
            self._starting += missing
        started = self._start(missing)
        with self._cond:
            self._starting -= missing
            closed = self._closed
            for worker in [] if closed else started:
                worker.last_used = self._clock()
                self._idle.append(worker)
            self._cond.notify_all()
        for worker in started if closed else []:
            worker.stop()
        return len(started)

    def reap(self) -> int:
        """Stop workers idle for ``idle_stop_s`` or more; returns how many were stopped."""
        if self.idle_stop_s is None:
            return 0
        with self._cond:
            now = self._clock()
            stale = [w for w in self._idle if now - w.last_used >= self.idle_stop_s]
            self._idle = [w for w in self._idle if w not in stale]
            self._counts["idle_stops"] += len(stale)
        for worker in stale:
            worker.stop()
        return len(stale)

    @property
    def stats(self) -> SandboxStats:
        """Counters and current occupancy."""
        with self._cond:
            c = self._counts
            return SandboxStats(
                c["starts"], c["cold"], c["calls"], c["crashes"], c["idle_stops"],
                self._live(), len(self._busy), self._waiting,
            )  # fmt: skip

    def close(self) -> None:
        """Stop every idle worker now and busy ones when their call ends; idempotent."""
        with self._cond:
            self._closed, idle, self._idle = True, self._idle, []
            self._cond.notify_all()
        for worker in idle:
            worker.stop()

    def __enter__(self) -> ToolSandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # --- internals ----------------------------------------------------------------------------

    def _live(self) -> int:
        return len(self._idle) + len(self._busy) + self._starting

    def _check_open(self) -> None:
        if self._closed:
            raise HermesError("the tool sandbox is closed")

    def _drop_dead_idle(self) -> None:
        """Count and forget idle workers that died (killed, out of memory); lock held."""
        dead = [w for w in self._idle if w.dead()]
        for worker in dead:
            self._idle.remove(worker)
            self._counts["crashes"] += 1
            worker.kill()  # dead already (or misbehaving): reaping it is immediate

    def _send(self, payload: bytes) -> WorkerProcess:
        """Hand ``payload`` to a worker; one that died before taking it is replaced."""
        while True:
            worker = self._acquire()
            try:
                worker.outbox.send_bytes(payload)
            except OSError:  # it never got the call, so running it elsewhere is safe
                self._lost(worker)
                continue
            return worker

    def _acquire(self) -> WorkerProcess:
        with self._cond:
            while True:
                self._check_open()
                self._drop_dead_idle()
                if self._idle:
                    worker = self._idle.pop()  # most recently used: the others can go idle
                    self._busy.add(worker)
                    self._counts["calls"] += 1
                    return worker
                if self._live() < self.workers:
                    self._starting += 1
                    self._counts["cold"] += 1
                    break
                self._waiting += 1
                self._cond.wait()
                self._waiting -= 1
        (worker,) = self._start(1)
        with self._cond:
            self._starting -= 1
            self._busy.add(worker)
            self._counts["calls"] += 1
        return worker

    def _start(self, count: int) -> list[WorkerProcess]:
        """Start ``count`` reserved workers in parallel and wait until all are ready.

        On failure the reservation is returned here; on success the caller moves the workers
        from ``_starting`` to idle or busy in one step, so ``_live()`` never undercounts."""
        started: list[WorkerProcess] = []
        try:
            for _ in range(count):
                started.append(WorkerProcess(self._options, self._main_path))
            for worker in started:
                worker.wait_ready(self.start_timeout_s)
        except BaseException:
            for worker in started:
                worker.stop()
            with self._cond:
                self._starting -= count
                self._cond.notify_all()
            raise
        with self._cond:
            self._counts["starts"] += count  # the caller moves them from starting to live
        self._ensure_reaper()
        return started

    def _release(self, worker: WorkerProcess) -> None:
        with self._cond:
            self._busy.discard(worker)
            if not self._closed:
                worker.last_used = self._clock()
                self._idle.append(worker)
                self._cond.notify()
                return
        worker.stop()

    def _lost(self, worker: WorkerProcess, *, crashed: bool = True) -> None:
        with self._cond:
            self._busy.discard(worker)
            self._counts["crashes"] += int(crashed)
            self._cond.notify()
        worker.stop()

    def _ensure_reaper(self) -> None:
        if self._reap_every_s is None or self.idle_stop_s is None:
            return
        with self._cond:
            if self._reaper is not None:
                return
            self._reaper = threading.Thread(
                target=self._reap_loop, name="hermes-sandbox-reaper", daemon=True
            )
        self._reaper.start()

    def _reap_loop(self) -> None:
        assert self._reap_every_s is not None
        while True:
            with self._cond:
                if self._cond.wait_for(lambda: self._closed, timeout=self._reap_every_s):
                    return
            self.reap()


class SandboxAdapter(FailOpenAdapter):
    """The adapter of a ``ToolSandbox``: ``warm`` starts its workers (``workers`` of them,
    default all) and keeps idle ones awake; ``state`` reports live/busy/waiting.
    ``close()`` leaves the sandbox to its owner."""

    kind = "sandbox"

    def __init__(
        self,
        sandbox: ToolSandbox,
        *,
        name: str | None = None,
        workers: int | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(name, clock=clock)
        self.sandbox, self.workers = sandbox, workers

    def _warm(self, hint: WarmHint | None) -> None:
        self.sandbox.warm(self.workers)

    def _state(self) -> BackendState:
        stats = self.sandbox.stats
        return BackendState(awake=stats.live > 0, waiting=stats.waiting, running=stats.busy)
