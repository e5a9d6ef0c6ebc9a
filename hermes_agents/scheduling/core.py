"""The scheduling core: no I/O, time only from an injected clock.

The in-process runtime, the daemon and the simulator drive it through one loop (``driver``):

1. ``start_run`` registers an app run (its class, optional deadline);
2. ``submit`` queues a task (one call) of a run on a backend; ``enter_stage`` moves a run on;
3. ``release`` reports a task's actual demand: the run's attained service grows, its rank is
   refreshed, its backend frees a slot; ``cancel`` withdraws a waiting task;
4. ``finish_run`` ends a run: its waiting tasks are withdrawn (their callers must be told),
   its trace is kept for the learner (``run_changes``: suspend, resume, partial runs);
5. ``step(awake)`` returns one ``Decisions`` record: the tasks admitted now (up to capacity,
   in policy order), withdrawn tasks and why, freed slots, warm-up hints due (the planner runs
   in the step), when to ask again, and the finished traces to learn from.

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
from hermes_agents.pdgraph import StageKind
from hermes_agents.prewarm import PrewarmPlanner, WarmHint
from hermes_agents.scheduling.capacity_changes import CapacityChanges
from hermes_agents.scheduling.decisions import (
    NOTHING,
    Decisions,
    FinishedRun,
    Grant,
    Withdrawal,
    new_record,
)
from hermes_agents.scheduling.interface import SUSPENDED_RUN_TTL_S
from hermes_agents.scheduling.ordering import QueueOrder
from hermes_agents.scheduling.planning import WarmupPlanning
from hermes_agents.scheduling.policies import Policy
from hermes_agents.scheduling.queues import Queues
from hermes_agents.scheduling.reserve import held_back_by, higher_instead, may_start, on_submit
from hermes_agents.scheduling.reserve import sheddable as _sheddable
from hermes_agents.scheduling.run_changes import RunChanges
from hermes_agents.scheduling.run_end import RunEnd
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
from hermes_agents.scheduling.tiers import STANDARD_CLASS, ClassLevel, Tier
from hermes_agents.scheduling.upkeep import QueueUpkeep

logger = logging.getLogger(__name__)

MAX_OPEN_VISITS = 256
"""Named visits a run remembers (parallel branches rarely span more than a few)."""


class SchedulerCore(QueueUpkeep, RunEnd, RunChanges, WarmupPlanning, CapacityChanges):
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
        self.held_back = held_back_by(policy, clock)  # runs the headroom holds back (``reserve``)
        self.tiered = self.held_back is _sheddable  # higher tiers keep headroom
        self.runs: dict[str, Run] = {}
        self.levels: dict[str, ClassLevel] = {}
        """App class -> its tier and default SLO (``scheduling.tiers``; others: standard)."""
        self.suspended: dict[str, tuple[Run, float]] = {}
        """Runs waiting for a human, with when they were suspended (oldest first)."""
        self._unlearned: set[str] = set()
        self.partial_runs = 0
        """Runs seen only in part (``mark_partial``), kept out of learning."""
        self.tasks: dict[int, Task] = {}
        self._ids = count(1)
        self._dirty: set[str] = set()
        self._moved: dict[str, Run] = {}
        self._grants: list[Grant] = []
        """Admitted since the last step (``schedule`` hands them over)."""
        self._withdrawn: list[Withdrawal] = []
        self._freed: list[str] = []
        self._finished: list[FinishedRun] = []
        self._plan_due = False
        self._next_check_s: float | None = None
        self._hold_check_s = math.inf
        """When a running task may first overstay its backend's hold bound."""
        self._idle = NOTHING
        """The record of a step with nothing to do (``_asking_again``)."""
        self._idle_hold_s = math.inf
        """The hold check time ``_idle`` was made for."""

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
        tier: Tier | None = None,
    ) -> None:
        """Register a run of app class ``app``; without a ``deadline`` or ``tier``, the class's
        (``levels``: its SLO from now, its tier)."""
        if run_id in self.runs:
            raise ValidationError("a run with this id is already active", f"run {run_id!r}")
        demand = self.models.demand(app) if self.models is not None else None
        level = self.levels.get(app, STANDARD_CLASS)
        if deadline is None and level.slo_s is not None:
            deadline = self.clock() + level.slo_s
        tier = tier or level.tier
        self.runs[run_id] = Run(run_id, app, self.clock(), demand, deadline, true_remaining_s, tier)
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
        stage: str | None = None,
        estimate_s: float = 0.0,
        tokens: int = 0,
        visit: str | None = None,
    ) -> int:
        """Queue one call; returns its task id.

        The call belongs to the named ``visit`` (entered if new), else to the current visit;
        a ``stage`` other than the current one enters that stage.
        """
        run = self.runs.get(run_id)
        if run is None:
            run = self._run(run_id)  # raises: no such run
        queues = self.queues
        state = self.backends[backend] if backend in queues.configured else queues.get(backend)
        if visit is not None:
            self.enter_stage(run_id, stage or backend, visit=visit)
        elif stage is not None and stage != run.stage:
            self.enter_stage(run_id, stage)
        elif run.stage is None:
            self.enter_stage(run_id, backend)
        trace = run.open_visits[visit] if visit is not None else run.trace[-1]
        now = self.clock()
        task = Task(next(self._ids), run, backend, estimate_s, tokens, now, trace)
        if not trace.backend:
            trace.backend = backend
        if run.demand is None:  # no model: rank by the call (a one-call app of known size)
            run.fallback_s = estimate_s or state.typical_s
            self._run_moved(run)
        self.tasks[task.task_id] = task
        run.tasks.add(task.task_id)
        fits = not state.waiting and state.fits(task)
        if self.held_back is not None:  # the headroom (``reserve``)
            fits = on_submit(state, task, now, fits, self.held_back)
        if fits:
            self._admit(state, task, now)  # nobody waits: it goes first, whatever the order
        else:
            state.waiting[task.task_id] = task
            if self.order.indexed:
                self.order.index(state, task)
            self._dirty.add(backend)
        return task.task_id

    def needs_step(self) -> bool:
        """Whether ``step`` has anything new to say before the next time it asked for (a
        change to schedule, decisions to hand over, a plan due, a suspended run to expire).

        A driver may skip a step after a change when this is False; the alarm it arms for
        ``next_check_s`` always steps (check times are not changes).
        """
        if (
            self._dirty
            or self._moved
            or self._grants
            or self._withdrawn
            or self._freed
            or self._finished
            or self.suspended
        ):
            return True
        return self._plan_due and self.planner is not None

    def step(self, awake: Mapping[str, bool | None] | None = None) -> Decisions:
        """Everything the driver must do now (see ``decisions``), and forget it here.

        ``awake`` says which backends are awake (True), asleep (False) or unknown (None or
        missing), for the prewarm planner; it plans when a run started, moved or ended since
        the last plan, or when the time it asked for has come.
        """
        now = self.clock()
        if self.suspended:
            self._expire_suspended()
        if self._hold_check_s <= now:
            self._reclaim_overdue()
        if self._dirty or self._moved:
            self._admit_waiting(now)
        grants = self._grants
        if grants:
            self._grants = []
        hints: tuple[WarmHint, ...] = ()
        idle = self._idle
        if self.planner is not None and self._planning_due():
            planned = self.plan_warmups(awake)
            hints, self._next_check_s = tuple(planned.hints), planned.next_check_s
            idle = self._idle = self._asking_again()
        elif self._hold_check_s != self._idle_hold_s:
            idle = self._idle = self._asking_again()
        if not (grants or hints or self._withdrawn or self._freed or self._finished):
            return idle  # the common case, made cheap: nothing to do but to ask again then
        withdrawn, freed, finished = self._withdrawn, self._freed, self._finished
        if withdrawn:  # handed over, not copied; an empty list stays here (never shared)
            self._withdrawn = []
        if freed:
            self._freed = []
        if finished:
            self._finished = []
        return new_record(  # Decisions(...), as in _admit
            Decisions,
            (grants, withdrawn or (), freed or (), hints, idle.next_check_s, finished or ()),
        )

    def schedule(self, now: float | None = None) -> list[Grant]:
        """The grants not handed out yet: tasks admitted when submitted (nobody waited), then
        every waiting task that fits now, best priority first, on backends that changed (the
        grants of ``step``; drivers call ``step``)."""
        self._admit_waiting(self.clock() if now is None else now)
        grants = self._grants
        if grants:
            self._grants = []
        return grants

    def _admit_waiting(self, now: float) -> None:
        """Admit the waiting tasks that fit, on the backends that changed."""
        if self._moved:
            self._reindex_moved()
        dirty, held = self._dirty, self.held_back
        for name in dirty if len(dirty) == 1 else sorted(dirty):
            state = self.backends[name]
            waiting = state.waiting
            bound = state.limits.max_wait_s
            while waiting:
                promote = False
                if len(waiting) == 1:  # the only one waiting goes first, whatever the order
                    best = next(iter(waiting.values()))
                else:
                    oldest = next(iter(waiting.values()))  # waiting: submission order
                    # the wait bound: the oldest goes first once it has waited long enough
                    promote = bound is not None and now - oldest.submitted_at >= bound
                    best = oldest if promote else self.order.best(state, now)
                if held is not None and not may_start(state, best, now, held):  # kept back
                    if (found := higher_instead(self.order, state, now, promote, held)) is None:
                        break
                    best, promote = found, False
                if not state.fits(best):
                    break  # strict order: no smaller task overtakes the head
                state.promoted += promote
                del waiting[best.task_id]
                self._admit(state, best, now)
            if not waiting and state.heap:
                state.heap.clear()  # nobody waits: every entry left is stale
        dirty.clear()

    def _admit(self, state: QueueState, task: Task, now: float) -> None:
        """``task`` takes a slot of ``state`` now (its grant goes out with the next step)."""
        task.started_at = now
        state.running[task.task_id] = task
        state.tokens_running += task.tokens
        state.granted += 1
        waited_s = now - task.submitted_at  # Grant(...), without the named tuple's Python __new__
        self._grants.append(
            new_record(Grant, (task.task_id, task.run.run_id, state.name, waited_s))
        )
        hold = state.limits.max_hold_s
        if hold is not None and now + hold < self._hold_check_s:
            self._hold_check_s = now + hold

    def release(self, task_id: int, usage: Usage | None = None) -> None:
        """A task finished (or failed): free its slot and credit its run with the service."""
        task = self.tasks.pop(task_id, None)
        if task is None:
            return  # already released or cancelled: releasing twice is harmless
        state = self.backends[task.backend]
        run = task.run
        run.tasks.discard(task_id)
        if state.running.pop(task_id, None) is None:
            del state.waiting[task_id]
            self._dirty.add(task.backend)
            return
        state.tokens_running -= task.tokens
        if state.waiting:  # a freed slot matters to those who wait
            self._dirty.add(task.backend)
        if self.planner is not None:  # only prewarming reads freed slots (its beliefs)
            self._freed.append(task.backend)
        if usage is None:
            seconds = task.estimate_s
        elif usage.prompt_tokens or usage.output_tokens:
            seconds = self._service_s(task, state, usage)  # priced by the cost model
        else:
            seconds = usage.seconds  # measured (the common case, written out)
        if not 0.0 <= seconds <= MAX_CALL_S:  # NaN fails too: never let it reach a rank
            seconds = min(task.estimate_s, MAX_CALL_S)
        if state.observer is not None and usage is not None:  # auto capacity
            state.observer(usage.seconds, seconds)
        served = state.served = state.served + 1  # its typical call: a running mean
        state.typical_s += (seconds - state.typical_s) / (
            served if served < TYPICAL_RUNS else TYPICAL_RUNS
        )
        run.attained_s += seconds
        run.done_in_stage_s += seconds
        self._run_moved(run)
        if usage is not None:  # checked when the run's visits are made (``_visit``)
            task.visit.calls.append(usage)

    cancel = release
    """Withdraw a waiting task, or release a running one without usage."""

    def _run_moved(self, run: Run) -> None:
        run.version += 1  # run.moved(), written out: its estimates and queue entries are stale
        self._plan_due = True
        if self.order.indexed and run.tasks:
            self._moved[run.run_id] = run

    def _service_s(self, task: Task, state: QueueState, usage: Usage) -> float:
        """A released call with token counts, priced: by the cost model on an LLM backend,
        else by its measured seconds (``release`` handles the other cases itself)."""
        if state.limits.kind == StageKind.LLM:
            return self.cost.for_backend(task.backend).seconds_one(
                usage.prompt_tokens, usage.output_tokens, usage.cached_tokens
            )
        return usage.seconds

    def _run(self, run_id: str) -> Run:
        run = self.runs.get(run_id)
        if run is None:
            raise ValidationError("no such active run; call start_run first", f"run {run_id!r}")
        return run
