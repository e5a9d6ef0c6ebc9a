"""State the scheduling core keeps: runs, tasks, backends, and the records it hands out.

Ranks are computed lazily from the app's ``RemainingDemand`` at its position and cached until
the run moves. A run whose class has no model ranks by its current task's estimate (a one-call
app with a known size).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

import numpy as np

from hermes_agents.errors import ValidationError
from hermes_agents.pdgraph import PDGraph, RemainingDemand, StageKind, Visit
from hermes_agents.scheduling.tiers import (
    DEFAULT_RESERVE_WINDOW_S,
    DEFAULT_SHEDDABLE_SHARE,
    Tier,
    checked_share,
)

logger = logging.getLogger(__name__)

_FAILED_APPS: set[str] = set()
"""App classes whose ranking failed and were warned about (warn once each)."""


class DemandModels(Protocol):
    """Demand models per app class: the core reads ``demand``; drivers feed ``observe`` (off
    the lock) and the scheduler interface's ``add_prior`` / ``learned_graph``."""

    def demand(self, app: str) -> RemainingDemand | None:
        """The current remaining-demand model of ``app``, or None if it has none yet."""
        ...

    def observe(self, app: str, run: Sequence[Visit]) -> None:
        """Learn from one finished run of ``app``."""
        ...

    def add(self, app: str, prior: PDGraph | None = None) -> object:
        """Know ``app`` (from ``prior`` if given, and from stored runs where kept)."""
        ...

    def graph(self, app: str) -> PDGraph | None:
        """The current PDGraph of ``app``, or None if unknown."""
        ...


DEFAULT_MAX_WAIT_S = 30.0
"""The default wait bound of a backend (``BackendLimits.max_wait_s``)."""
DEFAULT_MAX_HOLD_S = 600.0
"""The default hold bound of a backend (``BackendLimits.max_hold_s``): ten minutes."""
DEFAULT_CALL_S = 1.0
"""What a one-call app without an estimate is taken to need before its backend has served any
call (then: the backend's typical call, ``QueueState.typical_s``)."""
TYPICAL_RUNS = 20
"""A backend's typical call is the mean of its first calls, then a running mean weighted
1/``TYPICAL_RUNS`` per new call."""


@dataclass(frozen=True)
class BackendLimits:
    """Admission limits of one backend.

    Attributes:
        max_concurrency: tasks running at once.
        token_budget: prompt + output tokens running at once (None: no budget); a task larger
            than the whole budget still runs, alone.
        kind: what the backend serves; LLM usage is priced with the cost model.
        max_wait_s: the wait bound: a task that has waited this long goes to the head of its
            queue, oldest first, whatever the policy says (no call starves behind a flood of
            better-ranked ones); None: the policy alone decides (the simulator's default).
        max_hold_s: the hold bound: a slot held this long is taken back and counted
            (``reclaimed``); the call itself goes on, unscheduled from then on. A stuck or
            deadlocked caller cannot keep a slot forever, whatever its heartbeats say. None:
            held until released.
        sheddable_share: the headroom higher tiers keep (``+tiers`` policies; ``reserve``):
            while critical or standard work is about, sheddable calls hold at most this share
            of ``max_concurrency`` (rounded down, at least one slot); 1: no headroom.
        reserve_window_s: higher-tier work is about while one of its calls runs on the
            backend, and for this long after one was last submitted there.
    """

    max_concurrency: int = 1
    token_budget: int | None = None
    kind: StageKind = StageKind.LLM
    max_wait_s: float | None = DEFAULT_MAX_WAIT_S
    max_hold_s: float | None = DEFAULT_MAX_HOLD_S
    sheddable_share: float = DEFAULT_SHEDDABLE_SHARE
    reserve_window_s: float = DEFAULT_RESERVE_WINDOW_S

    def __post_init__(self) -> None:
        checked_share(self.sheddable_share)
        if self.max_concurrency < 1:
            raise ValidationError(
                f"must be >= 1, got {self.max_concurrency}", "field 'max_concurrency'"
            )
        if self.token_budget is not None and self.token_budget < 1:
            raise ValidationError(f"must be >= 1, got {self.token_budget}", "field 'token_budget'")
        for name in ("max_wait_s", "max_hold_s", "reserve_window_s"):
            seconds = getattr(self, name)
            if seconds is not None and not (
                isinstance(seconds, int | float) and math.isfinite(seconds) and seconds > 0
            ):
                raise ValidationError(
                    f"must be a positive number of seconds, got {seconds!r}", f"field {name!r}"
                )


UNLIMITED = BackendLimits(max_concurrency=1_000_000)


class Usage(NamedTuple):
    """What a finished call actually used (``seconds``: measured wall time)."""

    prompt_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    seconds: float = 0.0


@dataclass(eq=False)
class VisitTrace:
    """One stage visit of a run as it happens: its backend (from the first call) and calls."""

    stage: str
    backend: str = ""
    calls: list[Usage] = field(default_factory=list)
    """The calls' usage as released (bounds checked when the run's visits are made)."""


