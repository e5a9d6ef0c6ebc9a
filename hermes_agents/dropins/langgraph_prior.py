"""A structural prior PDGraph from a compiled LangGraph ``StateGraph``'s builder.

Stages are the graph's nodes; successors come from its edges, joins (waiting edges),
conditional branches (their path map, when one was given or inferred from a ``Literal`` return
annotation) and ``Command`` destinations (``ends``). A branch without a path map adds no
edge: where it goes is learned from runs. Demands are the vague defaults of
``pdgraph.prior``; the learner replaces them from observed calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hermes_agents.pdgraph import END, PDGraph
from hermes_agents.pdgraph.prior import structural_prior

START_NODE = "__start__"
END_NODE = "__end__"


def graph_prior(graph: Any, name: str) -> PDGraph | None:
    """The prior of ``graph`` (a compiled ``StateGraph``), or None without a builder."""
    builder = getattr(graph, "builder", None)
    nodes = getattr(builder, "nodes", None)
    if builder is None or not isinstance(nodes, Mapping) or not nodes:
        return None
    successors: dict[str, list[str]] = {str(node): [] for node in nodes}
    for source, target in getattr(builder, "edges", ()):
        _link(successors, source, target)
    for sources, target in getattr(builder, "waiting_edges", ()):
        for source in sources:
            _link(successors, source, target)
    for source, branches in getattr(builder, "branches", {}).items():
        for branch in branches.values():
            for target in (getattr(branch, "ends", None) or {}).values():
                _link(successors, source, target)
    for node, spec in nodes.items():
        ends = getattr(spec, "ends", None) or ()
        for target in ends.values() if isinstance(ends, Mapping) else ends:
            _link(successors, node, target)
    entries = successors.pop(START_NODE, [])
    if not entries:
        return None
    for targets in successors.values():  # a node that may lead nowhere declared ends the run
        if not targets:
            targets.append(END)
    return structural_prior(name, entries[0], successors)


def _link(successors: dict[str, list[str]], source: str, target: str) -> None:
    target = END if target == END_NODE else str(target)
    successors.setdefault(str(source), [])
    if target not in successors[str(source)]:
        successors[str(source)].append(target)
