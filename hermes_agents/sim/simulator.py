"""The simulator: pre-sampled apps drive the production ``SchedulerCore`` on a virtual clock.

Each app walks its pre-sampled run (``plans``). At every stage visit it enters the stage in the
core and submits all the visit's calls at once (fan-out calls go in parallel); the core decides
who is admitted, once per instant (``EventLoop.run(settle=...)``); admitted calls run on the
backend models; a finished call is released to the core with its ``Usage``, and when all of a
visit's calls are back the app moves on. The last visit ends the run (``finish_run``), and the
app's completion time (ACT) is recorded.

>>> from hermes_agents.workloads import builtin
>>> result = simulate(builtin("paper-mix"), SimConfig(policy="gittins", apps=20, seed=1))
>>> result.act_s.size, bool((result.act_s > 0).all())
(20, True)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from numpy.typing import NDArray

from hermes_agents.cost import CostModel, FanoutMode
from hermes_agents.errors import ValidationError
from hermes_agents.pdgraph import Arrivals, StageKind, Workload
from hermes_agents.prewarm import PrewarmPlanner, WarmupSpec
from hermes_agents.scheduling.core import SchedulerCore
from hermes_agents.scheduling.decisions import Grant, Withdrawal
from hermes_agents.scheduling.driver import Driver
from hermes_agents.scheduling.policies import Policy
from hermes_agents.scheduling.state import BackendLimits, Usage
from hermes_agents.sim.apps import AppRun
from hermes_agents.sim.arrivals import scaled
from hermes_agents.sim.auto import AutoWindows
from hermes_agents.sim.config import SimConfig as SimConfig  # re-exported: its old home
from hermes_agents.sim.demand import ProfiledModels
from hermes_agents.sim.enforce import EnginePriorities, LlmWork
from hermes_agents.sim.events import EventLoop, Timer
from hermes_agents.sim.hosts import Link
from hermes_agents.sim.job import Job
from hermes_agents.sim.plans import AppPlan, CallPlan, VisitPlan, draw_plans
from hermes_agents.sim.policies import Ranking, choose_policy
from hermes_agents.sim.prewarming import (
    PLANNED_MODES,
    Planned,
    Prewarming,
    Reactive,
)
from hermes_agents.sim.servers import SimServers
from hermes_agents.sim.wall_cost import wall_cost

Progress = Callable[[int], None]
"""Called with the number of apps finished so far."""


@dataclass(frozen=True, eq=False)
class SimResult:
    """What one simulation measured; arrays are per app, in arrival order.

    Attributes:
        config: the run's configuration.
        classes: each app's class.
        act_s: each app's completion time (finish - arrival).
        cold_wait_s: each app's delay from waiting for backends to wake (per visit, the
            longest wait of its parallel calls, summed over visits).
        warm_waste_s: seconds backends with a cold start were awake with nothing to serve.
        makespan_s: when the last app finished.
        wakeups: times a sleeping backend was woken (by a call or a hint).
        hinted_wakeups: of those, the wake-ups a prewarm hint started.
        prewarm: the ``PrewarmLedger`` snapshot (per backend and ``total``; {} without hints).
        llm: the LLM calls and output tokens the apps made (throughput over ``makespan_s``).
        engines: per LLM engine with limits of its own, ``BoundedEngine.stats()``.
        events: events the loop ran.
        wall_s: real seconds the simulation took.
    """

    config: SimConfig
    classes: tuple[str, ...]
    act_s: NDArray[np.float64]
    cold_wait_s: NDArray[np.float64]
    warm_waste_s: float
    makespan_s: float
    wakeups: int
    events: int
    wall_s: float
    hinted_wakeups: int = 0
    prewarm: dict[str, dict[str, float]] = field(default_factory=dict)
    llm: LlmWork = field(default_factory=lambda: LlmWork(0, 0))
    engines: dict[str, dict[str, float]] = field(default_factory=dict)
    deadlines_s: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    """Each app's deadline, seconds after its arrival (NaN: none; empty: no app has one)."""
    tiers: tuple[str, ...] = ()
    """Each app's tier (``scheduling.tiers``)."""


def scheduler_cost(workload: Workload, fanout: FanoutMode) -> CostModel:
    """The cost model the core ranks and credits with: the workload's profiles, ``fanout``."""
    return CostModel(llm=workload.cost_model().llm, fanout=fanout)


def simulate(
    workload: Workload,
    config: SimConfig,
    *,
    plans: Sequence[AppPlan] | None = None,
    models: ProfiledModels | None = None,
    progress: Progress | None = None,
) -> SimResult:
    """Simulate ``workload`` under ``config`` (``plans`` and ``models`` may be shared)."""
    cost = scheduler_cost(workload, config.fanout)
    if plans is None:
        count = config.apps or (workload.arrivals or Arrivals()).count
        plans = draw_plans(workload, count, config.seed, config.arrivals, cost)
    if models is None:
        models = ProfiledModels(workload.apps, cost, wall=wall_cost(workload, config.engine))
    return Simulation(workload, config, plans, models, progress).run()