@dataclass(eq=False)
class Run:
    """One app run's state (policies read it through ``RunView``)."""

    run_id: str
    app: str
    arrived_at: float
    demand: RemainingDemand | None
    deadline: float | None = None
    true_remaining_s: float | None = None
    tier: Tier = Tier.STANDARD
    attained_s: float = 0.0
    stage: str | None = None
    done_in_stage_s: float = 0.0
    visits: dict[str, int] = field(default_factory=dict)
    trace: list[VisitTrace] = field(default_factory=list)
    tasks: set[int] = field(default_factory=set)
    open_visits: dict[str, VisitTrace] = field(default_factory=dict)
    """Named visits (``enter_stage(..., visit=...)``), oldest first."""
    fallback_s: float = 0.0
    version: int = 0
    """Bumped on every move (``moved``): queue entries and cached estimates made before it
    are stale."""
    _rank: float | None = None
    _rank_version: int = -1
    _mean: float | None = None
    _mean_version: int = -1
    _quantiles: dict[float, float] | None = None
    """Quantile -> remaining seconds, made at ``_quantile_version`` (``hermes-ddl`` asks for
    two quantiles of each run: one entry would evict the other on every call)."""
    _quantile_version: int = -1

    @property
    def rank(self) -> float:
        """Gittins rank at the current position (cached until the run moves)."""
        if self._rank_version != self.version or self._rank is None:
            self._rank = self._estimate(
                lambda d: d.table(self._where(), self.visits).rank(self.done_in_stage_s)
            )
            self._rank_version = self.version
        return self._rank

    @property
    def expected_remaining_s(self) -> float:
        """Mean remaining service given the position and the work done in this stage."""
        if self._mean_version != self.version or self._mean is None:
            self._mean = self._estimate(self._conditional_mean)
            self._mean_version = self.version
        return self._mean

    def remaining_quantile_s(self, quantile: float) -> float:
        """The ``quantile`` (0..1) of the remaining duration from the start of the current
        visit (1.0: the worst case of the walks): the PDGraph's critical path to END, every LLM
        call priced by the cost model, KV load included (``RemainingDemand.durations_s``); without
        a model, the call's estimate. Cached until the run moves."""
        quantiles = self._quantiles
        if quantiles is None or self._quantile_version != self.version:
            quantiles = self._quantiles = {}
            self._quantile_version = self.version
        value = quantiles.get(quantile)
        if value is None:
            value = self._estimate(lambda demand: self._conditional_quantile(demand, quantile))
            quantiles[quantile] = value
        return value

    def moved(self) -> None:
        """The run's position or service changed: its cached estimates and queue entries are
        stale (the core bumps ``version`` itself on its hot paths: the same thing)."""
        self.version += 1

    def _where(self) -> str:
        assert self.stage is not None
        return self.stage

    def _conditional_mean(self, demand: RemainingDemand) -> float:
        samples = demand.samples(self._where(), self.visits)
        survivors = samples[samples > self.done_in_stage_s]
        if survivors.size == 0:
            return self.done_in_stage_s
        return float(survivors.mean()) - self.done_in_stage_s

    def _conditional_quantile(self, demand: RemainingDemand, quantile: float) -> float:
        durations = demand.durations_s(self._where(), self.visits)
        return float(np.quantile(durations, quantile))

    def _estimate(self, compute: Callable[[RemainingDemand], float]) -> float:
        if self.demand is None or self.stage not in self.demand.graph.stages:
            return self.fallback_s
        try:
            return compute(self.demand)
        except Exception:  # fail open: a model problem must not stop scheduling
            if self.app not in _FAILED_APPS:  # once per app class, not once per call
                _FAILED_APPS.add(self.app)
                logger.warning(
                    "ranking runs of %r failed; they use their calls' estimates (run %s)",
                    self.app,
                    self.run_id,
                    exc_info=True,
                )
            return self.fallback_s


@dataclass(eq=False, slots=True)
class Task:
    """One call waiting for, or holding, a slot (policies read it through ``TaskView``)."""

    task_id: int
    run: Run
    backend: str
    estimate_s: float
    tokens: int
    submitted_at: float
    visit: VisitTrace
    """The stage visit this call belongs to (its usage is recorded there)."""
    started_at: float | None = None


@dataclass(eq=False)
class QueueState:
    """One backend's admission queue: its limits, waiting tasks and running set.

    ``waiting`` keeps submission order. For order-stable policies ``heap`` indexes it by
    (priority, task id, run version); entries of tasks that left, or of runs that moved since,
    are stale and skipped.
    """

    name: str
    limits: BackendLimits
    waiting: dict[int, Task] = field(default_factory=dict)
    heap: list[tuple[float, int, int, Task]] = field(default_factory=list)
    running: dict[int, Task] = field(default_factory=dict)
    tokens_running: int = 0
    granted: int = 0
    promoted: int = 0
    """Grants made by the wait bound (tasks that waited ``max_wait_s``)."""
    reclaimed: int = 0
    """Slots taken back by the hold bound (held ``max_hold_s``)."""
    typical_s: float = DEFAULT_CALL_S
    """Running mean of the seconds its calls were priced at (one-call apps without an
    estimate rank by it)."""
    served: int = 0
    """Calls released so far."""
    capacity_reason: str | None = None
    """Why the capacity is what it is when ``auto`` moves it (None: the configured cap)."""
    capacity_changes: int = 0
    """Times its capacity was changed at run time (``set_capacity``)."""
    observer: Callable[[float, float], None] | None = None
    """Told of each release with usage: (measured seconds, seconds credited); ``auto``."""
    higher_seen_s: float = -math.inf
    """When a critical or standard call was last submitted here (``+tiers`` policies only;
    the headroom rule, ``reserve``)."""

    def fits(self, task: Task) -> bool:
        if len(self.running) >= self.limits.max_concurrency:
            return False
        budget = self.limits.token_budget
        return budget is None or not self.running or self.tokens_running + task.tokens <= budget
