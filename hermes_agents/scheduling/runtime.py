"""The in-process scheduler: one ``SchedulerCore`` behind a lock, for asyncio code and threads.

``with scheduler.slot("llm"):`` and ``async with scheduler.slot("llm"):`` wait for admission,
woken by the grant itself (no polling); see ``front`` for what every scheduler shares. Calls
made inside ``scheduler.run("my-app")`` belong to that app run; calls outside any run are
one-call apps.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping

from hermes_agents.cost import CostModel
from hermes_agents.scheduling.core import SchedulerCore
from hermes_agents.scheduling.front import Scheduler, Slot
from hermes_agents.scheduling.models import AppModels
from hermes_agents.scheduling.policies import Policy, policy_named
from hermes_agents.scheduling.prewarming import Prewarmer, PrewarmSetup
from hermes_agents.scheduling.state import UNLIMITED, BackendLimits, Grant, Usage


class LocalScheduler(Scheduler):
    """Thread-safe front of a ``SchedulerCore`` in this process."""

    def __init__(self, core: SchedulerCore, *, prewarmer: Prewarmer | None = None) -> None:
        super().__init__()
        self.core = core
        self.prewarmer = prewarmer
        """Carries the core's prewarm hints to backends (needs a core with a planner)."""
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._timer_at: float | None = None

    @classmethod
    def in_process(
        cls,
        backends: Mapping[str, BackendLimits] | None = None,
        *,
        policy: str | Policy = "gittins",
        models: AppModels | None = None,
        cost: CostModel | None = None,
        prewarm: PrewarmSetup | None = None,
    ) -> LocalScheduler:
        """A scheduler on the monotonic clock; unconfigured backends are unlimited.

        ``prewarm`` (adapters and warm-up specs per backend) turns prewarming on.
        """
        cost = cost or CostModel()
        core = SchedulerCore(
            backends or {},
            policy_named(policy) if isinstance(policy, str) else policy,
            time.monotonic,
            models=models or AppModels(cost),
            cost=cost,
            default_limits=UNLIMITED,
            planner=prewarm.planner() if prewarm is not None else None,
        )
        prewarmer = prewarm.prewarmer(core.clock) if prewarm is not None else None
        return cls(core, prewarmer=prewarmer)

    def _submit(self, slot: Slot) -> tuple[int | None, bool]:
        with self._lock:
            try:
                run_id = slot.run_id
                if run_id is None:
                    run_id = f"call-{uuid.uuid4().hex[:12]}"
                    self.core.start_run(run_id, f"call:{slot.backend}")
                    slot.handle = run_id  # a one-call app: its run ends with the slot
                task = self.core.submit(
                    run_id,
                    slot.backend,
                    stage=slot.stage,
                    estimate_s=slot.estimate_s,
                    tokens=slot.tokens,
                    visit=slot.visit,
                )
                self._wakeups.expect(task)
                self._dispatch(self.core.schedule())
                self._plan_warmups()
            except Exception:
                self._fail_open()
                return None, True
            return task, self._wakeups.claim(task)

    def _release(self, slot: Slot, usage: Usage) -> None:
        with self._lock:
            try:
                if slot.task is not None:
                    self.core.release(slot.task, usage)
                    if self.prewarmer is not None:
                        self.prewarmer.released(slot.backend)
                if isinstance(slot.handle, str):  # a one-call app: nothing to learn
                    self.core.finish_run(slot.handle, learn=False)
                self._dispatch(self.core.schedule())
                self._plan_warmups()
            except Exception:
                self._fail_open()

    def _withdraw(self, slot: Slot) -> None:
        task, own_run = slot.task, slot.handle
        if task is not None:
            self._wakeups.forget(task)

        def withdraw() -> None:
            if task is not None:
                pending = self.core.tasks.get(task)
                self.core.cancel(task)
                if pending is not None and pending.started_at is not None and self.prewarmer:
                    self.prewarmer.released(pending.backend)  # granted just before the cancel
            if isinstance(own_run, str):
                self.core.finish_run(own_run, learn=False)

        self._locked(withdraw)

    def _start_run(self, run_id: str, app: str, deadline: float | None) -> None:
        self._locked(lambda: self.core.start_run(run_id, app, deadline=deadline))

    def _finish_run(self, run_id: str) -> None:
        self._locked(lambda: self.core.finish_run(run_id))

    def _enter_stage(self, run_id: str, stage: str, visit: str | None) -> None:
        self._locked(lambda: self.core.enter_stage(run_id, stage, visit=visit))

    def _rank(self, slot: Slot) -> float | None:
        with self._lock:
            task = self.core.tasks.get(slot.task) if slot.task is not None else None
            return None if task is None else task.run.rank

    def _has_run(self, run_id: str) -> bool:
        return run_id in self.core.runs

    def _locked(self, action: Callable[[], object]) -> None:
        """Run ``action`` on the core, then admit what it freed; fail open on any error."""
        with self._lock:
            try:
                action()
                self._dispatch(self.core.schedule())
                self._plan_warmups()
            except Exception:
                self._fail_open()

    def _dispatch(self, grants: list[Grant]) -> None:
        for grant in grants:
            if self.prewarmer is not None:
                self.prewarmer.arrived(grant.backend, grant.run_id)
            self._wakeups.granted(grant.task_id)

    def _plan_warmups(self) -> None:
        """Hand the core's prewarm hints to the prewarmer; call again when the step says.

        Runs under the lock. Any failure stays here: prewarming never breaks a call.
        """
        if self.prewarmer is None:
            return
        next_check_s = self.prewarmer.step(self.core)
        if next_check_s is not None:
            self._check_at(next_check_s)

    def _check_at(self, when_s: float) -> None:
        """Arm the one timer for ``when_s`` unless it is armed for earlier already."""
        if self._timer_at is not None and self._timer_at <= when_s:
            return
        if self._timer is not None:
            self._timer.cancel()
        delay = max(0.0, when_s - self.core.clock())
        self._timer = threading.Timer(delay, self._on_timer)
        self._timer.daemon = True
        self._timer_at = when_s
        self._timer.start()

    def _on_timer(self) -> None:
        with self._lock:
            self._timer, self._timer_at = None, None
        self._locked(lambda: None)

    def close(self) -> None:
        """Stop prewarming (timer and worker threads); queued calls are unaffected."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._timer, self._timer_at = None, None
        if self.prewarmer is not None:
            self.prewarmer.close()