class Simulation:
    """One run: the event loop, the core, the backend models and the apps in flight."""

    def __init__(
        self,
        workload: Workload,
        config: SimConfig,
        plans: Sequence[AppPlan],
        models: ProfiledModels,
        progress: Progress | None = None,
    ) -> None:
        if [plan.index for plan in plans] != list(range(len(plans))):
            raise ValidationError("plans must be indexed 0, 1, ... in order", "argument 'plans'")
        self.config = config
        self.workload = workload
        self.plans = plans
        self.models = models
        self.progress = progress
        self.loop = EventLoop()
        self.link = Link(self.loop, config.hosts)
        choice = choose_policy(config.policy)
        self.ranking = choice.ranking
        cost = scheduler_cost(workload, config.fanout)
        self.core = self._core(choice.policy, cost)
        self.priorities = EnginePriorities(self.core, workload.backends, config.capacity)
        keepalive_s = config.keepalive_s if config.prewarm == "lru" else 0.0
        self.backends = SimServers(
            self.loop, workload.backends, cost, config.engine, self._finished, keepalive_s
        )
        self.prewarming = _prewarming(config.prewarm, self)
        self.windows = AutoWindows(
            self.loop, self.core, workload.backends, config.capacity, self.backends, self._over
        )
        self.driver = Driver(
            self.core, _Starts(self), warmups=self.prewarming, alarm=_LoopAlarm(self.loop)
        )
        self._tiers = {name: cost.for_backend(name).kv_tier for name in workload.backends}
        self._tasks: dict[int, tuple[AppRun, CallPlan]] = {}
        self._act = np.full(len(plans), np.nan)
        self._cold = np.zeros(len(plans))
        self._done = 0
        self._last_finish_s = 0.0

    def _over(self) -> bool:
        """Whether every app has finished."""
        return self._done >= len(self.plans)

    def _core(self, policy: Policy, cost: CostModel) -> SchedulerCore:
        """The production core: the workload's limits, the policy, the planner of the mode."""
        limits = {
            # the policies alone, as the papers ran them: no wait bound (BackendLimits.max_wait_s)
            name: BackendLimits(
                self.config.capacity.window(spec),
                kind=spec.kind,
                max_wait_s=None,
                max_hold_s=None,
                sheddable_share=self.config.sheddable_share,
            )
            for name, spec in self.workload.backends.items()
        }
        return SchedulerCore(
            limits,
            policy,
            self.loop.clock,
            models=self.models if self.ranking == Ranking.MODEL else None,
            cost=cost,
            planner=_planner(self.workload, self.config),
        )

    def run(self) -> SimResult:
        """Run every app to its end and return the measurements."""
        started = time.perf_counter()
        rate = (self.workload.arrivals or Arrivals()).rate_per_s
        units = np.array([plan.unit_arrival for plan in self.plans])
        for plan, at_s in zip(
            self.plans, scaled(units, rate, self.config.load).tolist(), strict=True
        ):
            self.loop.at(at_s, partial(self._arrive, plan))
        self.loop.run(settle=self._settle)
        self.backends.close(self._last_finish_s)
        if self._done != len(self.plans):
            raise RuntimeError(f"{len(self.plans) - self._done} apps never finished")
        return SimResult(
            config=self.config,
            classes=tuple(plan.app for plan in self.plans),
            act_s=self._act,
            cold_wait_s=self._cold,
            warm_waste_s=self.backends.warm_waste_s,
            makespan_s=self._last_finish_s,
            wakeups=self.backends.wakeups,
            events=self.loop.events_run,
            wall_s=time.perf_counter() - started,
            hinted_wakeups=self.backends.hinted_wakeups,
            prewarm=self.prewarming.snapshot(),
            llm=LlmWork.of(self.plans),
            engines=self.windows.stats(),
            deadlines_s=np.array(
                [np.nan if p.deadline_s is None else p.deadline_s for p in self.plans]
            ),
            tiers=tuple(plan.tier.value for plan in self.plans),
        )

    def _arrive(self, plan: AppPlan) -> None:
        run = AppRun(plan, self.loop.now, self.config.fanout)
        deadline = None if plan.deadline_s is None else self.loop.now + plan.deadline_s
        start = partial(
            self.core.start_run,
            run.run_id,
            plan.app,
            deadline=deadline,
            true_remaining_s=run.total_s,
            tier=plan.tier,
        )
        self.link.send(start)
        self._advance(run)

    def _advance(self, run: AppRun) -> None:
        """Start the run's next visit: enter its stage and submit all its calls."""
        visit = run.next_visit()
        if visit is None:
            self._finish(run)
            return
        self.link.send(partial(self._submit_visit, run, visit))

    def _submit_visit(self, run: AppRun, visit: VisitPlan) -> None:
        """The visit reaches the shared scheduler: enter its stage, submit all its calls."""
        core = self.core
        core.enter_stage(run.run_id, visit.stage)
        self.prewarming.entered(run.run_id, run.plan.app, visit.stage, self.loop.now)
        estimate_s = self._estimate_s(run, visit.stage)
        for call in visit.calls:
            task_id = core.submit(
                run.run_id,
                visit.backend,
                stage=visit.stage,
                estimate_s=estimate_s,
                tokens=call.prompt_tokens + call.output_tokens,
            )
            self._tasks[task_id] = (run, call)

    def _estimate_s(self, run: AppRun, stage: str) -> float:
        app = run.plan.app
        if self.ranking == Ranking.CLASS:
            return self.models.class_rank(app)
        if self.ranking == Ranking.ATTAINED:
            return self.models.class_rank(app, self.core.runs[run.run_id].attained_s)
        return self.models.stage_mean_s(app, stage)

    def _settle(self) -> None:
        """End of an instant: one driver step (admitted calls start, prewarming plans)."""
        self.driver.run()

    def _start(self, grant: Grant) -> None:
        _, call = self._tasks[grant.task_id]
        job = Job(
            grant.task_id,
            call.prompt_tokens,
            call.output_tokens,
            call.cached_tokens,
            self._tiers[grant.backend],
            call.seconds,
            granted_at_s=self.loop.now,
            priority=self.priorities.of(grant),
        )
        self.backends.servers[grant.backend].start(job)

    def _finished(self, job: Job) -> None:
        """A backend finished a call: release it; move the app on when its visit is over."""
        run, call = self._tasks.pop(job.task_id)
        kind = run.plan.visits[run.visit].kind
        seconds = call.seconds if kind != StageKind.LLM else job.finished_at_s - job.started_at_s
        usage = Usage(call.prompt_tokens, call.output_tokens, call.cached_tokens, seconds)
        visit_over = run.call_done(call, job.cold_wait_s)
        self.link.send(partial(self._release, job.task_id, usage, run.run_id, run.remaining_s()))
        if visit_over:
            self._advance(run)

    def _release(self, task_id: int, usage: Usage, run_id: str, remaining_s: float) -> None:
        """A release reaches the shared scheduler (with what the oracle knows is left)."""
        self.core.release(task_id, usage)
        self.core.set_true_remaining(run_id, remaining_s)

    def _finish(self, run: AppRun) -> None:
        self.link.send(partial(self.core.finish_run, run.run_id))
        index = run.plan.index
        self._act[index] = self.loop.now - run.arrival_s
        self._cold[index] = run.cold_wait_s
        self._last_finish_s = self.loop.now
        self._done += 1
        if self.progress is not None:
            self.progress(self._done)


