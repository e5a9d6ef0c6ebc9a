"""One observed run (its ``Visit`` records) as compact, strictly validated JSON.

A run is ``[{"stage", "kind", "backend", "calls": [[prompt_tokens, output_tokens,
prefix_tokens, seconds], ...]}, ...]``: the visits in order, each with its parallel calls.
"""

from __future__ import annotations

import hashlib
import json
import numbers
from collections.abc import Sequence

from hermes_agents.errors import ValidationError
from hermes_agents.pdgraph.jsonio import reject_unknown
from hermes_agents.pdgraph.learner import CALL_FIELDS, Call, Visit
from hermes_agents.pdgraph.model import PDGraph, StageKind

__all__ = ["decode_run", "encode_run"]

_VISIT_KEYS = ("stage", "kind", "backend", "calls")


def structure_id(graph: PDGraph) -> str:
    """A short name for the version of an app's graph: its entry, stages and their possible
    successors (not the probabilities or demands, which learning changes). Stored runs carry it;
    runs of another version of the app are not replayed onto it."""
    shape = {
        "entry": graph.entry,
        "stages": {name: sorted(stage.next) for name, stage in sorted(graph.stages.items())},
    }
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()[:16]


def encode_run(visits: Sequence[Visit]) -> str:
    """The run's visits as compact JSON (the inverse of ``decode_run``).

    >>> encode_run([Visit("answer", calls=(Call(300, 80),))])
    '[{"stage":"answer","kind":"llm","backend":"default","calls":[[300,80,0,0.0]]}]'
    """
    if not visits:
        raise ValidationError("a run needs at least one visit", "argument 'visits'")
    items = []
    for visit in visits:
        if not isinstance(visit, Visit):
            raise ValidationError(f"expected Visit objects, got {type(visit).__name__}")
        calls = [[_number(getattr(call, name)) for name in CALL_FIELDS] for call in visit.calls]
        values = (visit.stage, str(visit.kind), visit.backend, calls)
        items.append(dict(zip(_VISIT_KEYS, values, strict=True)))
    return json.dumps(items, separators=(",", ":"), allow_nan=False)


def decode_run(text: str | bytes) -> tuple[Visit, ...]:
    """Parse ``encode_run``'s JSON back into visits; a ``ValidationError`` names what is wrong."""
    try:
        data = json.loads(text)
    except (TypeError, ValueError) as error:
        raise ValidationError(f"not valid JSON ({error})") from error
    if not isinstance(data, list) or not data:
        raise ValidationError("a run must be a non-empty JSON array of visits")
    return tuple(_decode_visit(item, f"visit {index}") for index, item in enumerate(data))


def _decode_visit(item: object, where: str) -> Visit:
    if not isinstance(item, dict):
        raise ValidationError("a visit must be a JSON object", where)
    reject_unknown(item, frozenset(_VISIT_KEYS), where)
    stage, kind, backend, calls = (item.get(key) for key in _VISIT_KEYS)
    if not isinstance(stage, str) or not isinstance(backend, str):
        raise ValidationError("'stage' and 'backend' must be strings", where)
    if kind not in tuple(StageKind):
        raise ValidationError(f"unknown kind {kind!r}", where, "'kind'")
    if not isinstance(calls, list):
        raise ValidationError("must be a list of calls", where, "'calls'")
    for call in calls:
        shaped = isinstance(call, list) and len(call) == len(CALL_FIELDS)
        if not shaped or any(isinstance(v, bool) or not isinstance(v, int | float) for v in call):
            raise ValidationError(f"a call is [{', '.join(CALL_FIELDS)}], got {call!r}", where)
    try:
        return Visit(stage, StageKind(kind), backend, tuple(Call(*call) for call in calls))
    except ValidationError as error:
        raise error.within(where) from None


def _number(value: float) -> int | float:
    """A JSON-ready number (numpy scalars included); integers stay integers."""
    return int(value) if isinstance(value, numbers.Integral) else float(value)
