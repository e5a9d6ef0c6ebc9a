"""Learn a PDGraph from observed runs.

A run is the sequence of stage visits it made, each with the calls it issued (parallel calls
of one visit are its fan-out). For every stage the learner keeps sliding windows of the
``window`` most recent values (per call: prompt, output and prefix tokens, seconds; per visit:
fan-out width; per transition: the successor taken and the visit number it left from).

How observations override a prior (a structural prior, or a graph loaded from a file):

- Successor probabilities blend observed counts with the prior as pseudo-counts:
  ``p(s) = (n_s + w * prior(s)) / (n + w)`` with ``w = prior_weight`` (default 2), so a
  declared-but-never-taken branch fades as runs accumulate and never-declared branches appear.
- A demand distribution is the prior's until the stage has ``min_samples`` observations of that
  field (default 5), then only the observed window.
- Stages revisited in a run (loops) get ``next_by_visit`` tables for every visit number with at
  least ``min_visit_transitions`` observations (default 20), blended with the stage's overall
  probabilities by the same pseudo-count rule; they make loop lengths that are not geometric
  (a ReAct loop of 17 +- 6 turns) predictable from the turns done so far.
- The entry is the most frequent first stage observed (the prior's entry until then).
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from hermes_agents.bounds import MAX_CALL_S, MAX_TOKENS
from hermes_agents.errors import ValidationError
from hermes_agents.pdgraph.distributions import DEFAULT_SAMPLES, Distribution, from_samples
from hermes_agents.pdgraph.model import ALLOWED_FIELDS, END, ONE, PDGraph, Stage, StageKind
from hermes_agents.pdgraph.prior import default_stage
from hermes_agents.pdgraph.window import RingBuffer

logger = logging.getLogger(__name__)

CALL_FIELDS = ("prompt_tokens", "output_tokens", "prefix_tokens", "seconds")
MAX_VISIT_TABLES = 64
"""Visit numbers beyond this share the stage's overall successor probabilities."""


@dataclass(frozen=True)
class Call:
    """One measured call of a stage visit (tokens up to ``bounds.MAX_TOKENS``, seconds up to
    ``bounds.MAX_CALL_S``: the learner refuses anything else)."""

    prompt_tokens: int = 0
    output_tokens: int = 0
    prefix_tokens: int = 0
    seconds: float = 0.0

    def __post_init__(self) -> None:
        prompt, output, prefix, seconds = (
            self.prompt_tokens,
            self.output_tokens,
            self.prefix_tokens,
            self.seconds,
        )
        if (  # the common case, checked in one expression (this runs for every call)
            prompt.__class__ is int
            and output.__class__ is int
            and prefix.__class__ is int
            and seconds.__class__ is float
            and 0 <= prompt <= MAX_TOKENS
            and 0 <= output <= MAX_TOKENS
            and 0 <= prefix <= MAX_TOKENS
            and 0.0 <= seconds <= MAX_CALL_S
        ):
            return
        for name in CALL_FIELDS:
            value = getattr(self, name)
            limit = MAX_CALL_S if name == "seconds" else MAX_TOKENS
            if isinstance(value, bool) or not math.isfinite(value) or not 0 <= value <= limit:
                raise ValidationError(
                    f"must be finite, from 0 to {limit:g}, got {value!r}", f"'{name}'"
                )


