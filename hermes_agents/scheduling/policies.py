"""Queue policies: small objects that map a waiting task to a priority (lower = admitted first).

A policy sees read-only views of a task and of the run (app) it belongs to and returns a number;
ties go to the task submitted first. Policies never touch queues.

A policy may declare ``order_stable = True``: the order of two waiting tasks then changes only
when one of their runs moves (a release, a new stage), never with the clock alone (a priority
that shifts with ``now`` equally for every task, like slack or aging, still qualifies). The core
then keeps each queue in a heap, O(log n) per admission, instead of scanning it. Policies
without the attribute are scanned (``plas``: its starvation promotion depends on the clock).

Combine policies instead of adding flags: ``Aging(Gittins(), per_s=0.05)`` ages any policy
against starvation.

| name | orders by | what it models |
|---|---|---|
| ``fcfs`` | task submission time | a bare backend (vLLM, llama.cpp): request-level FCFS |
| ``app-fcfs`` | run arrival time | Parrot-like app-level FCFS |
| ``vtc`` | service the run received | fair share (virtual token counter) |
| ``plas`` | service the run received, with anti-starvation | Autellix's program-level LAS |
| ``mean-srjf`` | expected remaining work | shortest expected remaining job first |
| ``gittins`` | Gittins rank of the remaining-work distribution | Hermes |
| ``oracle`` | true remaining work (simulator only) | clairvoyant SRJF |
| ``least-slack`` | deadline - now - expected remaining | SLO attainment |
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Protocol

from hermes_agents.errors import ValidationError, did_you_mean


class RunView(Protocol):
    """What a policy may read about a run (an app instance)."""

    @property
    def arrived_at(self) -> float: ...
    @property
    def attained_s(self) -> float: ...
    @property
    def rank(self) -> float: ...
    @property
    def expected_remaining_s(self) -> float: ...
    @property
    def true_remaining_s(self) -> float | None: ...
    @property
    def deadline(self) -> float | None: ...


class TaskView(Protocol):
    """What a policy may read about a waiting task (one call)."""

    @property
    def submitted_at(self) -> float: ...
    @property
    def estimate_s(self) -> float: ...


class Policy(Protocol):
    """Maps a waiting task to a priority; lower is admitted first."""

    @property
    def name(self) -> str:
        """The policy's name (as used by ``hermes bench --policies``)."""
        ...

    def priority(self, task: TaskView, run: RunView, now: float) -> float:
        """The task's priority at time ``now``."""
        ...


@dataclass(frozen=True)
class Fcfs:
    """Request arrival order: what a backend does by itself."""

    name: str = "fcfs"
    order_stable: ClassVar[bool] = True

    def priority(self, task: TaskView, run: RunView, now: float) -> float:
        return task.submitted_at


@dataclass(frozen=True)
class AppFcfs:
    """App arrival order (Parrot-like): an earlier app's calls go first."""

    name: str = "app-fcfs"
    order_stable: ClassVar[bool] = True

    def priority(self, task: TaskView, run: RunView, now: float) -> float:
        return run.arrived_at


@dataclass(frozen=True)
class Vtc:
    """Least service received first: fair share between apps."""

    name: str = "vtc"
    order_stable: ClassVar[bool] = True

    def priority(self, task: TaskView, run: RunView, now: float) -> float:
        return run.attained_s


@dataclass(frozen=True)
class Plas:
    """Program-level least attained service with Autellix's anti-starvation promotion.

    A task that has waited more than ``starvation_ratio`` times its run's attained service
    (and at least ``min_wait_s``) jumps ahead of every non-starving task, oldest first.
    """

    starvation_ratio: float = 2.0
    min_wait_s: float = 1.0
    name: str = "plas"
    order_stable: ClassVar[bool] = False

    def priority(self, task: TaskView, run: RunView, now: float) -> float:
        waited = now - task.submitted_at
        if waited >= max(self.min_wait_s, self.starvation_ratio * run.attained_s):
            return -1e12 + task.submitted_at
        return run.attained_s


@dataclass(frozen=True)
class MeanSrjf:
    """Least expected remaining work first (the mean of the same distribution Gittins uses)."""

    name: str = "mean-srjf"
    order_stable: ClassVar[bool] = True

    def priority(self, task: TaskView, run: RunView, now: float) -> float:
        return run.expected_remaining_s


@dataclass(frozen=True)
class Gittins:
    """Lowest Gittins rank first: optimal for mean completion time without clairvoyance."""

    name: str = "gittins"
    order_stable: ClassVar[bool] = True

    def priority(self, task: TaskView, run: RunView, now: float) -> float:
        return run.rank


@dataclass(frozen=True)
class Oracle:
    """True remaining work first (needs ``true_remaining_s``: the simulator knows it)."""

    name: str = "oracle"
    order_stable: ClassVar[bool] = True

    def priority(self, task: TaskView, run: RunView, now: float) -> float:
        if run.true_remaining_s is None:
            raise ValidationError(
                "the oracle policy needs each run's true remaining work; use it in the simulator",
                "policy 'oracle'",
            )
        return run.true_remaining_s


@dataclass(frozen=True)
class LeastSlack:
    """Least slack first: ``deadline - now - expected remaining``; runs without one go last."""

    name: str = "least-slack"
    order_stable: ClassVar[bool] = True

    def priority(self, task: TaskView, run: RunView, now: float) -> float:
        if run.deadline is None:
            return math.inf
        return run.deadline - now - run.expected_remaining_s


@dataclass(frozen=True)
class Aging:
    """Any policy, minus ``per_s`` for every second a task has waited (no one starves)."""

    inner: Policy
    per_s: float = 0.1

    @property
    def name(self) -> str:
        """The inner policy's name with ``+aging``."""
        return f"{self.inner.name}+aging"

    @property
    def order_stable(self) -> bool:
        """Aging shifts every task by the same ``per_s * now``: stable if the inner policy is."""
        return bool(getattr(self.inner, "order_stable", False))

    def priority(self, task: TaskView, run: RunView, now: float) -> float:
        return self.inner.priority(task, run, now) - self.per_s * (now - task.submitted_at)


POLICIES: dict[str, Callable[[], Policy]] = {
    "fcfs": Fcfs,
    "app-fcfs": AppFcfs,
    "vtc": Vtc,
    "plas": Plas,
    "mean-srjf": MeanSrjf,
    "gittins": Gittins,
    "oracle": Oracle,
    "least-slack": LeastSlack,
}


def policy_named(name: str) -> Policy:
    """The policy registered under ``name`` (see the table in this module's docstring)."""
    factory = POLICIES.get(name)
    if factory is None:
        raise ValidationError(
            f"unknown policy {name!r}{did_you_mean(name, POLICIES)}; use one of {sorted(POLICIES)}",
            "'policy'",
        )
    return factory()
