"""How a run ends: its waiting tasks are withdrawn (their callers must be told), its slots
freed, and its trace becomes the visits the learner takes (``step``'s ``finished``).

A part of ``SchedulerCore`` (a mixin over the core's own state). Usage is checked here, not
when a call is released: a call out of bounds (garbage from a backend) was priced at its
estimate then, and is never learned.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from hermes_agents.errors import ValidationError
from hermes_agents.pdgraph import Call, StageKind, Visit
from hermes_agents.scheduling.decisions import RUN_ENDED, FinishedRun, Withdrawal
from hermes_agents.scheduling.state import QueueState, Run, Task, Usage, VisitTrace

LOCAL_BACKEND = "local"
"""The backend of stages that call none (they run in the app's own process)."""


class RunEnd:
    """``SchedulerCore``'s ``finish_run`` (see the module docstring)."""

    runs: dict[str, Run]
    suspended: dict[str, tuple[Run, float]]
    backends: dict[str, QueueState]
    tasks: dict[int, Task]
    _unlearned: set[str]
    _plan_due: bool
    _withdrawn: list[Withdrawal]
    _finished: list[FinishedRun]

    if TYPE_CHECKING:  # the core's own methods (stubs here would shadow them)

        def release(self, task_id: int, usage: Usage | None = None) -> None:  # SchedulerCore's
            ...

        def mark_partial(self, run_id: str) -> None:  # RunChanges'
            ...

    def finish_run(self, run_id: str, *, learn: bool = True, partial: bool = False) -> None:
        """The run ended: free its slots, withdraw its waiting tasks (``step`` reports them:
        their callers must be told) and keep its trace for the learner (``step``'s
        ``finished``).

        ``learn=False`` drops the trace: a run cut short (its client vanished) is not a sample
        of the app's demand; nor is a suspended run that never resumed, or a run started by a
        ``resume_run`` that found nothing to resume. ``partial=True`` also counts it in
        ``partial_runs`` (a run that raised or was cancelled).
        """
        if partial:
            self.mark_partial(run_id)
        run = self.runs.pop(run_id, None)
        if run is None:
            self.suspended.pop(run_id, None)
            self._unlearned.discard(run_id)
            return
        self._plan_due = True
        self._drop_tasks(run)
        if run_id in self._unlearned:
            self._unlearned.discard(run_id)
            learn = False
        if learn and run.trace:
            visits = tuple(self._visit(step) for step in run.trace)
            self._finished.append(FinishedRun(run_id, run.app, visits))

    def _drop_tasks(self, run: Run) -> None:
        """Withdraw the run's waiting tasks (``step`` reports them) and free its slots."""
        for task_id in sorted(run.tasks):
            task = self.tasks[task_id]
            if task.started_at is None:
                self._withdrawn.append(Withdrawal(task_id, run.run_id, task.backend, RUN_ENDED))
            self.release(task_id)

    def _visit(self, step: VisitTrace) -> Visit:
        if not step.backend:  # a stage that made no scheduled call (pure code): no demand
            return Visit(step.stage, StageKind.TOOL, LOCAL_BACKEND, (Call(seconds=0.0),))
        state = self.backends.get(step.backend)
        kind = state.limits.kind if state is not None else StageKind.LLM
        return Visit(step.stage, kind, step.backend or "default", tuple(_calls(step.calls)))


def _calls(usages: list[Usage]) -> Iterator[Call]:
    """The learnable calls of ``usages``: one out of bounds (garbage from a backend) was
    priced at its estimate when released, and is never learned."""
    for usage in usages:
        try:
            yield Call(*usage)
        except ValidationError:
            continue
