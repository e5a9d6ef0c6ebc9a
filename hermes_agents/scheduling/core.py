"""The scheduling core: no I/O, time only from an injected clock.

The in-process runtime, the daemon and the simulator all drive this same object through one
driver loop (``driver.Driver``):

1. ``start_run`` registers an app run (its class, optional deadline);
2. ``submit`` queues a task (one call) of a run on a backend; ``enter_stage`` moves a run on;
3. ``release`` reports a task's actual demand: the run's attained service grows, its rank is
   refreshed, its backend frees a slot; ``cancel`` withdraws a waiting task;
4. ``finish_run`` ends a run: its waiting tasks are withdrawn (their callers must be told),
   its trace is kept for the learner; ``suspend_run`` parks a run that waits for a human (no
   slot, no rank, no warm-up) until ``resume_run``, or until ``suspended_ttl_s`` passes and it
   is dropped unlearned;
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

import heapq
import logging
import math
from collections import OrderedDict
from collections.abc import Callable, Mapping
from itertools import count

from hermes_agents.bounds import MAX_CALL_S
from hermes_agents.cost import CostModel
from hermes_agents.errors import ValidationError
from hermes_agents.pdgraph import Call, StageKind, Visit
from hermes_agents.prewarm import PlanStep, PrewarmPlanner, WarmHint
from hermes_agents.scheduling.decisions import (
    RUN_ENDED,
    Decisions,
    FinishedRun,
    Grant,
    Withdrawal,
)
from hermes_agents.scheduling.interface import SUSPENDED_RUN_TTL_S
from hermes_agents.scheduling.policies import Policy
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
MAX_UNCONFIGURED_BACKENDS = 1_000
"""Unconfigured backends whose queues are kept; idle ones beyond it are forgotten (LRU)."""
NOTHING = Decisions()
"""The step record when there is nothing to do."""
MAX_OPEN_VISITS = 256
"""Named visits a run remembers (parallel branches rarely span more than a few)."""


class SchedulerCore:
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
        self.default_limits = default_limits
        self.backends = {name: QueueState(name, limits) for name, limits in backends.items()}
        self._configured = frozenset(backends)
        self._unconfigured: OrderedDict[str, None] = OrderedDict()
        """Backends made from ``default_limits`` on first use, least recently used first."""
        self.runs: dict[str, Run] = {}
        self.suspended: dict[str, tuple[Run, float]] = {}
        """Runs waiting for a human, with when they were suspended (oldest first)."""
        self._unlearned: set[str] = set()
        self.partial_runs = 0
        """Runs seen only in part (``mark_partial``), kept out of learning."""
        self.tasks: dict[int, Task] = {}
        self._ids = count(1)
        self._dirty: set[str] = set()
        self._indexed = bool(getattr(policy, "order_stable", False))
        self._moved: dict[str, Run] = {}
        self._withdrawn: list[Withdrawal] = []
        self._freed: list[str] = []
        self._finished: list[FinishedRun] = []
        self._plan_due = False
        self._next_check_s: float | None = None
        self._hold_check_s = math.inf
        """When a running task may first overstay its backend's hold bound."""

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
        state = self._backend(backend)
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
        if self._indexed:
            self._index(state, task)
        self._dirty.add(backend)
        return task.task_id

    def refresh_demand(self, app: str) -> None:
        """``app``'s model arrived (loaded off the driver's loop): its runs in flight that
        started without one rank by it from now on."""
        if self.models is None:
            return
        demand = self.models.demand(app)
        if demand is None:
            return
        for run in self.runs.values():
            if run.app == app and run.demand is None:
                run.demand = demand
                self._run_moved(run)

    def set_true_remaining(self, run_id: str, seconds: float) -> None:
        """The simulator tells the ``oracle`` policy a run's true remaining work."""
        run = self._run(run_id)
        run.true_remaining_s = seconds
        self._run_moved(run)

    def suspend_run(self, run_id: str) -> None:
        """Park the run (it waits for a human): its calls are withdrawn or released, the
        prewarm planner and the queues no longer see it; ``resume_run`` brings it back."""
        run = self.runs.pop(run_id, None)
        if run is None:
            return
        self._plan_due = True
        self._drop_tasks(run)
        self.suspended[run_id] = (run, self.clock())

    def resume_run(self, run_id: str, app: str) -> bool:
        """Continue a suspended run (True), with its position, visits and attained service;
        the wait counts as nothing (its arrival moves by it). A run not suspended here (it
        expired, or this core never saw it) starts afresh as a run of ``app`` that is never
        learned, being only part of a run (False)."""
        self._expire_suspended()
        if run_id in self.runs:
            return True  # resumed twice: it is running already
        parked = self.suspended.pop(run_id, None)
        if parked is None:
            self.start_run(run_id, app)
            self._unlearned.add(run_id)
            return False
        run, since = parked
        run.arrived_at += self.clock() - since
        self.runs[run_id] = run
        self._run_moved(run)
        return True

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
            return Decisions(next_check_s=next_check_s)
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
        for name in sorted(self._dirty):
            state = self.backends[name]
            bound = state.limits.max_wait_s
            while state.waiting:
                promote = False
                if bound is not None and len(state.waiting) > 1:
                    oldest = next(iter(state.waiting.values()))  # waiting: submission order
                    promote = now - oldest.submitted_at >= bound
                if promote:
                    best = oldest  # the wait bound: it has waited long enough
                else:
                    best = self._head(state) if self._indexed else self._scan(state, now)
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
        earliest = math.inf
        for state in self.backends.values():
            hold = state.limits.max_hold_s
            if hold is None:
                continue
            while state.running:
                oldest = next(iter(state.running.values()))  # running keeps grant order
                assert oldest.started_at is not None
                if now - oldest.started_at < hold:
                    earliest = min(earliest, oldest.started_at + hold)
                    break
                logger.warning(
                    "a call of run %s held its slot on %r for %.0f s (the hold bound); the slot "
                    "is taken back, the call goes on unscheduled",
                    oldest.run.run_id,
                    state.name,
                    now - oldest.started_at,
                )
                state.reclaimed += 1
                self.release(oldest.task_id)
        self._hold_check_s = earliest

    def drop_waiting(self) -> list[int]:
        """Take every waiting task out of its queue (their callers were failed open)."""
        dropped = [task for state in self.backends.values() for task in state.waiting]
        for task_id in dropped:
            self.release(task_id)
        return dropped

    def mark_partial(self, run_id: str) -> None:
        """The run was seen only in part (a call ran unscheduled, it was registered again
        after a daemon restart): it will not be learned as a whole run (``partial_runs``)."""
        if run_id in self.runs and run_id not in self._unlearned:
            self._unlearned.add(run_id)
            self.partial_runs += 1

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

    def _expire_suspended(self) -> None:
        """Drop, unlearned, the suspended runs older than ``suspended_ttl_s``."""
        cutoff = self.clock() - self.suspended_ttl_s
        for run_id, (_, since) in list(self.suspended.items()):
            if since > cutoff:
                break  # oldest first: the rest are younger
            del self.suspended[run_id]
            self._unlearned.discard(run_id)

    def plan_warmups(self, awake: Mapping[str, bool | None] | None = None) -> PlanStep:
        """Run the prewarm planner over the active runs at ``clock()`` (no planner: no hints;
        ``step`` calls it when planning is due).

        Fails open: a planner error is logged once and yields no hints.
        """
        if self.planner is None:
            return PlanStep()
        try:
            return self.planner.plan(self.runs.values(), self.clock(), awake or {})
        except Exception:  # fail open: prewarming must never break scheduling
            if not self._planner_failed:
                self._planner_failed = True
                logger.warning("prewarm planning failed; no hints this time", exc_info=True)
            return PlanStep()

    def _planning_due(self) -> bool:
        due = self._plan_due or (
            self._next_check_s is not None and self.clock() >= self._next_check_s
        )
        self._plan_due = False
        return due

    def _visit(self, step: VisitTrace) -> Visit:
        if not step.backend:  # a stage that made no scheduled call (pure code): no demand
            return Visit(step.stage, StageKind.TOOL, LOCAL_BACKEND, (Call(seconds=0.0),))
        state = self.backends.get(step.backend)
        kind = state.limits.kind if state is not None else StageKind.LLM
        return Visit(step.stage, kind, step.backend or "default", tuple(step.calls))

    def _scan(self, state: QueueState, now: float) -> Task:
        """The best waiting task, by asking the policy about each one (any policy)."""
        return min(state.waiting.values(), key=lambda t: (self._priority(t, now), t.task_id))

    def _head(self, state: QueueState) -> Task:
        """The best waiting task from the heap (order-stable policies), skipping stale entries."""
        heap = state.heap
        while True:
            _, task_id, version, task = heap[0]
            if task_id in state.waiting and version == task.run.version:
                return task
            heapq.heappop(heap)

    def _index(self, state: QueueState, task: Task) -> None:
        # Order-stable priorities shift equally with the clock, so any fixed time will do.
        entry = (self._priority(task, 0.0), task.task_id, task.run.version, task)
        heapq.heappush(state.heap, entry)

    def _run_moved(self, run: Run) -> None:
        run.moved()
        self._plan_due = True
        if self._indexed and run.tasks:
            self._moved[run.run_id] = run

    def _reindex_moved(self) -> None:
        """Give the waiting tasks of runs that moved fresh heap entries."""
        for run in self._moved.values():
            for task_id in run.tasks:
                task = self.tasks[task_id]
                if task.started_at is None:
                    state = self.backends[task.backend]
                    self._index(state, task)
                    self._dirty.add(task.backend)
        self._moved.clear()
        for state in self.backends.values():
            if len(state.heap) > 4 * len(state.waiting) + 64:  # mostly stale: rebuild it
                state.heap = [
                    e for e in state.heap if e[1] in state.waiting and e[2] == e[3].run.version
                ]
                heapq.heapify(state.heap)

    def _priority(self, task: Task, now: float) -> float:
        try:
            return self.policy.priority(task, task.run, now)
        except Exception:  # fail open: a broken policy degrades to FCFS, never to an error
            logger.warning("policy %s failed; using arrival order", self.policy.name, exc_info=True)
            return task.submitted_at

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

    def _backend(self, name: str) -> QueueState:
        state = self.backends.get(name)
        if state is None:
            if self.default_limits is None:
                raise ValidationError(
                    f"unknown backend; configure it or use one of {sorted(self.backends)}",
                    f"backend {name!r}",
                )
            state = self.backends[name] = QueueState(name, self.default_limits)
            self._unconfigured[name] = None
            self._evict_backends()
        elif name not in self._configured:
            self._unconfigured.move_to_end(name)
        return state

    def _evict_backends(self) -> None:
        """Forget idle unconfigured backends beyond ``MAX_UNCONFIGURED_BACKENDS``, least
        recently used first (configured ones are never forgotten)."""
        excess = len(self._unconfigured) - MAX_UNCONFIGURED_BACKENDS
        for name in list(self._unconfigured)[: max(0, excess)]:
            state = self.backends[name]
            if not state.running and not state.waiting:
                del self.backends[name]
                del self._unconfigured[name]
                self._dirty.discard(name)
