"""Remaining demand: how many seconds of service an app still needs, as samples.

From a position (the stage an app is in and how often it has entered each stage so far), we
run ``walks`` Monte-Carlo walks over the PDGraph to END, all walks advanced together with numpy.
Each visit costs its stage's per-call cost (``hermes_agents.cost``: tokens to seconds per
backend, tools and embeddings in measured seconds) combined over a sampled fan-out width (sum
by default, max for the critical path). A walk stops after ``max_steps`` visits (default 1000):
what it accumulated is kept and the walk is counted in ``truncated_walks``; only graphs whose
loops almost never exit reach it.

The samples cover the *current visit and everything after it*. Work already done inside the
current visit is conditioned on by the Gittins rank (``rank(..., done_in_stage_s=...)``), so
one cached sample set serves every moment of a visit. Samples and their Gittins tables are
cached per position (LRU); a new graph version needs a new ``RemainingDemand``.

``first_passage(stage, visits)`` answers the prewarmer's question from the same walks: per
walk, the seconds from the start of the current visit until the walk first *enters* a later
visit of a stage on each backend (``inf`` if it never does). The current visit does not count
(the app is already on its backend), so a loop back to the current backend is a return. Time
runs along the app's critical path (a visit's parallel calls overlap: the longest one counts,
whatever ``cost.fanout`` says) and without queueing: a lower bound on wall time. Walks use the
same random streams as ``samples``; results are cached per position like samples.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hermes_agents.cost import CostModel
from hermes_agents.errors import ValidationError
from hermes_agents.gittins import GittinsTable
from hermes_agents.pdgraph.distributions import DEFAULT_SAMPLES, Distribution, derived_rng
from hermes_agents.pdgraph.model import END, PDGraph, Stage, StageKind

Position = tuple[int, tuple[int, ...]]
PASSAGE_CACHE_SIZE = 1024
"""Positions whose first-passage times are kept (each holds walks x backends floats)."""


@dataclass(frozen=True, eq=False)
class FirstPassage:
    """When walks from one position first reach each backend.

    Attributes:
        backends: the backends of the graph's stages, in first-seen stage order.
        times_s: shape (walks, backends): seconds from the start of the current visit until
            the walk first enters a later visit on that backend; ``inf`` if it never does.
        visit_s: per walk, seconds of the current visit itself (critical path).
        duration_s: per walk, seconds from the start of the current visit to END along the
            critical path (no queueing): the remaining *duration* deadlines are judged by.

    >>> from hermes_agents.pdgraph import PDGraph
    >>> graph = PDGraph.from_dict({"name": "ab", "entry": "a", "stages": {
    ...     "a": {"kind": "tool", "backend": "x", "seconds": {"const": 2.0}, "next": {"b": 1.0}},
    ...     "b": {"kind": "tool", "backend": "y", "seconds": {"const": 1.0}}}})
    >>> passage = RemainingDemand(graph, walks=10).first_passage("a")
    >>> passage.probability("y"), passage.probability("x"), float(passage.times("y").max())
    (1.0, 0.0, 2.0)
    """

    backends: tuple[str, ...]
    times_s: NDArray[np.float64]
    visit_s: NDArray[np.float64]
    duration_s: NDArray[np.float64]

    def times(self, backend: str) -> NDArray[np.float64]:
        """Per walk, seconds until ``backend`` is first entered (``inf``: never; unknown
        backends are never reached)."""
        if backend not in self.backends:
            return np.full(self.times_s.shape[0], np.inf)
        return self.times_s[:, self.backends.index(backend)]

    def probability(self, backend: str) -> float:
        """P(the app reaches ``backend`` after its current visit)."""
        return float(np.isfinite(self.times(backend)).mean())

    def arrives_after(self, backend: str, seconds: float) -> float:
        """P(first arrival at ``backend`` >= ``seconds`` | it arrives); 0 if it never does."""
        times = self.times(backend)
        reached = times[np.isfinite(times)]
        return float((reached >= seconds).mean()) if reached.size else 0.0


@dataclass(frozen=True)
class _StagePlan:
    """Everything a walk needs about one stage, precomputed once per graph."""

    call_seconds: NDArray[np.float64]
    fanout: NDArray[np.int64] | None  # None: always one call
    successors: NDArray[np.int64]  # stage indices, -1 = END
    cumulative: NDArray[np.float64]  # rows: 0 = overall, k = after the k-th visit
    has_row: NDArray[np.bool_]


class RemainingDemand:
    """Samples of remaining service time (seconds) for positions in one PDGraph version.

    >>> from hermes_agents.pdgraph import PDGraph
    >>> graph = PDGraph.from_dict({"name": "one", "entry": "a", "stages": {"a": {
    ...     "kind": "tool", "backend": "t", "seconds": {"const": 2.0}}}})
    >>> float(RemainingDemand(graph).samples("a").mean())
    2.0
    """

    def __init__(
        self,
        graph: PDGraph,
        cost: CostModel | None = None,
        *,
        walks: int = DEFAULT_SAMPLES,
        max_steps: int = 1000,
        seed: int = 0,
        cache_size: int = 4096,
    ) -> None:
        if walks < 1 or max_steps < 1 or cache_size < 1:
            raise ValidationError("walks, max_steps and cache_size must be >= 1")
        self.graph = graph
        self.cost = cost or CostModel()
        self.walks = walks
        self.max_steps = max_steps
        self.seed = seed
        self.cache_size = cache_size
        self.truncated_walks = 0
        self._names = list(graph.stages)
        self._index = {name: i for i, name in enumerate(self._names)}
        self._plans = [self._plan(graph.stages[name]) for name in self._names]
        self._tracked = [i for i, plan in enumerate(self._plans) if plan.has_row.size > 1]
        self._cache: OrderedDict[Position, tuple[NDArray[np.float64], GittinsTable | None]] = (
            OrderedDict()
        )
        self._backends = tuple(dict.fromkeys(graph.stages[name].backend for name in self._names))
        self._stage_backend = np.array(
            [self._backends.index(graph.stages[name].backend) for name in self._names]
        )
        self._passages: OrderedDict[Position, FirstPassage] = OrderedDict()

    def samples(self, stage: str, visits: Mapping[str, int] | None = None) -> NDArray[np.float64]:
        """Remaining seconds from the start of the current visit of ``stage`` to END.

        ``visits`` maps stage names to how many times the run has entered them so far,
        the current visit included (default: this is the first visit of ``stage``).
        """
        return self._entry(self._position(stage, visits or {}))[0]

    def table(self, stage: str, visits: Mapping[str, int] | None = None) -> GittinsTable:
        """The Gittins table of ``samples(stage, visits)`` (built once, cached)."""
        key = self._position(stage, visits or {})
        values, table = self._entry(key)
        if table is None:
            table = GittinsTable(values)
            self._cache[key] = (values, table)
        return table

    def first_passage(self, stage: str, visits: Mapping[str, int] | None = None) -> FirstPassage:
        """When walks from this position first reach each backend (see the module docstring).

        The same object is returned while the position stays cached, so callers may key their
        own derived statistics on it.
        """
        key = self._position(stage, visits or {})
        passage = self._passages.get(key)
        if passage is None:
            duration, tracked = self._walk(key, track=True)
            assert tracked is not None
            passage = self._passages[key] = FirstPassage(self._backends, *tracked, duration)
            if len(self._passages) > min(self.cache_size, PASSAGE_CACHE_SIZE):
                self._passages.popitem(last=False)
        else:
            self._passages.move_to_end(key)
        return passage

    def durations_s(
        self, stage: str, visits: Mapping[str, int] | None = None
    ) -> NDArray[np.float64]:
        """Per walk, seconds from the start of the current visit to END along the critical
        path (``first_passage(...).duration_s``): the remaining duration deadlines are judged
        by. A subclass may price it on another time axis (the simulator: wall seconds)."""
        return self.first_passage(stage, visits).duration_s

    def _entry(self, key: Position) -> tuple[NDArray[np.float64], GittinsTable | None]:
        entry = self._cache.get(key)
        if entry is None:
            entry = (self._walk(key)[0], None)
            self._remember(key, entry)
        else:
            self._cache.move_to_end(key)
        return entry

    def rank(
        self, stage: str, visits: Mapping[str, int] | None = None, done_in_stage_s: float = 0.0
    ) -> float:
        """Gittins rank at this position after ``done_in_stage_s`` of the current visit."""
        return self.table(stage, visits).rank(done_in_stage_s)

    def ranks(
        self, stage: str, visits: Mapping[str, int] | None, done_in_stage_s: ArrayLike
    ) -> NDArray[np.float64]:
        """Gittins ranks of many apps at one position, one per ``done_in_stage_s`` value."""
        return self.table(stage, visits).ranks(done_in_stage_s)

    def mean(self, stage: str, visits: Mapping[str, int] | None = None) -> float:
        """Expected remaining seconds from the start of the current visit."""
        return float(self.samples(stage, visits).mean())

    def _position(self, stage: str, visits: Mapping[str, int]) -> Position:
        start = self._index.get(stage)
        if start is None:
            raise ValidationError(
                f"not a stage of {self.graph.name!r}; known: {self._names}", f"stage {stage!r}"
            )
        counts = []
        for i in self._tracked:
            depth = self._plans[i].has_row.size - 1
            seen = max(visits.get(self._names[i], 0), 1 if i == start else 0)
            counts.append(min(seen, depth + 1))
        return start, tuple(counts)

    def _remember(
        self, key: Position, entry: tuple[NDArray[np.float64], GittinsTable | None]
    ) -> None:
        self._cache[key] = entry
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def _walk(
        self, key: Position, *, track: bool = False
    ) -> tuple[NDArray[np.float64], tuple[NDArray[np.float64], NDArray[np.float64]] | None]:
        """Remaining seconds per walk; with ``track``, critical-path first-passage times and
        current-visit seconds too.

        Both modes draw the same random numbers, so tracking never changes ``samples``.
        """
        start, counts = key
        rng = derived_rng(self.seed, self.graph.name, str(self.graph.version), repr(key))
        current = np.full(self.walks, start, dtype=np.int64)
        total = np.zeros(self.walks)
        visits = np.zeros((self.walks, len(self._names)), dtype=np.int64)
        for i, count in zip(self._tracked, counts, strict=True):
            visits[:, i] = count
        first = np.full((self.walks, len(self._backends)), np.inf) if track else None
        active = np.arange(self.walks)
        visit_s = total
        for step in range(self.max_steps):
            here = current[active]
            for stage in np.unique(here):
                group = active[here == stage]
                total[group] += self._visit_seconds(int(stage), group.size, rng, path=track)
                following = self._choose(int(stage), visits[group, stage], rng)
                current[group] = following
                entering = following >= 0
                visits[group[entering], following[entering]] += 1
                if first is not None:
                    self._mark_arrivals(first, total, group[entering], following[entering])
            if step == 0:
                visit_s = total.copy()
            active = active[current[active] >= 0]
            if active.size == 0:
                break
        total.flags.writeable = False
        if first is None:
            self.truncated_walks += int(active.size)
            return total, None
        first.flags.writeable = visit_s.flags.writeable = False
        return total, (first, visit_s)

    def _mark_arrivals(
        self,
        first: NDArray[np.float64],
        total: NDArray[np.float64],
        walks: NDArray[np.int64],
        stages: NDArray[np.int64],
    ) -> None:
        """Record ``total`` as the arrival time of walks entering a backend for the first time."""
        columns = self._stage_backend[stages]
        seen = first[walks, columns]
        first[walks, columns] = np.where(np.isinf(seen), total[walks], seen)

    def _visit_seconds(
        self, stage: int, count: int, rng: np.random.Generator, *, path: bool = False
    ) -> NDArray[np.float64]:
        """Seconds of ``count`` visits; parallel calls summed or maxed (``path``: always max)."""
        plan = self._plans[stage]
        calls = plan.call_seconds
        if plan.fanout is None:
            return calls[rng.integers(calls.size, size=count)]
        widths = plan.fanout[rng.integers(plan.fanout.size, size=count)]
        costs = calls[rng.integers(calls.size, size=int(widths.sum()))]
        starts = np.concatenate(([0], np.cumsum(widths)[:-1]))
        combine = np.maximum if path or self.cost.fanout == "max" else np.add
        return combine.reduceat(costs, starts)

    def _choose(
        self, stage: int, finished_visit: NDArray[np.int64], rng: np.random.Generator
    ) -> NDArray[np.int64]:
        plan = self._plans[stage]
        draws = rng.random(finished_visit.size)
        if plan.has_row.size == 1:
            column = np.searchsorted(plan.cumulative[0], draws, side="right")
        else:
            rows = np.minimum(finished_visit, plan.has_row.size - 1)
            rows = np.where(plan.has_row[rows], rows, 0)
            column = (draws[:, None] >= plan.cumulative[rows]).sum(axis=1)
        return plan.successors[np.minimum(column, plan.successors.size - 1)]

    def _plan(self, stage: Stage) -> _StagePlan:
        targets = list(
            dict.fromkeys([*stage.next, *(t for v in stage.next_by_visit.values() for t in v)])
        )
        depth = max(stage.next_by_visit, default=0)
        rows = np.zeros((depth + 1, len(targets)))
        has_row = np.zeros(depth + 1, dtype=bool)
        has_row[0] = True
        for row, table in [(0, stage.next), *stage.next_by_visit.items()]:
            rows[row] = [table.get(t, 0.0) for t in targets]
            has_row[row] = True
        cumulative = np.cumsum(rows, axis=1)
        cumulative[:, -1] = 1.0  # guard against rounding leaving a gap below 1
        fanout = stage.fanout.samples.astype(np.int64)
        return _StagePlan(
            call_seconds=self._call_seconds(stage),
            fanout=None if bool((fanout == 1).all()) else fanout,
            successors=np.array([-1 if t == END else self._index[t] for t in targets]),
            cumulative=cumulative,
            has_row=has_row,
        )

    def _call_seconds(self, stage: Stage) -> NDArray[np.float64]:
        if stage.kind != StageKind.LLM:
            assert stage.seconds is not None
            return self.cost.tool_seconds(stage.seconds.samples)
        parts = [stage.prompt_tokens, stage.output_tokens, stage.prefix_tokens]
        prompt, output, prefix = _aligned(
            [p for p in parts if p is not None], self.seed, self.graph.name, stage.name
        ) + ([] if stage.prefix_tokens is not None else [np.zeros(1)])
        return self.cost.llm_seconds(stage.backend, prompt, output, prefix).reshape(-1)


def _aligned(parts: list[Distribution], seed: int, *names: str) -> list[NDArray[np.float64]]:
    """Sample arrays of one length; same-length windows keep their pairing (joint samples)."""
    sizes = {part.samples.size for part in parts}
    if len(sizes) == 1:
        return [part.samples for part in parts]
    size = max(max(sizes), DEFAULT_SAMPLES)
    rng = derived_rng(seed, *names, "align")
    return [part.samples[rng.integers(part.samples.size, size=size)] for part in parts]
