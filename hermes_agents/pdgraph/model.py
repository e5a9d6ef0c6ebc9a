"""The Probabilistic Demand Graph of one application class.

A ``PDGraph`` is immutable: learning produces a new graph with a higher ``version``. Stages hold
demand distributions; ``next`` holds successor probabilities with the terminal ``"END"``; loops
are ordinary edges back to an earlier stage. ``next_by_visit`` optionally refines the successor
probabilities on a stage's k-th visit in a run (learned from loops whose length is not
geometric, such as a ReAct loop that runs 17 +- 6 iterations).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from hermes_agents.errors import ValidationError
from hermes_agents.pdgraph.distributions import Distribution, constant

if TYPE_CHECKING:
    import networkx as nx

END = "END"
"""Name of the terminal successor."""


class StageKind(enum.StrEnum):
    """What a stage calls: an LLM, a tool, or an embedding model."""

    LLM = "llm"
    TOOL = "tool"
    EMBEDDING = "embedding"


DEMAND_FIELDS = ("prompt_tokens", "output_tokens", "prefix_tokens", "seconds", "fanout")
"""Demand fields in workload order. ``prefix_tokens`` is the reusable (KV-cached) prompt part."""

REQUIRED_FIELDS: Mapping[StageKind, tuple[str, ...]] = MappingProxyType(
    {
        StageKind.LLM: ("prompt_tokens", "output_tokens"),
        StageKind.TOOL: ("seconds",),
        StageKind.EMBEDDING: ("seconds",),
    }
)
ALLOWED_FIELDS: Mapping[StageKind, frozenset[str]] = MappingProxyType(
    {
        StageKind.LLM: frozenset({"prompt_tokens", "output_tokens", "prefix_tokens", "fanout"}),
        StageKind.TOOL: frozenset({"seconds", "fanout"}),
        StageKind.EMBEDDING: frozenset({"seconds", "prompt_tokens", "fanout"}),
    }
)

ONE = constant(1, integer=True)


def _frozen_next(table: Mapping[str, float]) -> Mapping[str, float]:
    return MappingProxyType({str(k): float(v) for k, v in table.items()})


@dataclass(frozen=True, eq=False)
class Stage:
    """One stage (a LangGraph node, a step of an app) and its demand.

    Attributes:
        name: unique within the graph; never ``"END"``.
        kind: what the stage calls.
        backend: name of the backend its calls go to.
        next: successor name (or ``"END"``) -> probability; sums to 1.
        prompt_tokens / output_tokens / prefix_tokens: per call (LLM stages; embeddings may give
            prompt_tokens). ``prefix_tokens`` is the part of the prompt whose KV can be reused.
        seconds: per call, for tools and embeddings (measured wall time).
        fanout: parallel calls per visit (integer >= 1).
        next_by_visit: visit number k (1 = first visit in a run) -> successor probabilities
            after the k-th visit; visits not listed use ``next``.
    """

    name: str
    kind: StageKind
    backend: str
    next: Mapping[str, float] = field(default_factory=lambda: {END: 1.0})
    prompt_tokens: Distribution | None = None
    output_tokens: Distribution | None = None
    prefix_tokens: Distribution | None = None
    seconds: Distribution | None = None
    fanout: Distribution = ONE
    next_by_visit: Mapping[int, Mapping[str, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", StageKind(self.kind))
        object.__setattr__(self, "next", _frozen_next(self.next))
        by_visit = {int(k): _frozen_next(v) for k, v in sorted(self.next_by_visit.items())}
        object.__setattr__(self, "next_by_visit", MappingProxyType(by_visit))

    def demand(self, name: str) -> Distribution | None:
        """The distribution of demand field ``name`` (see ``DEMAND_FIELDS``), or None."""
        value: Distribution | None = getattr(self, name)
        return value

    def successors(self, visit: int | None = None) -> dict[str, float]:
        """Successor probabilities, after the ``visit``-th visit when given."""
        if visit is not None and visit in self.next_by_visit:
            return dict(self.next_by_visit[visit])
        return dict(self.next)


class PDGraph:
    """An immutable probabilistic demand graph of one application class.

    >>> from hermes_agents.pdgraph import PDGraph
    >>> graph = PDGraph.from_dict({"name": "qa", "entry": "answer", "stages": {
    ...     "answer": {"kind": "llm", "backend": "llm", "prompt_tokens": {"const": 300},
    ...                "output_tokens": {"normal": [80, 20]}, "next": {"END": 1.0}}}})
    >>> graph.successors("answer")
    {'END': 1.0}
    """

    __slots__ = ("_stages", "entry", "name", "version", "weight")

    def __init__(
        self,
        name: str,
        entry: str,
        stages: Mapping[str, Stage],
        *,
        weight: float = 1.0,
        version: int = 0,
    ) -> None:
        from hermes_agents.pdgraph.validation import validate_graph

        self.name = name
        self.entry = entry
        self.weight = float(weight)
        self.version = int(version)
        self._stages: Mapping[str, Stage] = MappingProxyType(dict(stages))
        validate_graph(self)

    @property
    def stages(self) -> Mapping[str, Stage]:
        """Stage name -> stage (read-only)."""
        return self._stages

    def successors(self, stage: str, visit: int | None = None) -> dict[str, float]:
        """Successor probabilities of ``stage`` (terminal named ``"END"``)."""
        try:
            return self._stages[stage].successors(visit)
        except KeyError:
            raise ValidationError(
                f"no such stage; known stages: {sorted(self._stages)}", f"stage {stage!r}"
            ) from None

    def with_version(self, version: int) -> PDGraph:
        """The same graph with another version number."""
        return PDGraph(self.name, self.entry, self._stages, weight=self.weight, version=version)

    def to_networkx(self) -> nx.DiGraph:
        """A ``networkx.DiGraph``: nodes carry ``kind``/``backend``, edges ``probability``."""
        import networkx as nx

        graph = nx.DiGraph(name=self.name)
        graph.add_node(END, kind="end", backend="")
        for stage in self._stages.values():
            graph.add_node(stage.name, kind=str(stage.kind), backend=stage.backend)
        for stage in self._stages.values():
            for target, probability in stage.next.items():
                graph.add_edge(stage.name, target, probability=probability)
        return graph

    def to_dict(self) -> dict[str, Any]:
        """The workload-format form of this app (``{"name", "weight", "entry", "stages"}``)."""
        from hermes_agents.pdgraph.jsonio import graph_to_dict

        return graph_to_dict(self)

    def to_json(self, *, indent: int | None = 2) -> str:
        """``to_dict()`` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, app: str | None = None, seed: int = 0
    ) -> PDGraph:
        """Parse one app, or pick ``app`` (or the only app) from a workload mapping.

        Parametric distributions are materialised with a generator seeded by ``seed``.
        """
        from hermes_agents.pdgraph.jsonio import graph_from_dict

        return graph_from_dict(data, app=app, seed=seed)

    @classmethod
    def from_json(cls, text: str | bytes, *, app: str | None = None, seed: int = 0) -> PDGraph:
        """Parse JSON text in the workload format (see ``from_dict``)."""
        from hermes_agents.pdgraph.jsonio import load_json_text

        return cls.from_dict(load_json_text(text), app=app, seed=seed)

    def __repr__(self) -> str:
        return (
            f"PDGraph(name={self.name!r}, entry={self.entry!r}, "
            f"stages={list(self._stages)}, version={self.version})"
        )
