"""Structural priors: a PDGraph from declared structure alone, before any run is observed.

The demand defaults are deliberately vague (wide spreads); the learner replaces each one as soon
as a stage has ``min_samples`` observations of that field (see ``Learner``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from hermes_agents.errors import ValidationError
from hermes_agents.pdgraph.distributions import derived_rng, parse_distribution
from hermes_agents.pdgraph.model import END, PDGraph, Stage, StageKind

DEFAULT_DEMAND: Mapping[StageKind, Mapping[str, Mapping[str, list[float]]]] = {
    StageKind.LLM: {
        "prompt_tokens": {"normal": [500, 250]},
        "output_tokens": {"normal": [150, 100]},
    },
    StageKind.TOOL: {"seconds": {"lognormal": [1.0, 1.0]}},
    StageKind.EMBEDDING: {"seconds": {"lognormal": [0.05, 0.03]}},
}
"""Demand a stage is assumed to have before it is observed, per kind (workload format)."""


def default_stage(
    name: str, kind: StageKind, backend: str, successors: Mapping[str, float], *, seed: int = 0
) -> Stage:
    """A stage with the default demand of its kind."""
    demands = {
        field: parse_distribution(
            spec,
            minimum=0,
            integer=field.endswith("_tokens"),
            rng=derived_rng(seed, "prior", name, field),
        )
        for field, spec in DEFAULT_DEMAND[kind].items()
    }
    return Stage(
        name=name,
        kind=kind,
        backend=backend,
        next=successors,
        prompt_tokens=demands.get("prompt_tokens"),
        output_tokens=demands.get("output_tokens"),
        seconds=demands.get("seconds"),
    )


def structural_prior(
    name: str,
    entry: str,
    successors: Mapping[str, Iterable[str]],
    *,
    kinds: Mapping[str, StageKind | str] | None = None,
    backends: Mapping[str, str] | None = None,
    seed: int = 0,
) -> PDGraph:
    """A PDGraph from structure: each stage's declared successors equally likely.

    ``successors`` maps every stage to the stages (or ``"END"``) it may go to; a stage with no
    declared successor goes to END. ``kinds`` defaults to ``llm`` and ``backends`` to
    ``"default"`` for stages not listed.

    >>> prior = structural_prior("rag", "retrieve", {"retrieve": ["answer"], "answer": []},
    ...                          kinds={"retrieve": "embedding"})
    >>> prior.successors("answer")
    {'END': 1.0}
    """
    kinds = kinds or {}
    backends = backends or {}
    stages = {}
    for stage_name, targets in successors.items():
        unique = list(dict.fromkeys(targets)) or [END]
        kind = kinds.get(stage_name, StageKind.LLM)
        if kind not in tuple(StageKind):
            raise ValidationError(f"unknown kind {kind!r}", f"stage {stage_name!r}", "'kind'")
        stages[stage_name] = default_stage(
            stage_name,
            StageKind(kind),
            backends.get(stage_name, "default"),
            {t: 1.0 / len(unique) for t in unique},
            seed=seed,
        )
    return PDGraph(name, entry, stages)
