"""PDGraph <-> the workload JSON format of DESIGN.md (one app's part of it).

An app is ``{"name"?, "weight"?, "entry", "stages": {STAGE: {...}}}``; a stage is
``{"kind", "backend", "prompt_tokens"?, "output_tokens"?, "prefix_tokens"?, "seconds"?,
"fanout"?, "next"?, "next_by_visit"?}``. Missing ``fanout`` means 1, missing ``next`` means
``{"END": 1.0}``. ``next_by_visit`` maps a visit number ("1" = first visit in a run) to
successor probabilities used after that visit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from hermes_agents.errors import ValidationError
from hermes_agents.pdgraph.distributions import (
    DEFAULT_SAMPLES,
    Distribution,
    derived_rng,
    parse_distribution,
)
from hermes_agents.pdgraph.model import DEMAND_FIELDS, END, ONE, PDGraph, Stage, StageKind

APP_KEYS = frozenset({"name", "weight", "entry", "stages"})
STAGE_KEYS = frozenset({"kind", "backend", "next", "next_by_visit", *DEMAND_FIELDS})
INTEGER_FIELDS = frozenset({"prompt_tokens", "output_tokens", "prefix_tokens", "fanout"})


def load_json_text(text: str | bytes) -> Mapping[str, Any]:
    """Decode JSON text into a mapping, with a clear error for anything else."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValidationError(
            f"not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})"
        ) from error
    if not isinstance(data, Mapping):
        raise ValidationError(f"expected a JSON object at the top, got {type(data).__name__}")
    return data


def graph_from_dict(data: Mapping[str, Any], *, app: str | None, seed: int) -> PDGraph:
    """Parse one app, or select ``app`` (or the only app) from a workload's ``"apps"``."""
    if "apps" in data:
        apps = data["apps"]
        if not isinstance(apps, Mapping) or not apps:
            raise ValidationError("must map app names to apps", "field 'apps'")
        if app is None:
            if len(apps) != 1:
                raise ValidationError(
                    f"the workload has {len(apps)} apps; pass app= one of {sorted(apps)}",
                    "field 'apps'",
                )
            app = next(iter(apps))
        if app not in apps:
            raise ValidationError(f"no such app; use one of {sorted(apps)}", f"app {app!r}")
        return app_from_dict(app, apps[app], seed=seed)
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise ValidationError('an app file needs a non-empty "name"', "field 'name'")
    return app_from_dict(name, data, seed=seed)


def app_from_dict(name: str, data: object, *, seed: int) -> PDGraph:
    """Parse the app called ``name`` from its mapping."""
    where = f"app {name!r}"
    if not isinstance(data, Mapping):
        raise ValidationError("an app must be a JSON object", where)
    reject_unknown(data, APP_KEYS, where)
    stages = data.get("stages")
    if not isinstance(stages, Mapping) or not stages:
        raise ValidationError("needs a non-empty object of stages", where, "field 'stages'")
    entry = data.get("entry")
    if not isinstance(entry, str):
        raise ValidationError("needs the name of the first stage", where, "field 'entry'")
    weight = data.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, int | float):
        raise ValidationError(f"must be a number, got {weight!r}", where, "field 'weight'")
    parsed = {
        str(key): _stage_from_dict(name, str(key), value, seed) for key, value in stages.items()
    }
    return PDGraph(name, entry, parsed, weight=float(weight))


def _stage_from_dict(app: str, name: str, data: object, seed: int) -> Stage:
    where = (f"app {app!r}", f"stage {name!r}")
    if not isinstance(data, Mapping):
        raise ValidationError("a stage must be a JSON object", *where)
    reject_unknown(data, STAGE_KEYS, *where)
    kind = data.get("kind")
    if kind not in tuple(StageKind):
        raise ValidationError(
            f"unknown kind {kind!r}; use one of {[str(k) for k in StageKind]}", *where, "'kind'"
        )
    backend = data.get("backend")
    if not isinstance(backend, str) or not backend:
        raise ValidationError("needs a backend name (a string)", *where, "field 'backend'")
    demands: dict[str, Distribution] = {}
    for field_name in DEMAND_FIELDS:
        if field_name in data:
            demands[field_name] = parse_distribution(
                data[field_name],
                minimum=1 if field_name == "fanout" else 0,
                integer=field_name in INTEGER_FIELDS,
                rng=derived_rng(seed, app, name, field_name),
                size=DEFAULT_SAMPLES,
                location=(*where, f"field {field_name!r}"),
            )
    next_table = _successor_table(data.get("next", {END: 1.0}), (*where, "field 'next'"))
    by_visit = _by_visit(data.get("next_by_visit", {}), where)
    return Stage(
        name=name,
        kind=StageKind(kind),
        backend=backend,
        next=next_table,
        next_by_visit=by_visit,
        fanout=demands.pop("fanout", ONE),
        **demands,
    )


def _successor_table(value: object, where: tuple[str, ...]) -> dict[str, float]:
    if not isinstance(value, Mapping):
        raise ValidationError('expected {"STAGE_OR_END": probability, ...}', *where)
    table: dict[str, float] = {}
    for target, probability in value.items():
        if isinstance(probability, bool) or not isinstance(probability, int | float):
            raise ValidationError(f"probability of {target!r} must be a number", *where)
        table[str(target)] = float(probability)
    return table


def _by_visit(value: object, where: tuple[str, ...]) -> dict[int, dict[str, float]]:
    field_where = (*where, "field 'next_by_visit'")
    if not isinstance(value, Mapping):
        raise ValidationError('expected {"VISIT_NUMBER": {"STAGE_OR_END": p}}', *field_where)
    tables: dict[int, dict[str, float]] = {}
    for key, table in value.items():
        if not str(key).isdigit() or int(key) < 1:
            raise ValidationError(f"visit numbers are integers >= 1, got {key!r}", *field_where)
        tables[int(key)] = _successor_table(table, (*field_where, f"visit {key}"))
    return tables


def graph_to_dict(graph: PDGraph) -> dict[str, Any]:
    """The app in workload form; parsing it back gives the same graph (same samples)."""
    return {
        "name": graph.name,
        "weight": graph.weight,
        "entry": graph.entry,
        "stages": {name: stage_to_dict(stage) for name, stage in graph.stages.items()},
    }


def stage_to_dict(stage: Stage) -> dict[str, Any]:
    """One stage in workload form."""
    out: dict[str, Any] = {"kind": str(stage.kind), "backend": stage.backend}
    for field_name in DEMAND_FIELDS:
        distribution = stage.demand(field_name)
        if distribution is not None and distribution is not ONE:
            out[field_name] = distribution.to_spec()
    out["next"] = dict(stage.next)
    if stage.next_by_visit:
        out["next_by_visit"] = {str(k): dict(v) for k, v in stage.next_by_visit.items()}
    return out


def reject_unknown(data: Mapping[str, Any], allowed: frozenset[str], *where: str) -> None:
    """Raise naming every key of ``data`` outside ``allowed``, and list the allowed ones."""
    unknown = sorted(str(key) for key in data if key not in allowed)
    if unknown:
        raise ValidationError(f"unknown field(s) {unknown}; allowed: {sorted(allowed)}", *where)
