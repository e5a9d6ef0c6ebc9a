"""The heap that order-stable policies use admits exactly what a full scan would."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from hermes_agents.scheduling import Aging, BackendLimits, SchedulerCore, Usage, policy_named
from hermes_agents.scheduling.policies import Policy, RunView, TaskView


@dataclass(frozen=True)
class Scanned:
    """The same policy, without ``order_stable``: the core scans its queue."""

    inner: Policy

    @property
    def name(self) -> str:
        return self.inner.name

    def priority(self, task: TaskView, run: RunView, now: float) -> float:
        return self.inner.priority(task, run, now)


OPS = st.lists(
    st.tuples(
        st.sampled_from(["submit", "release", "stage", "tick", "cancel"]),
        st.integers(0, 5),  # which run (submit, stage) or which task (release, cancel)
        st.floats(0.0, 5.0),  # an estimate or a service time
    ),
    max_size=80,
)
POLICIES = ["fcfs", "app-fcfs", "vtc", "mean-srjf", "least-slack", "aging"]


def _policy(name: str) -> Policy:
    return Aging(policy_named("vtc"), per_s=0.3) if name == "aging" else policy_named(name)


def _replay(policy: Policy, ops: list[tuple[str, int, float]]) -> list[int]:
    now = [0.0]
    core = SchedulerCore({"llm": BackendLimits(2)}, policy, lambda: now[0])
    for run in range(6):
        core.start_run(f"r{run}", "app", deadline=10.0 + 3 * run if run % 2 else None)
    admitted: list[int] = []
    for op, which, amount in ops:
        if op == "submit":
            core.submit(f"r{which}", "llm", estimate_s=amount, stage=f"s{which}")
        elif op == "stage":
            core.enter_stage(f"r{which}", f"t{which}")
        elif op == "tick":
            now[0] += amount
        elif admitted:
            task = admitted[which % len(admitted)]
            usage = Usage(seconds=amount) if op == "release" else None
            core.release(task, usage)
        admitted += [grant.task_id for grant in core.schedule()]
    return admitted


@settings(max_examples=150, deadline=None)
@given(ops=OPS, name=st.sampled_from(POLICIES))
def test_indexed_and_scanned_queues_admit_the_same_tasks_in_the_same_order(
    ops: list[tuple[str, int, float]], name: str
) -> None:
    policy = _policy(name)
    assert getattr(policy, "order_stable", False)
    assert _replay(policy, ops) == _replay(Scanned(policy), ops)


def test_plas_is_scanned_because_its_order_moves_with_the_clock() -> None:
    assert not policy_named("plas").order_stable  # type: ignore[attr-defined]
