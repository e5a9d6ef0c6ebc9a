"""Checks every PDGraph passes when it is built; each error names the app, stage and field."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

import networkx as nx

from hermes_agents.errors import ValidationError
from hermes_agents.pdgraph.model import ALLOWED_FIELDS, DEMAND_FIELDS, END, REQUIRED_FIELDS, Stage

if TYPE_CHECKING:
    from hermes_agents.pdgraph.model import PDGraph

PROBABILITY_TOLERANCE = 1e-6


def validate_graph(graph: PDGraph) -> None:
    """Raise ``ValidationError`` unless ``graph`` is a well-formed PDGraph."""
    app = f"app {graph.name!r}"
    if not isinstance(graph.name, str) or not graph.name:
        raise ValidationError("an app needs a non-empty name", "field 'name'")
    if not math.isfinite(graph.weight) or graph.weight <= 0:
        raise ValidationError(f"must be a finite number > 0, got {graph.weight}", app, "'weight'")
    if not graph.stages:
        raise ValidationError("an app needs at least one stage", app, "field 'stages'")
    if graph.entry not in graph.stages:
        raise ValidationError(
            f"entry {graph.entry!r} is not a stage; use one of {sorted(graph.stages)}",
            app,
            "field 'entry'",
        )
    for name, stage in graph.stages.items():
        try:
            _validate_stage(name, stage, graph.stages)
        except ValidationError as error:
            raise error.within(app, f"stage {name!r}") from None
    _validate_termination(graph, app)


def validate_successors(table: Mapping[str, float], stages: Mapping[str, object]) -> None:
    """Successors must be known stages or END with probabilities in [0, 1] summing to 1."""
    if not table:
        raise ValidationError('needs at least one successor, e.g. {"END": 1.0}')
    for target, probability in table.items():
        if target != END and target not in stages:
            raise ValidationError(
                f"successor {target!r} is not a stage; use one of {sorted(stages)} or 'END'"
            )
        if not math.isfinite(probability) or not 0.0 <= probability <= 1.0:
            raise ValidationError(f"probability of {target!r} must be in [0, 1], got {probability}")
    total = math.fsum(table.values())
    if abs(total - 1.0) > PROBABILITY_TOLERANCE:
        raise ValidationError(f"probabilities sum to {total:.9g}; make them sum to 1")


def _validate_stage(name: str, stage: Stage, stages: Mapping[str, Stage]) -> None:
    if not name or name == END or name != stage.name:
        raise ValidationError(f"stage names must be non-empty, not {END!r}, and match the key")
    if not isinstance(stage.backend, str) or not stage.backend:
        raise ValidationError("needs a backend name", "field 'backend'")
    for field_name in DEMAND_FIELDS:
        present = stage.demand(field_name) is not None
        if field_name in REQUIRED_FIELDS[stage.kind] and not present:
            raise ValidationError(
                f"a {stage.kind} stage needs {field_name!r}", f"field {field_name!r}"
            )
        if present and field_name != "fanout" and field_name not in ALLOWED_FIELDS[stage.kind]:
            raise ValidationError(
                f"not used by a {stage.kind} stage; allowed: {sorted(ALLOWED_FIELDS[stage.kind])}",
                f"field {field_name!r}",
            )
    if stage.fanout.samples.min() < 1:
        raise ValidationError("fan-out must be >= 1", "field 'fanout'")
    try:
        validate_successors(stage.next, stages)
        for visit, table in stage.next_by_visit.items():
            if visit < 1:
                raise ValidationError(f"visit numbers start at 1, got {visit}")
            validate_successors(table, stages)
    except ValidationError as error:
        field_name = "'next'" if not stage.next_by_visit else "'next' or 'next_by_visit'"
        raise error.within(f"field {field_name}") from None


def _validate_termination(graph: PDGraph, app: str) -> None:
    edges = nx.DiGraph()
    edges.add_nodes_from([*graph.stages, END])
    for stage in graph.stages.values():
        for table in (stage.next, *stage.next_by_visit.values()):
            edges.add_edges_from((stage.name, t) for t, p in table.items() if p > 0)
    reachable = nx.descendants(edges, graph.entry) | {graph.entry}
    can_end = nx.ancestors(edges, END)
    for name in graph.stages:
        if name in reachable and name not in can_end:
            raise ValidationError(
                "is reachable from the entry but can never reach END (a loop with no exit); "
                "give it or a stage it leads to an END successor with probability > 0",
                app,
                f"stage {name!r}",
                "field 'next'",
            )
