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
| ``edf`` | deadline; runs without one after, by arrival | earliest deadline first |
| ``hermes-ddl`` | deadline - now - p95 remaining duration; late and deadline-free runs \
after, by Gittins rank | Hermes's deadline variant |
| ``hermes-edf`` | deadline; late (by the same PDGraph test) and deadline-free runs after, \
by Gittins rank | EDF that drops hopeless runs |
| ``hermes-ddl-urgent`` | as ``hermes-ddl`` (slack over the p80, late below the p10); its \
headroom also holds back runs with time to spare and late ones | a small batch while a \
deadline is near |

Any name with ``+tiers`` (``gittins+tiers``, ``hermes-ddl+tiers``) orders by tier first
(``scheduling.tiers``: critical, standard, sheddable), then by the named policy (``Tiered``).

Deadlines are on the core's clock. Runs that have none rank after every run that has one
(``NO_DEADLINE``); ``hermes-ddl`` also moves a run that is more likely to miss its deadline than
to make it there (``HermesDdl``: demoted, never shed; it still finishes as soon as the others
allow).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import ClassVar, Protocol

from hermes_agents.errors import ValidationError, did_you_mean
from hermes_agents.scheduling.tiers import Tier


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
    @property
    def tier(self) -> Tier: ...
    def remaining_quantile_s(self, quantile: float) -> float:
        """A quantile of the remaining duration, critical path (1.0: the worst walk)."""
        ...


class TaskView(Protocol):
    """What a policy may read about a waiting task (one call)."""

    @property
    def submitted_at(self) -> float: ...
    @property
    def estimate_s(self) -> float: ...


Recheck = Callable[[TaskView, RunView, float, float], "float | None"]
"""An order-stable policy's optional ``recheck(task, run, now, priority)``: called on the head
of a queue's heap (``priority``: its entry's); a new priority moves the entry, None keeps it."""


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


NO_DEADLINE = 2.0**36
"""Added to the priority of runs without a deadline (and of late ones, ``hermes-ddl``): above
any deadline on a monotonic clock (about 2,000 years), so they rank after every run with one."""
TIER_SPAN = 2.0**40
"""The priority distance between two tiers (``Tiered``); a policy's own priorities are clipped
to +-``TIER_SPAN / 4`` inside a tier (ties then go to the task submitted first)."""


@dataclass(frozen=True)
class Edf:
    """Earliest deadline first; runs without one after, in arrival order (app FCFS).

    A late run keeps its place (its deadline is the earliest): the classic EDF pathology that
    lets one hopeless run make the next ones late too.
    """

    name: str = "edf"
    order_stable: ClassVar[bool] = True

    def priority(self, task: TaskView, run: RunView, now: float) -> float:
        if run.deadline is None:
            return NO_DEADLINE + run.arrived_at
        return run.deadline


@dataclass(frozen=True)
class HermesDdl:
    """Hermes's deadline variant: least slack over a high quantile of the remaining duration.

    ``slack = deadline - now - q(quantile)``, where ``q`` is the PDGraph's remaining duration
    at the run's position (``RunView.remaining_quantile_s``: walks over the graph along the
    critical path, every LLM call priced by the cost model, KV load by tier included; a run
    without a model uses its call's estimate). The p95 (default) rather than the worst case:
    the maximum of the walks is one extreme walk. Runs without a deadline rank after those
    with one, by Gittins rank (their mean completion time stays low). The cost model must be
    in wall seconds (a fitted one is; the simulator prices durations on its engines,
    ``sim.wall_cost``): a slack priced too slow calls runs late that are not.

    The rule for a run whose deadline can no longer be met: when the ``late_quantile``
    (default 0.5: the median) of its remaining duration no longer fits before the deadline,
    it is more likely to miss than to make it even if served at once, and it is *demoted* to
    the runs without a deadline (ranked by Gittins among them), so it stops pushing runs that
    can still make it past theirs (EDF's domino effect under overload). It is never shed: it
    runs as soon as nothing on time waits, and the user's call just returns late. The test
    is made at the run's latest call (the later of ``now`` and the call's submission), and
    again while the call heads its queue (``recheck``), so the order stays stable between a
    run's moves. On paper-mix with deadlines measured alone, the median beat the shortest
    walk (0, the old default) wherever deadlines bind (docs/benchmarks.md).

    Admission keeps headroom for the runs with a deadline (``deadline_headroom``), as higher
    tiers keep it against sheddable work; with ``urgent_slack_s`` (``hermes-ddl-urgent``) it
    keeps it for the *urgent* runs only, those on time with at most that much slack
    (``reserve.UrgentRule``), so the batch stays small while a deadline is near.
    """

    quantile: float = 0.95
    late_quantile: float = 0.5
    by_deadline: bool = False
    """Order the runs that can still make it by deadline instead of slack (``hermes-edf``)."""
    deadline_headroom: bool = True
    """While a run with a deadline has work about on a backend, runs without one hold at most
    ``BackendLimits.sheddable_share`` of its slots (``scheduling.reserve``): ranking after
    them is not enough, as a slot is not preempted and every call in the batch slows it."""
    urgent_slack_s: float | None = None
    """With the headroom, also hold back the runs with a deadline whose slack exceeds this
    many seconds, and the late ones (``hermes-ddl-urgent``: 10; ``reserve.UrgentRule``);
    None: only the runs without a deadline."""
    reserve_window_s: float | None = None
    """How long the headroom lasts after the last call of a run not held back (None: the
    backend's ``BackendLimits.reserve_window_s``)."""
    name: str = "hermes-ddl"
    order_stable: ClassVar[bool] = True

    def __post_init__(self) -> None:
        for field_name in ("quantile", "late_quantile"):
            value = getattr(self, field_name)
            if not (isinstance(value, int | float) and 0.0 <= value <= 1.0):
                raise ValidationError(f"must be in [0, 1], got {value!r}", f"field {field_name!r}")
        for field_name in ("urgent_slack_s", "reserve_window_s"):
            value = getattr(self, field_name)
            if value is not None and not (isinstance(value, int | float) and 0 <= value < math.inf):
                raise ValidationError(
                    f"must be a number of seconds >= 0 or None, got {value!r}",
                    f"field {field_name!r}",
                )

    def priority(self, task: TaskView, run: RunView, now: float) -> float:
        deadline = run.deadline
        if deadline is None:
            return NO_DEADLINE + run.rank
        left_s = deadline - max(now, task.submitted_at)
        if left_s < run.remaining_quantile_s(self.late_quantile):
            return NO_DEADLINE + run.rank  # cannot make it: demoted, not shed
        if self.by_deadline:
            return deadline
        return deadline - now - run.remaining_quantile_s(self.quantile)

    def recheck(self, task: TaskView, run: RunView, now: float, priority: float) -> float | None:
        """Demote the head of a queue whose deadline can no longer be met (it became late
        while it waited); None: keep it."""
        deadline = run.deadline
        if deadline is None or priority >= NO_DEADLINE:
            return None  # no deadline, or demoted already
        if deadline - now < run.remaining_quantile_s(self.late_quantile):
            return NO_DEADLINE + run.rank
        return None


