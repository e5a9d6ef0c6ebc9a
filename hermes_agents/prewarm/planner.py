"""The prewarm planner: which backends to warm for the apps in flight, and when (sans-I/O).

A step function in the manner of vLLM's scheduler: ``plan(runs, now_s, awake)`` reads the
active runs and what is known about each backend's state and returns a ``PlanStep`` of hints and
the time to call again. It does no I/O, reads no clock and starts no timers; the driver (the
simulator, the runtime) acts on the hints and calls back at ``next_check_s``.

For every run at a position of its PDGraph, the walks of ``RemainingDemand.first_passage`` give
p (the probability of reaching backend B) and the distribution of the time T until it does.
The rules (see ``hermes_agents.prewarm.outlook`` and docs/prewarming.md):

- **wake** B (asleep or unknown) when the warm-up is likely enough to be used in time. With
  ``partial=True`` (the default): ``p * E[min(1, (T - delay) / warmup_s)] >= K``, each
  arrival counted by the share of the cold start it hides; with ``partial=False`` (the
  Hermes paper's rule): ``p * P(T >= delay + warmup_s) >= K``. The hint falls due at
  ``delay``, when a warm-up would still complete before all but ``lead`` of the arrivals
  (earlier would only idle longer);
- **keep B awake** (awake) when the app likely returns within B's ``idle_sleep_s``: ``keep_s``
  is one idle period;
- **keep B awake for arrivals** (``learn_arrivals=True``, the default): from the runs it sees
  start, the planner learns each class's arrival rate (``ArrivalRates``) and, from the class's
  entry position, how many of its apps reach B sooner than B's warm-up (those a wake after
  arrival cannot fully hide). An awake B is kept awake one more idle period when
  ``1 - exp(-A * idle_sleep_s) >= K_a``, ``A = sum_c rate_c * p_c * P(T_c < warmup_s)``
  (``WarmupSpec.arrival_threshold``, K by default). These hints have ``run_id == ""``;
- one hint per backend per step (the best-ranked run's), no new wake while one is in flight
  (``warmup_s`` after the last), at most one hint per backend and action every
  ``min_interval_s``, a keep-awake only when the last one has less than half its time left;
- wakes that compete for a memory pool go to the best-ranked (lowest Gittins rank) apps first.

>>> from hermes_agents.pdgraph import PDGraph, RemainingDemand
>>> graph = PDGraph.from_dict({"name": "rag", "entry": "plan", "stages": {
...     "plan": {"kind": "tool", "backend": "cpu", "seconds": {"const": 4.0},
...              "next": {"dnn": 1.0}},
...     "dnn": {"kind": "tool", "backend": "gpu", "seconds": {"const": 1.0}}}})
>>> class Run:
...     run_id, app, stage, visits, rank = "r1", "rag", "plan", {"plan": 1}, 1.0
...     demand = RemainingDemand(graph, walks=100)
>>> planner = PrewarmPlanner({"gpu": WarmupSpec("gpu", warmup_s=3.0)})
>>> step = planner.plan([Run()], now_s=0.0, awake={"gpu": False})
>>> step.hints, step.next_check_s      # due at 4 - 3 = 1 s: the warm-up ends as the app arrives
([], 1.0)
>>> [(h.backend, h.action) for h in planner.plan([Run()], now_s=1.0, awake={}).hints]
[('gpu', 'wake')]
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from hermes_agents.errors import ValidationError
from hermes_agents.pdgraph import RemainingDemand
from hermes_agents.pdgraph.remaining import FirstPassage
from hermes_agents.prewarm.arrivals import ArrivalRates
from hermes_agents.prewarm.hints import PlanStep, WarmAction, WarmHint
from hermes_agents.prewarm.outlook import Outlook, PositionLook, Timing, look
from hermes_agents.prewarm.pace import Pace
from hermes_agents.prewarm.spec import WarmupSpec

logger = logging.getLogger(__name__)

OUTLOOK_CACHE_SIZE = 4096
"""Positions whose per-backend outlooks the planner keeps."""


class PlannedRun(Protocol):
    """What the planner reads about a run (``hermes_agents.scheduling.state.Run`` fits)."""

    @property
    def run_id(self) -> str: ...
    @property
    def app(self) -> str: ...
    @property
    def stage(self) -> str | None: ...
    @property
    def visits(self) -> Mapping[str, int]: ...
    @property
    def demand(self) -> RemainingDemand | None: ...
    @property
    def rank(self) -> float: ...


@dataclass(frozen=True)
class _Candidate:
    """A hint that may be issued now, before dedup, rate limits and memory.

    ``run_id`` is "" and ``rank`` inf for a hint made for apps that have not arrived yet.
    """

    app: str
    run_id: str
    rank: float
    backend: str
    action: WarmAction
    probability: float
    expected_in_s: float


@dataclass(frozen=True)
class _Seen:
    """Where the planner last saw a run, since when, and what that visit was predicted to take."""

    position: tuple[str, int]
    since_s: float
    look: PositionLook


class PrewarmPlanner:
    """Plans warm-ups from the runs' PDGraph positions (see the module docstring).

    Args:
        specs: backend name -> its ``WarmupSpec``; other backends are never hinted.
        memory: pool name -> budget in the pools' memory units; pools not listed are unlimited.
        min_interval_s: at most one hint per backend and action this often.
        lead: share of arrivals a timed wake may still be late for (0 <= lead < 1).
        learn_pace: learn wall seconds per predicted second from the runs' moves (``Pace``);
            False: trust the walks' service seconds as wall time.
        partial: also wake for apps that will arrive during the warm-up, counting each by the
            share of the cold start it hides (see ``outlook``); False: the paper's plain rule.
        learn_arrivals: learn each class's arrival rate and keep awake the backends that new
            apps will likely need sooner than a wake could serve them (the arrival rule);
            False: plan for the runs in flight only. ``partial=False, learn_arrivals=False``
            is the Hermes paper's planner.

    Call ``plan`` whenever a run moves (and at ``next_check_s``): the planner times each
    position from the first call that sees it, and learns its pace from the moves it sees.
    """

    def __init__(
        self,
        specs: Mapping[str, WarmupSpec],
        *,
        memory: Mapping[str, float] | None = None,
        min_interval_s: float = 1.0,
        lead: float = 0.05,
        learn_pace: bool = True,
        partial: bool = True,
        learn_arrivals: bool = True,
    ) -> None:
        for name, spec in specs.items():
            if spec.backend != name:
                raise ValidationError(f"spec is for {spec.backend!r}", f"specs[{name!r}]")
        if not min_interval_s >= 0:
            raise ValidationError(f"must be >= 0, got {min_interval_s}", "min_interval_s")
        if not 0 <= lead < 1:
            raise ValidationError(f"must be in [0, 1), got {lead}", "lead")
        for pool, budget in (memory or {}).items():
            if not budget >= 0:
                raise ValidationError(f"budget must be >= 0, got {budget}", f"memory[{pool!r}]")
        self.specs = dict(specs)
        self.memory = dict(memory or {})
        self.min_interval_s = min_interval_s
        self.lead = lead
        self.pace = Pace() if learn_pace else None
        self.partial = partial
        self.arrivals = ArrivalRates() if learn_arrivals else None
        self._entries: dict[str, tuple[PositionLook, str]] = {}
        self._seen: dict[str, _Seen] = {}
        self._looks_by_id: OrderedDict[int, tuple[FirstPassage, PositionLook]] = OrderedDict()
        self._last: dict[tuple[str, WarmAction], WarmHint] = {}
        self._failed: set[str] = set()

    def plan(
        self, runs: Iterable[PlannedRun], now_s: float, awake: Mapping[str, bool | None]
    ) -> PlanStep:
        """Hints due at ``now_s`` and when to call again.

        ``awake`` maps backends to True (awake, or already waking), False (asleep) or None
        (unknown, treated as asleep: waking an awake backend is harmless).
        """
        due: list[float] = []
        candidates = self._candidates(list(runs), now_s, awake, due)
        hints = self._admit(candidates, now_s, awake, due)
        for hint in hints:
            self._last[(hint.backend, hint.action)] = hint
            if hint.action == "keep_awake":  # look again when it may be renewed
                due.append(now_s + max(self.min_interval_s, hint.keep_s / 2))
        later = [t for t in due if t > now_s]
        return PlanStep(hints, min(later) if later else None)

    def _candidates(
        self,
        runs: list[PlannedRun],
        now_s: float,
        awake: Mapping[str, bool | None],
        due: list[float],
    ) -> dict[tuple[str, WarmAction], list[_Candidate]]:
        """Per backend and action, every run for which a rule holds now (due times noted),
        and the arrival rule's keep-awakes."""
        self._forget_finished(runs)
        found: dict[tuple[str, WarmAction], list[_Candidate]] = {}
        for run in runs:
            position = self._look(run)
            if position is None:
                continue
            since = self._entered(run, position, now_s)
            pace = self.pace.factor(position.stage) if self.pace is not None else 1.0
            for backend, outlook in position.backends.items():
                action: WarmAction = "keep_awake" if awake.get(backend) is True else "wake"
                timing = self._timing(outlook, backend, action, pace)
                if not math.isfinite(timing.delay_s):
                    continue
                if now_s < since + timing.delay_s:
                    due.append(since + timing.delay_s)
                    continue
                expected = max(0.0, outlook.mean_s(pace) - (now_s - since))
                candidate = _Candidate(
                    run.app, run.run_id, run.rank, backend, action, timing.probability, expected
                )
                found.setdefault((backend, action), []).append(candidate)
        for candidate in self._for_arrivals(now_s, awake):
            found.setdefault((candidate.backend, candidate.action), []).append(candidate)
        return found

    def _for_arrivals(self, now_s: float, awake: Mapping[str, bool | None]) -> list[_Candidate]:
        """Keep-awakes for apps that have not arrived yet (the arrival rule).

        ``A``: the rate of new apps that reach the backend sooner than its warm-up,
        ``sum_c rate_c * p_c * P(T_c < warmup_s)`` from each class's entry position. An awake
        backend is kept awake one more idle period when ``1 - exp(-A * idle_sleep_s) >= K_a``:
        the chance that the period serves an app that a wake after its arrival cannot.
        """
        if self.arrivals is None:
            return []
        out = []
        for backend, spec in self.specs.items():
            horizon = spec.idle_sleep_s
            if horizon is None or spec.warmup_s <= 0 or awake.get(backend) is not True:
                continue
            rate, app = self._arrival_rate(backend, spec.warmup_s, now_s)
            probability = -math.expm1(-rate * horizon)
            if rate > 0 and probability >= spec.arrival_k:
                candidate = _Candidate(
                    app, "", math.inf, backend, "keep_awake", probability, 1 / rate
                )
                out.append(candidate)
        return out

    def _arrival_rate(self, backend: str, warmup_s: float, now_s: float) -> tuple[float, str]:
        """Rate of new apps reaching ``backend`` before ``warmup_s``, and the main class."""
        assert self.arrivals is not None
        total, best, best_app = 0.0, 0.0, ""
        for app, (position, entry_backend) in sorted(self._entries.items()):
            if entry_backend == backend:
                share = 1.0  # the entry stage itself runs there
            else:
                outlook = position.backends.get(backend)
                if outlook is None:
                    continue
                pace = self.pace.factor(position.stage) if self.pace is not None else 1.0
                share = outlook.too_soon(warmup_s, pace)
            part = self.arrivals.rate(app, now_s) * share
            total += part
            if part > best:
                best, best_app = part, app
        return total, best_app

    def _timing(self, outlook: Outlook, backend: str, action: WarmAction, pace: float) -> Timing:
        spec = self.specs[backend]
        if action == "keep_awake":
            return outlook.keep(spec, pace)
        return outlook.wake(spec, self.lead, pace, partial=self.partial)

    def _admit(
        self,
        found: dict[tuple[str, WarmAction], list[_Candidate]],
        now_s: float,
        awake: Mapping[str, bool | None],
        due: list[float],
    ) -> list[WarmHint]:
        """Dedup and rate-limit per backend, then fit wakes into memory, best-ranked first."""
        best = [min(group, key=_order) for group in found.values()]
        best.sort(key=_order)
        used = self._memory_used(now_s, awake)
        hints = []
        for candidate in best:
            blocked_until = self._blocked_until(candidate, now_s)
            if blocked_until is not None:
                due.append(blocked_until)
                continue
            spec = self.specs[candidate.backend]
            if candidate.action == "wake" and spec.pool in self.memory:
                pool = spec.pool
                if used.get(pool, 0.0) + spec.memory > self.memory[pool] + 1e-9:
                    continue  # a better-ranked app's backend took the room
                used[pool] = used.get(pool, 0.0) + spec.memory
            hints.append(self._hint(candidate, now_s))
        return hints

    def _blocked_until(self, candidate: _Candidate, now_s: float) -> float | None:
        """When dedup or the rate limit lets this backend's hint through (None: now)."""
        last = self._last.get((candidate.backend, candidate.action))
        if last is None:
            return None
        until = last.issued_at_s + self.min_interval_s
        if candidate.action == "wake":
            until = max(until, last.issued_at_s + self.specs[candidate.backend].warmup_s)
        else:  # a keep-awake is renewed only when less than half of it is left
            until = max(until, last.issued_at_s + last.keep_s / 2)
        return until if now_s < until else None

    def _memory_used(self, now_s: float, awake: Mapping[str, bool | None]) -> dict[str, float]:
        """Memory of each pool held by awake backends and by wakes still in flight."""
        used: dict[str, float] = {}
        for name, spec in self.specs.items():
            if spec.pool not in self.memory:
                continue
            wake = self._last.get((name, "wake"))
            in_flight = wake is not None and now_s < wake.issued_at_s + spec.warmup_s
            if awake.get(name) is True or in_flight:
                used[spec.pool] = used.get(spec.pool, 0.0) + spec.memory
        return used

    def _hint(self, candidate: _Candidate, now_s: float) -> WarmHint:
        keep = candidate.action == "keep_awake"
        return WarmHint(
            backend=candidate.backend,
            app=candidate.app,
            run_id=candidate.run_id,
            probability=candidate.probability,
            expected_in_s=candidate.expected_in_s,
            issued_at_s=now_s,
            action=candidate.action,
            keep_s=(self.specs[candidate.backend].idle_sleep_s or 0.0) if keep else 0.0,
        )

    def _entered(self, run: PlannedRun, position: PositionLook, now_s: float) -> float:
        """When the planner first saw the run where it is now; a move teaches the pace."""
        assert run.stage is not None
        where = (run.stage, run.visits.get(run.stage, 0))
        seen = self._seen.get(run.run_id)
        if seen is not None and seen.position == where:
            return seen.since_s
        if seen is not None and self.pace is not None:
            self.pace.observe(seen.look.stage, now_s - seen.since_s, seen.look.visit_s)
        if seen is None and self.arrivals is not None:
            self._started(run, position, now_s)
        self._seen[run.run_id] = _Seen(where, now_s, position)
        return now_s

    def _started(self, run: PlannedRun, position: PositionLook, now_s: float) -> None:
        """A run seen for the first time: a start of its class if it is at its entry."""
        assert self.arrivals is not None
        assert run.demand is not None
        graph = run.demand.graph
        if run.stage != graph.entry or run.visits.get(graph.entry, 0) > 1:
            return  # first seen mid-way (the planner came late): not an arrival
        self.arrivals.started(run.app, now_s)
        self._entries[run.app] = (position, graph.stages[graph.entry].backend)

    def _look(self, run: PlannedRun) -> PositionLook | None:
        """The run's outlook at its position (cached per position); None without a model."""
        demand, stage = run.demand, run.stage
        if demand is None or stage is None or stage not in demand.graph.stages:
            return None
        try:
            passage = demand.first_passage(stage, run.visits)
        except Exception:  # fail open: one app's model must not stop the others' hints
            if run.app not in self._failed:
                self._failed.add(run.app)
                logger.warning("prewarm planning for %r failed", run.app, exc_info=True)
            return None
        entry = self._looks_by_id.get(id(passage))
        if entry is None or entry[0] is not passage:
            key = (demand.graph.stages[stage].backend, demand.graph.name, stage)
            entry = (passage, look(passage, key, self.specs))
            self._looks_by_id[id(passage)] = entry
            if len(self._looks_by_id) > OUTLOOK_CACHE_SIZE:
                self._looks_by_id.popitem(last=False)
        return entry[1]

    def _forget_finished(self, runs: list[PlannedRun]) -> None:
        if len(self._seen) > len(runs):
            active = {run.run_id for run in runs}
            self._seen = {k: v for k, v in self._seen.items() if k in active}


def _order(candidate: _Candidate) -> tuple[float, str, str]:
    """Best-ranked run first; ties by backend and run id, so plans are deterministic."""
    rank = candidate.rank
    return (rank if not math.isnan(rank) else math.inf, candidate.backend, candidate.run_id)
