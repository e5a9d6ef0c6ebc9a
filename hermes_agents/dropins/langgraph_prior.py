"""A structural prior PDGraph from a compiled LangGraph ``StateGraph``'s builder.

Stages are the graph's nodes; successors come from its edges, joins (waiting edges),
conditional branches (their path map, when one was given or inferred from a ``Literal`` return
annotation) and ``Command`` destinations (``ends``: a tuple of nodes, or the ``destinations``
dict of node -> edge label). A branch without a path map adds no edge: where it goes is learned
from runs. A compiled graph used as a node is inlined under the node's name (``sub/inner``, the
stage names the tracker gives its nodes), its exits leading where the node leads.

Every graph LangGraph compiles gets a prior or none, never an error: a node that declares no
way on ends the run (``Command``-only routing is learned from runs), and a loop that can never
reach END (a human <-> agent loop that only stops at ``interrupt()``) may end at any of its
nodes, until runs say where. Demands are the vague defaults of ``pdgraph.prior``; the learner
replaces them from observed calls.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from hermes_agents.errors import ValidationError
from hermes_agents.pdgraph import END, PDGraph
from hermes_agents.pdgraph.prior import structural_prior

START_NODE = "__start__"
END_NODE = "__end__"
MAX_DEPTH = 8
"""Subgraphs nested deeper than this are learned from runs only."""

logger = logging.getLogger(__name__)

Successors = dict[str, list[str]]


def graph_prior(graph: Any, name: str) -> PDGraph | None:
    """The prior of ``graph`` (a compiled ``StateGraph``), or None without a builder, or when
    its structure says nothing usable (logged at debug level: runs will)."""
    try:
        structure = _structure(graph, "", 0)
        if structure is None:
            return None
        entry, successors = structure
        _let_closed_loops_end(successors)
        return structural_prior(name, entry, successors)
    except (ValidationError, TypeError, ValueError, AttributeError):
        logger.debug("no structural prior for %r; it is learned from runs", name, exc_info=True)
        return None


def _structure(graph: Any, prefix: str, depth: int) -> tuple[str, Successors] | None:
    """The entry and successors of ``graph``'s builder, stage names after ``prefix``."""
    builder = getattr(graph, "builder", None)
    nodes = getattr(builder, "nodes", None)
    if builder is None or not isinstance(nodes, Mapping) or not nodes:
        return None
    successors: Successors = {prefix + str(node): [] for node in nodes}
    successors[prefix + START_NODE] = []

    def link(source: Any, target: Any) -> None:
        stage = END if target == END_NODE else prefix + str(target)
        targets = successors.get(prefix + str(source))
        if targets is not None and (stage == END or stage in successors) and stage not in targets:
            targets.append(stage)

    for source, target in getattr(builder, "edges", ()):
        link(source, target)
    for sources, target in getattr(builder, "waiting_edges", ()):
        for source in sources:
            link(source, target)
    for source, branches in getattr(builder, "branches", {}).items():
        for branch in branches.values():
            for target in (getattr(branch, "ends", None) or {}).values():
                link(source, target)
    for node, spec in nodes.items():
        ends = getattr(spec, "ends", None) or ()
        for target in ends:  # a tuple of nodes, or a dict of node -> label: its keys
            link(node, target)
    entries = successors.pop(prefix + START_NODE)
    if not entries or entries[0] == END:
        return None
    if depth < MAX_DEPTH:
        for node, spec in nodes.items():
            _inline(successors, prefix + str(node), getattr(spec, "runnable", None), depth)
    for targets in successors.values():  # a node that declares no way on ends the run
        if not targets:
            targets.append(END)
    return entries[0], successors


def _inline(successors: Successors, stage: str, runnable: Any, depth: int) -> None:
    """A compiled graph as node ``stage``: its nodes follow the node, its exits lead where
    the node leads."""
    inner = _structure(runnable, f"{stage}/", depth + 1)
    if inner is None:
        return
    entry, inner_successors = inner
    onward = successors[stage] or [END]
    for targets in inner_successors.values():
        if END in targets:
            targets.remove(END)
            targets.extend(t for t in onward if t not in targets)
    successors[stage] = [entry]
    successors.update(inner_successors)


def _let_closed_loops_end(successors: Successors) -> None:
    """Nodes from which END cannot be reached may end the run (they stop at interrupts)."""
    leads_to: dict[str, set[str]] = {}
    for source, targets in successors.items():
        for target in targets:
            leads_to.setdefault(target, set()).add(source)
    can_end, frontier = {END}, [END]
    while frontier:
        for source in leads_to.get(frontier.pop(), ()):
            if source not in can_end:
                can_end.add(source)
                frontier.append(source)
    for stage, targets in successors.items():
        if stage not in can_end:
            targets.append(END)