@dataclass(frozen=True)
class Tiered:
    """Tier first (critical, standard, sheddable; ``scheduling.tiers``), then ``inner``.

    Strict between tiers; a lower tier has no reserved share (the backend's wait bound is what
    keeps it from starving), and higher tiers keep headroom: the core holds sheddable calls to
    ``BackendLimits.sheddable_share`` of a backend's slots while higher-tier work is about
    (``reserve``).
    """

    inner: Policy

    @property
    def name(self) -> str:
        """The inner policy's name with ``+tiers``."""
        return f"{self.inner.name}{TIERS_SUFFIX}"

    @property
    def order_stable(self) -> bool:
        """Tiers never change with the clock: stable if the inner policy is."""
        return bool(getattr(self.inner, "order_stable", False))

    def priority(self, task: TaskView, run: RunView, now: float) -> float:
        return run.tier.level * TIER_SPAN + _clipped(self.inner.priority(task, run, now))

    @property
    def recheck(self) -> Recheck | None:
        """The inner policy's ``recheck``, within the run's tier (None if it has none)."""
        inner: Recheck | None = getattr(self.inner, "recheck", None)
        if inner is None:
            return None

        def within_tier(task: TaskView, run: RunView, now: float, priority: float) -> float | None:
            offset = run.tier.level * TIER_SPAN
            moved = inner(task, run, now, priority - offset)
            return None if moved is None else offset + _clipped(moved)

        return within_tier


def _clipped(priority: float) -> float:
    """A policy's priority within +-``TIER_SPAN / 4`` (``Tiered``)."""
    bound = TIER_SPAN / 4
    return min(max(priority, -bound), bound)


TIERS_SUFFIX = "+tiers"
"""A policy name ending in it is that policy within tiers (``Tiered``)."""


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
    "edf": Edf,
    "hermes-ddl": HermesDdl,
    "hermes-edf": partial(HermesDdl, by_deadline=True, name="hermes-edf"),
    "hermes-ddl-urgent": partial(
        HermesDdl,
        quantile=0.8,
        late_quantile=0.1,
        urgent_slack_s=10.0,
        reserve_window_s=10.0,
        name="hermes-ddl-urgent",
    ),
}


def policy_named(name: str) -> Policy:
    """The policy registered under ``name`` (see the table in this module's docstring);
    ``NAME+tiers`` is that policy within tiers."""
    if isinstance(name, str) and name.endswith(TIERS_SUFFIX) and name != TIERS_SUFFIX:
        return Tiered(policy_named(name.removesuffix(TIERS_SUFFIX)))
    factory = POLICIES.get(name)
    if factory is None:
        raise ValidationError(
            f"unknown policy {name!r}{did_you_mean(name, POLICIES)}; use one of {sorted(POLICIES)}",
            "'policy'",
        )
    return factory()