def _planner(workload: Workload, config: SimConfig) -> PrewarmPlanner | None:
    """The planner of the ``hermes`` modes: one ``WarmupSpec`` per backend with a cold start."""
    if config.prewarm not in PLANNED_MODES:
        return None
    specs = {
        name: WarmupSpec(name, spec.cold_start_s, config.prewarm_k, spec.idle_sleep_s)
        for name, spec in workload.backends.items()
        if spec.cold_start_s > 0
    }
    plain = config.prewarm == "hermes-plain"
    return PrewarmPlanner(specs, partial=not plain, learn_arrivals=config.prewarm == "hermes")


def _prewarming(mode: str, simulation: Simulation) -> Prewarming:
    clock = simulation.loop.clock
    if mode == "reactive":
        return Reactive(simulation.backends, clock, simulation.workload.apps)
    if mode in PLANNED_MODES:
        return Planned(simulation.backends, clock)
    return Prewarming(simulation.backends, clock)


class _Starts:
    """The driver's ``Answers`` in the simulator: a grant starts the call on its backend."""

    def __init__(self, simulation: Simulation) -> None:
        self.simulation = simulation

    def granted(self, grant: Grant) -> None:
        # the grant reaches the app's host half a round trip later (hermes_agents.sim.hosts)
        simulation = self.simulation
        simulation.link.send(partial(simulation._start, grant))

    def withdrawn(self, withdrawal: Withdrawal) -> None:
        raise RuntimeError(f"a simulated call was withdrawn: {withdrawal}")

    def fail_all(self, reason: str) -> None:
        raise RuntimeError(f"the simulated scheduler failed: {reason}")


class _LoopAlarm:
    """The driver's ``Alarm`` on the event loop: an event at ``when_s`` (every instant ends
    with a driver step, so the event itself does nothing)."""

    def __init__(self, loop: EventLoop) -> None:
        self.loop = loop
        self._timer: Timer | None = None

    def set(self, when_s: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.loop.at(when_s, _nothing)


def _nothing() -> None:
    """An event that only makes the loop settle."""
