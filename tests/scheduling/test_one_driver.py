"""One driver loop: the simulator and the in-process runtime decide alike.

The simulator's core calls are recorded, one batch per driver step (one simulated instant),
with the grants each step made; the same batches are then replayed through a
``LocalScheduler`` on a fake clock (``LocalScheduler.apply``: one batch, one driver step).
Both run the same ``SchedulerCore`` and ``Driver``: the grants must be the same tasks in the
same order, step by step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from hermes_agents.scheduling.core import SchedulerCore
from hermes_agents.scheduling.decisions import Decisions, Grant
from hermes_agents.scheduling.runtime import LocalScheduler
from hermes_agents.sim.demand import ProfiledModels
from hermes_agents.sim.plans import draw_plans
from hermes_agents.sim.simulator import SimConfig, Simulation, scheduler_cost
from hermes_agents.workloads import builtin

RECORDED = ("start_run", "enter_stage", "submit", "release", "finish_run", "set_true_remaining")

Op = tuple[str, tuple[Any, ...], dict[str, Any]]


def _record(simulation: Simulation) -> list[tuple[float, list[Op], list[int]]]:
    """Run ``simulation``; per driver step: its time, the core calls before it, its grants."""
    steps: list[tuple[float, list[Op], list[int]]] = []
    pending: list[Op] = []
    core = simulation.core
    for name in RECORDED:
        real = getattr(core, name)

        def recorded(
            *args: Any, _real: Callable[..., Any] = real, _name: str = name, **kw: Any
        ) -> Any:
            pending.append((_name, args, kw))
            return _real(*args, **kw)

        setattr(core, name, recorded)
    real_step = simulation.driver.step

    def step() -> Decisions:
        decisions = real_step()
        steps.append((simulation.loop.now, list(pending), [g.task_id for g in decisions.grants]))
        pending.clear()
        return decisions

    simulation.driver.step = step  # type: ignore[method-assign]
    simulation.run()
    return steps


@pytest.mark.parametrize("policy", ["gittins", "fcfs", "app-fcfs"])
def test_the_runtime_replays_the_simulators_grants_in_the_same_order(policy: str) -> None:
    workload = builtin("paper-mix")
    config = SimConfig(policy=policy, apps=40, seed=3, load=2.0)
    cost = scheduler_cost(workload, config.fanout)
    plans = draw_plans(workload, 40, config.seed, config.arrivals, cost)
    simulation = Simulation(workload, config, plans, ProfiledModels(workload.apps, cost))
    steps = _record(simulation)
    assert sum(len(grants) for _, _, grants in steps) > 100  # a real contended run

    now = [0.0]
    sim_core = simulation.core
    limits = {name: state.limits for name, state in sim_core.backends.items()}
    core = SchedulerCore(
        limits, sim_core.policy, lambda: now[0], models=sim_core.models, cost=sim_core.cost
    )
    runtime = LocalScheduler(core)
    granted: list[int] = []
    answers = runtime.driver.answers
    real_granted = answers.granted

    def note(grant: Grant) -> None:
        granted.append(grant.task_id)
        real_granted(grant)

    answers.granted = note  # type: ignore[method-assign]
    for when_s, ops, sim_grants in steps:
        now[0] = when_s
        granted.clear()
        runtime.apply(_replay(ops))
        assert granted == sim_grants, f"at {when_s:.3f} s"
    assert core.runs == {}
    assert core.tasks == {}


def _replay(batch: list[Op]) -> Callable[[SchedulerCore], None]:
    def change(core: SchedulerCore) -> None:
        for name, args, kwargs in batch:
            getattr(core, name)(*args, **kwargs)

    return change