@dataclass(frozen=True)
class Visit:
    """One visit of a stage in a run: the calls it issued in parallel (may be none)."""

    stage: str
    kind: StageKind = StageKind.LLM
    backend: str = "default"
    calls: tuple[Call, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.stage or self.stage == END:
            raise ValidationError(f"stage names must be non-empty and not {END!r}", "'stage'")
        object.__setattr__(self, "kind", StageKind(self.kind))
        object.__setattr__(self, "calls", tuple(self.calls))


def has_demand(visit: Visit) -> bool:
    """Whether any call of ``visit`` used anything (a visit that called nothing did not)."""
    return any(
        call.prompt_tokens or call.output_tokens or call.prefix_tokens or call.seconds
        for call in visit.calls
    )


class _StageWindow:
    """Sliding windows of one stage's observations."""

    def __init__(self, kind: StageKind, backend: str, capacity: int) -> None:
        self.capacity = capacity
        self.kind = kind
        self.backend = backend
        self.demanding = False
        """Whether any visit so far had demand (until then the kind may still change)."""
        self.calls = self._call_buffers(kind)
        self.fanout = RingBuffer(capacity)
        self.successor = RingBuffer(capacity, np.int32)
        self.visit = RingBuffer(capacity, np.int32)

    def _call_buffers(self, kind: StageKind) -> dict[str, RingBuffer]:
        # Only the fields this kind uses: an LLM stage's wall seconds are not its demand.
        used = ALLOWED_FIELDS[kind]
        return {name: RingBuffer(self.capacity) for name in CALL_FIELDS if name in used}

    def become(self, kind: StageKind, backend: str) -> None:
        """Take the kind of the first visit with demand (the visits before had none)."""
        self.kind, self.backend = kind, backend
        self.calls = self._call_buffers(kind)

    def record(self, visit: Visit, number: int, successor: int) -> None:
        demanding = has_demand(visit)
        if demanding or not self.demanding:  # a visit that did nothing names no backend
            self.backend = visit.backend
        self.demanding = self.demanding or demanding
        if visit.calls:
            self.fanout.append(len(visit.calls))
            for call in visit.calls:
                for name, buffer in self.calls.items():
                    buffer.append(getattr(call, name))
        self.successor.append(successor)
        self.visit.append(number)

    @property
    def nbytes(self) -> int:
        buffers = [*self.calls.values(), self.fanout, self.successor, self.visit]
        return sum(buffer.nbytes for buffer in buffers)


class Learner:
    """Builds PDGraphs of one app class from observed runs (not thread-safe; one owner).

    >>> learner = Learner("qa")
    >>> learner.observe([Visit("answer", calls=(Call(300, 80),))])
    True
    >>> learner.graph().successors("answer")
    {'END': 1.0}
    """

    def __init__(
        self,
        name: str,
        prior: PDGraph | None = None,
        *,
        window: int = DEFAULT_SAMPLES,
        prior_weight: float = 2.0,
        min_samples: int = 5,
        min_visit_transitions: int = 20,
    ) -> None:
        if window < 1 or min_samples < 1 or min_visit_transitions < 1 or prior_weight < 0:
            raise ValidationError(
                "window, min_samples and min_visit_transitions must be >= 1, prior_weight >= 0"
            )
        self.name = name
        self.prior = prior
        self.window = window
        self.prior_weight = prior_weight
        self.min_samples = min_samples
        self.min_visit_transitions = min_visit_transitions
        self.runs_observed = 0
        self.runs_rejected = 0
        """Runs not learned: a stage did calls of another kind than before (warned once)."""
        self._warned = False
        self._stages: dict[str, _StageWindow] = {}
        self._index: dict[str, int] = {}
        self._entries: Counter[str] = Counter()
        self._graph: PDGraph | None = prior

    def observe(self, run: Sequence[Visit]) -> bool:
        """Record one finished run (its visits in order); True if it was learned.

        A visit that did nothing (no call with any demand) fits any stage. A run in which a
        stage does calls of another kind than it did before (an LLM stage now calling a tool
        backend) is not learned: it is counted in ``runs_rejected`` and warned about once.
        """
        if not run:
            raise ValidationError("a run needs at least one visit", "argument 'run'")
        problem = self._conflict(run)
        if problem is not None:
            self.runs_rejected += 1
            if not self._warned:
                self._warned = True
                logger.warning(
                    "a run of %r was not learned (%s); further runs like it are counted in "
                    "runs_rejected without warning",
                    self.name,
                    problem,
                )
            return False
        numbers: Counter[str] = Counter()
        for position, visit in enumerate(run):
            numbers[visit.stage] += 1
            following = run[position + 1].stage if position + 1 < len(run) else END
            self._window_for(visit).record(visit, numbers[visit.stage], self._id(following))
        self._entries[run[0].stage] += 1
        self.runs_observed += 1
        self._graph = None
        return True

    def _conflict(self, run: Sequence[Visit]) -> str | None:
        """Why ``run`` cannot be learned (a stage changing its kind), or None."""
        kinds = {name: (w.kind, w.demanding) for name, w in self._stages.items()}
        for visit in run:
            known = kinds.get(visit.stage)
            demanding = has_demand(visit)
            if known is None or (known[0] == visit.kind) or not known[1]:
                kind = visit.kind if known is None or demanding else known[0]
                kinds[visit.stage] = (kind, demanding or (known is not None and known[1]))
            elif demanding:
                return (
                    f"stage {visit.stage!r} was observed as {known[0]} before, now "
                    f"{visit.kind}; a stage keeps its kind"
                )
        return None

    def graph(self) -> PDGraph:
        """The current graph (rebuilt only after new observations)."""
        if self._graph is None:
            try:
                self._graph = self._build()
            except ValidationError:
                if self.prior is None:
                    raise
                # Windows can, rarely, forget every exit of a loop; keep serving a usable graph.
                logger.warning(
                    "learned graph of %r is invalid; using its prior", self.name, exc_info=True
                )
                return self.prior
        return self._graph

    @property
    def nbytes(self) -> int:
        """Bytes held by the observation windows."""
        return sum(window.nbytes for window in self._stages.values())

    def _window_for(self, visit: Visit) -> _StageWindow:
        window = self._stages.get(visit.stage)
        if window is None:
            window = _StageWindow(visit.kind, visit.backend, self.window)
            self._stages[visit.stage] = window
            self._id(visit.stage)
        elif window.kind != visit.kind and has_demand(visit):
            window.become(visit.kind, visit.backend)  # checked by _conflict: it had none yet
        return window

    def _id(self, stage: str) -> int:
        if stage == END:
            return -1
        return self._index.setdefault(stage, len(self._index))

    def _build(self) -> PDGraph:
        prior_stages = self.prior.stages if self.prior is not None else {}
        names = list(dict.fromkeys([*prior_stages, *self._stages]))
        stages = {name: self._stage(name, prior_stages.get(name)) for name in names}
        entry = self._entries.most_common(1)[0][0] if self._entries else self._prior_entry()
        version = (self.prior.version if self.prior is not None else 0) + self.runs_observed
        weight = self.prior.weight if self.prior is not None else 1.0
        return PDGraph(self.name, entry, stages, weight=weight, version=version)

    def _stage(self, name: str, prior: Stage | None) -> Stage:
        window = self._stages.get(name)
        if window is None:
            assert prior is not None
            return prior
        if prior is not None and prior.kind == window.kind:
            base = prior
        else:  # no prior, or one that guessed another kind: that kind's defaults until learned
            successors = prior.next if prior is not None else {END: 1.0}
            base = default_stage(name, window.kind, window.backend, successors)
        demands = {f: self._demand(window, base, f) for f in sorted(ALLOWED_FIELDS[window.kind])}
        overall = self._successors(window, prior.next if prior is not None else None)
        return Stage(
            name=name,
            kind=window.kind,
            backend=window.backend,
            next=overall,
            next_by_visit=self._by_visit(window, overall),
            **{k: v for k, v in demands.items() if k != "fanout"},
            fanout=demands["fanout"] or ONE,
        )

    def _demand(self, window: _StageWindow, base: Stage, name: str) -> Distribution | None:
        buffer = window.fanout if name == "fanout" else window.calls.get(name)
        if buffer is None:
            return base.demand(name)
        if buffer.count < self.min_samples:
            return base.demand(name)
        values = buffer.values()
        if name == "fanout" and bool((values == 1).all()):
            return None  # the default: one call per visit
        optional = name == "prefix_tokens" or (
            window.kind == StageKind.EMBEDDING and name == "prompt_tokens"
        )
        if optional and base.demand(name) is None and not values.any():
            return None
        return from_samples(values, integer=name != "seconds")

    def _successors(
        self,
        window: _StageWindow,
        prior: Mapping[str, float] | None,
        mask: NDArray[np.bool_] | None = None,
    ) -> dict[str, float]:
        names = {index: name for name, index in self._index.items()} | {-1: END}
        taken = window.successor.values()
        counts = Counter(names[int(i)] for i in (taken if mask is None else taken[mask]))
        weight = self.prior_weight if prior else 0.0
        prior = prior or {}
        total = sum(counts.values()) + weight
        targets = set(counts) | {t for t, p in prior.items() if p > 0}
        return {t: (counts[t] + weight * prior.get(t, 0.0)) / total for t in targets}

    def _by_visit(
        self, window: _StageWindow, overall: Mapping[str, float]
    ) -> dict[int, dict[str, float]]:
        numbers = window.visit.values()
        if numbers.size == 0 or numbers.max() < 2:
            return {}
        tables = {}
        for number in range(1, min(int(numbers.max()), MAX_VISIT_TABLES) + 1):
            mask = numbers == number
            if int(mask.sum()) >= self.min_visit_transitions:
                tables[number] = self._successors(window, overall, mask)
        return tables

    def _prior_entry(self) -> str:
        if self.prior is None:
            raise ValidationError("no run observed and no prior: nothing to build a graph from")
        return self.prior.entry
