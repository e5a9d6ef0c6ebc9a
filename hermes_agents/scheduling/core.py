"""The scheduling core: no I/O, time only from an injected clock.

The in-process runtime, the daemon and the simulator all drive this same object through one
driver loop (``driver.Driver``):

1. ``start_run`` registers an app run (its class, optional deadline);
2. ``submit`` queues a task (one call) of a run on a backend; ``enter_stage`` moves a run on;
3. ``release`` reports a task's actual demand: the run's attained service grows, its rank is
   refreshed, its backend frees a slot; ``cancel`` withdraws a waiting task;
4. ``finish_run`` ends a run: its waiting tasks are withdrawn (their callers must be told),
   its trace is kept for the learner (``run_changes``: suspend, resume, partial runs);
5. ``step(awake)`` returns one ``Decisions`` record: the tasks admitted now (per backend up to
   its capacity, in policy order), the tasks withdrawn and why, the slots freed, the warm-up
   hints due (the prewarm planner runs inside the step, fed the backends' awake beliefs), when
   to ask again, and the finished traces to learn from.

>>> from hermes_agents.scheduling import BackendLimits, SchedulerCore, policy_named
>>> now = [0.0]
>>> core = SchedulerCore({"llm": BackendLimits(1)}, policy_named("fcfs"), lambda: now[0])
>>> core.start_run("r1", "qa")
>>> task = core.submit("r1", "llm", stage="answer")
>>> [g.task_id for g in core.step().grants] == [task]
True
>>> core.finish_run("r1")
>>> [(run.app, [v.stage for v in run.visits]) for run in core.step().finished]
[('qa', ['answer'])]
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from itertools import count

from hermes_agents.bounds import MAX_CALL_S
from hermes_agents.cost import CostModel
from hermes_agents.errors import ValidationError
from hermes_agents.pdgraph import Call, StageKind, Visit
from hermes_agents.prewarm import PrewarmPlanner, WarmHint
from hermes_agents.scheduling.decisions import (
    RUN_ENDED,
    Decisions,
    FinishedRun,
    Grant,
    Withdrawal,
)
from hermes_agents.scheduling.interface import SUSPENDED_RUN_TTL_S
from hermes_agents.scheduling.ordering import QueueOrder
from hermes_agents.scheduling.planning import WarmupPlanning
from hermes_agents.scheduling.policies import Policy
from hermes_agents.scheduling.queues import Queues
from hermes_agents.scheduling.run_changes import RunChanges
from hermes_agents.scheduling.state import (
    TYPICAL_RUNS,
    BackendLimits,
    DemandModels,
    QueueState,
    Run,
    Task,
    Usage,
    VisitTrace,
)

logger = logging.getLogger(__name__)

LOCAL_BACKEND = "local"
"""The backend of stages that call none (they run in the app's own process)."""
NOTHING = Decisions()
"""The step record when there is nothing to do."""
MAX_OPEN_VISITS = 256
"""Named visits a run remembers (parallel branches rarely span more than a few)."""


class SchedulerCore(RunChanges, WarmupPlanning):
    """Runs, per-backend queues and admission in policy order (single-threaded; no I/O)."""

    def __init__(
        self,
        backends: Mapping[str, BackendLimits],
        policy: Policy,
        clock: Callable[[], float],
        *,
        models: DemandModels | None = None,
        cost: CostModel | None = None,
        default_limits: BackendLimits | None = None,
        planner: PrewarmPlanner | None = None,
        suspended_ttl_s: float = SUSPENDED_RUN_TTL_S,
    ) -> None:
        self.policy = policy
        self.suspended_ttl_s = suspended_ttl_s
        self.planner = planner
        self._planner_failed = False
        self.clock = clock
        self.models = models
        self.cost = cost or CostModel()
        self.queues = Queues(backends, default_limits)
        self.backends = self.queues.states
        """Backend name -> its queue (configured ones, and ones made on first use)."""
        self.order = QueueOrder(policy)
        self.runs: dict[str, Run] = {}
        self.suspended: dict[str, tuple[Run, float]] = {}
        """Runs waiting for a human, with when they were suspended (oldest first)."""
        self._unlearned: set[str] = set()
        self.partial_runs = 0
        """Runs seen only in part (``mark_partial``), kept out of learning."""
        self.tasks: dict[int, Task] = {}
        self._ids = count(1)
        self._dirty: set[str] = set()
        self._moved: dict[str, Run] = {}
        self._withdrawn: list[Withdrawal] = []
        self._freed: list[str] = []
        self._finished: list[FinishedRun] = []
        self._plan_due = False
        self._next_check_s: float | None = None
        self._hold_check_s = math.inf
        """When a running task may first overstay its backend's hold bound."""
        self._idle = NOTHING

    @property
    def default_limits(self) -> BackendLimits | None:
        """The limits of backends the configuration does not name (None: refuse them)."""
        return self.queues.default_limits

    @default_limits.setter
    def default_limits(self, limits: BackendLimits | None) -> None:
        self.queues.default_limits = limits

    def start_run(
        self,
        run_id: str,
        app: str,
        *,
        deadline: float | None = None,
        true_remaining_s: float | None = None,
    ) -> None:
        """Register a run of app class ``app``."""
        if run_id in self.runs:
            raise ValidationError("a run with this id is already active", f"run {run_id!r}")
        demand = self.models.demand(app) if self.models is not None else None
        self.runs[run_id] = Run(run_id, app, self.clock(), demand, deadline, true_remaining_s)
        self._plan_due = True

    def enter_stage(self, run_id: str, stage: str, *, visit: str | None = None) -> None:
        """The run starts a (new) visit of ``stage``: loops count as new visits.

        ``visit`` names the visit (LangGraph: node and step) so that calls made in parallel
        branches find their own visit; entering a named visit twice enters it once.
        """
        run = self._run(run_id)
        if visit is not None and visit in run.open_visits:
            return
        run.visits[stage] = run.visits.get(stage, 0) + 1
        run.stage = stage
        run.done_in_stage_s = 0.0
        trace = VisitTrace(stage)
        run.trace.append(trace)
        if visit is not None:
            run.open_visits[visit] = trace
            if len(run.open_visits) > MAX_OPEN_VISITS:
                del run.open_visits[next(iter(run.open_visits))]  # the oldest
        self._run_moved(run)

    def submit(
        self,
        run_id: str,
        backend: str,
        *,
        stage: str | None = None,
        estimate_s: float = 0.0,
        tokens: int = 0,
        visit: str | None = None,
    ) -> int:
        """Queue one call; returns its task id.

        The call belongs to the named ``visit`` (entered if new), else to the current visit;
        a ``stage`` other than the current one enters that stage.
        """
        run = self._run(run_id)
        state = self.queues.get(backend)
        if visit is not None:
            self.enter_stage(run_id, stage or backend, visit=visit)
        elif stage is not None and stage != run.stage:
            self.enter_stage(run_id, stage)
        elif run.stage is None:
            self.enter_stage(run_id, backend)
        trace = run.open_visits[visit] if visit is not None else run.trace[-1]
        task = Task(next(self._ids), run, backend, estimate_s, tokens, self.clock(), trace)
        trace.backend = trace.backend or backend
        if run.demand is None:  # no model: rank by the call (a one-call app of known size)
            run.fallback_s = estimate_s or state.typical_s
            self._run_moved(run)
        self.tasks[task.task_id] = task
        run.tasks.add(task.task_id)
        state.waiting[task.task_id] = task
        if self.order.indexed:
            self.order.index(state, task)
        self._dirty.add(backend)
        return task.task_id

    def step(self, awake: Mapping[str, bool | None] | None = None) -> Decisions:
        """Everything the driver must do now (see ``decisions``), and forget it here.

        ``awake`` says which backends are awake (True), asleep (False) or unknown (None or
        missing), for the prewarm planner; it plans when a run started, moved or ended since
        the last plan, or when the time it asked for has come.
        """
        if self.suspended:
            self._expire_suspended()
        hold_check_s = self._hold_check_s
        if hold_check_s != math.inf and hold_check_s <= self.clock():
            self._reclaim_overdue()
        grants = self.schedule() if self._dirty or self._moved else []
        hints: tuple[WarmHint, ...] = ()
        if self.planner is not None and self._planning_due():
            planned = self.plan_warmups(awake)
            hints, self._next_check_s = tuple(planned.hints), planned.next_check_s
        next_check_s = self._next_check_s
        hold_check_s = self._hold_check_s
        if hold_check_s != math.inf and (next_check_s is None or hold_check_s < next_check_s):
            next_check_s = hold_check_s
        if not (grants or hints or self._withdrawn or self._freed or self._finished):
            if next_check_s is None:
                return NOTHING  # the common case, made cheap: nothing to do
            if self._idle.next_check_s != next_check_s:
                self._idle = Decisions(next_check_s=next_check_s)
            return self._idle  # nothing to do but to ask again then
        withdrawn, freed, finished = self._withdrawn, self._freed, self._finished
        if withdrawn:  # handed over, not copied; an empty list stays here (never shared)
            self._withdrawn = []
        if freed:
            self._freed = []
        if finished:
            self._finished = []
        return Decisions(grants, withdrawn or (), freed or (), hints, next_check_s, finished or ())

    def schedule(self) -> list[Grant]:
        """Admit every task that fits now, best priority first, on backends that changed
        (the grants of ``step``; drivers call ``step``)."""
        grants: list[Grant] = []
        now = self.clock()
        if self._moved:
            self._reindex_moved()
        dirty = self._dirty
        for name in dirty if len(dirty) == 1 else sorted(dirty):
            state = self.backends[name]
            bound = state.limits.max_wait_s
            while state.waiting:
                promote = False
                if bound is not None and len(state.waiting) > 1:
                    oldest = next(iter(state.waiting.values()))  # waiting: submission order
                    promote = now - oldest.submitted_at >= bound
                # the wait bound: the oldest goes first once it has waited long enough
                best = oldest if promote else self.order.best(state, now)
                if not state.fits(best):
                    break  # strict order: no smaller task overtakes the head
                state.promoted += promote
                del state.waiting[best.task_id]
                best.started_at = now
                state.running[best.task_id] = best
                state.tokens_running += best.tokens
                state.granted += 1
                grants.append(Grant(best.task_id, best.run.run_id, name, now - best.submitted_at))
            hold = state.limits.max_hold_s
            if hold is not None and state.running and now + hold < self._hold_check_s:
                self._hold_check_s = now + hold
        self._dirty.clear()
        return grants

    def release(self, task_id: int, usage: Usage | None = None) -> None:
        """A task finished (or failed): free its slot and credit its run with the service."""
        task = self.tasks.pop(task_id, None)
        if task is None:
            return  # already released or cancelled: releasing twice is harmless
        state = self.backends[task.backend]
        task.run.tasks.discard(task_id)
        if state.running.pop(task_id, None) is None:
            del state.waiting[task_id]
            self._dirty.add(task.backend)
            return
        state.tokens_running -= task.tokens
        self._dirty.add(task.backend)
        if self.planner is not None:  # only prewarming reads freed slots (its beliefs)
            self._freed.append(task.backend)
        seconds = self._service_s(task, state, usage)
        if not 0.0 <= seconds <= MAX_CALL_S:  # NaN fails too: never let it reach a rank
            seconds = min(task.estimate_s, MAX_CALL_S)
        state.served += 1  # the backend's typical call, a running mean (see QueueState)
        state.typical_s += (seconds - state.typical_s) / min(state.served, TYPICAL_RUNS)
        run = task.run
        run.attained_s += seconds
        run.done_in_stage_s += seconds
        self._run_moved(run)
        if usage is not None:
            try:
                call = Call(*usage)  # checks the bounds: garbage is priced, never learned
            except ValidationError:
                return
            task.visit.calls.append(call)

    cancel = release
    """Withdraw a waiting task, or release a running one without usage."""

    def _reclaim_overdue(self) -> None:
        """Take back every slot held past its backend's hold bound (the caller's later release
        finds nothing); then note when the next one may overstay."""
        now = self.clock()
        overdue, self._hold_check_s = self.queues.overdue(now)
        for task in overdue:
            assert task.started_at is not None
            logger.warning(
                "a call of run %s held its slot on %r for %.0f s (the hold bound); the slot "
                "is taken back, the call goes on unscheduled",
                task.run.run_id,
                task.backend,
                now - task.started_at,
            )
            self.backends[task.backend].reclaimed += 1
            self.release(task.task_id)

    def drop_waiting(self) -> None:
        """Take every waiting task out of its queue (their callers were failed open)."""
        for task_id in [task for state in self.backends.values() for task in state.waiting]:
            self.release(task_id)

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
        return Visit(step.stage, kind, step.backend or "default", tuple(step.calls))

    def _run_moved(self, run: Run) -> None:
        run.moved()
        self._plan_due = True
        if self.order.indexed and run.tasks:
            self._moved[run.run_id] = run

    def _reindex_moved(self) -> None:
        """Give the waiting tasks of runs that moved fresh heap entries."""
        for run in self._moved.values():
            for task_id in run.tasks:
                task = self.tasks[task_id]
                if task.started_at is None:
                    state = self.backends[task.backend]
                    self.order.index(state, task)
                    self._dirty.add(task.backend)
        self._moved.clear()
        for state in self.backends.values():
            self.order.compact(state)

    def _service_s(self, task: Task, state: QueueState, usage: Usage | None) -> float:
        if usage is None:
            return task.estimate_s
        if state.limits.kind == StageKind.LLM and (usage.prompt_tokens or usage.output_tokens):
            return self.cost.for_backend(task.backend).seconds_one(
                usage.prompt_tokens, usage.output_tokens, usage.cached_tokens
            )
        return usage.seconds

    def _run(self, run_id: str) -> Run:
        run = self.runs.get(run_id)
        if run is None:
            raise ValidationError("no such active run; call start_run first", f"run {run_id!r}")
        return run
