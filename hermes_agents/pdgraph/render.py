"""A PDGraph for people: Mermaid text, an annotated ``networkx`` graph, a PNG.

>>> from hermes_agents.pdgraph import structural_prior
>>> prior = structural_prior("rag", "retrieve", {"retrieve": ["answer"], "answer": []},
...                          kinds={"retrieve": "embedding"})
>>> print(to_mermaid(prior).splitlines()[0])
flowchart TD

Every view shows the same things: each stage with its kind, backend and mean demand, the
successor probabilities on the edges (``Stage.next``, over all visits), the entry, and ``END``.
Per-visit successor tables (``Stage.next_by_visit``) are left out of the drawings: ``hermes
graph --json`` lists them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hermes_agents.extras import needs_extra
from hermes_agents.pdgraph.model import END, PDGraph, Stage, StageKind

if TYPE_CHECKING:
    import networkx as nx
    from matplotlib.axes import Axes
    from matplotlib.text import Text

__all__ = [
    "demand_label",
    "mean_demand",
    "probability_label",
    "save_png",
    "to_mermaid",
    "to_networkx",
]

_MEAN_FIELDS = ("prompt_tokens", "output_tokens", "prefix_tokens", "seconds", "fanout")
_COLOURS = {
    str(StageKind.LLM): "#cfe2ff",
    str(StageKind.TOOL): "#ffe0b2",
    str(StageKind.EMBEDDING): "#d4f4dd",
    "end": "#e0e0e0",
}
# Data units per layer and per node: the figure is sized so that one unit is about one inch.
_LAYER_GAP = 1.8
_NODE_GAP = 3.4


def mean_demand(stage: Stage) -> dict[str, float]:
    """The mean of every demand field ``stage`` has (tokens per call, seconds per call,
    ``fanout`` calls per visit)."""
    means = {}
    for name in _MEAN_FIELDS:
        distribution = stage.demand(name)
        if distribution is not None:
            means[name] = distribution.mean
    return means


def demand_label(stage: Stage) -> str:
    """Mean demand in a few words: ``"512 in / 80 out tok"`` (LLM), ``"1.2 s"`` or ``"40 ms"``
    (tools, embeddings), then ``"x3.0"`` when a visit makes more than one call on average."""
    means = mean_demand(stage)
    if stage.kind == StageKind.LLM:
        prompt, output = means.get("prompt_tokens", 0.0), means.get("output_tokens", 0.0)
        text = f"{prompt:.0f} in / {output:.0f} out tok"
        if means.get("prefix_tokens", 0) >= 0.5:
            text += f" ({means['prefix_tokens']:.0f} cached)"
    else:
        text = _seconds(means.get("seconds", 0.0))
    fanout = means.get("fanout", 1.0)
    return text if abs(fanout - 1.0) < 0.05 else f"{text} x{fanout:.1f}"


def _seconds(value: float) -> str:
    """``"2.26 s"``, ``"512 ms"``, ``"<1 ms"`` (pure code, which is not quite free), ``"0 s"``."""
    if value >= 1 or value == 0:
        return f"{value:.3g} s"
    if value >= 0.001:
        return f"{value * 1000:.3g} ms"
    return "<1 ms"


def probability_label(probability: float) -> str:
    """A probability as an edge label: two decimals, ``"<0.01"`` for a rare but possible edge."""
    if 0 < probability < 0.005:
        return "<0.01"
    return f"{probability:.2f}"


def to_mermaid(graph: PDGraph) -> str:
    """A Mermaid ``flowchart`` of ``graph``: one box per stage (name, kind and backend, mean
    demand), edges labelled with successor probabilities, a start marker and an ``END`` node.

    Node ids are ``s0``, ``s1``, ... in stage order, so any stage name is safe in a label.
    """
    ids = {name: f"s{index}" for index, name in enumerate(graph.stages)}
    ids[END] = "stop"
    lines = ["flowchart TD", '    start(("start"))']
    for name, stage in graph.stages.items():
        label = f"<b>{_escape(name)}</b><br/>{stage.kind} · {_escape(stage.backend)}"
        lines.append(f'    {ids[name]}["{label}<br/>{_escape(demand_label(stage))}"]')
    lines.append(f'    {ids[END]}(("{END}"))')
    lines.append(f"    start --> {ids[graph.entry]}")
    for name, stage in graph.stages.items():
        for target, probability in stage.next.items():
            if probability > 0:
                edge = f'-->|"{probability_label(probability)}"|'
                lines.append(f"    {ids[name]} {edge} {ids[target]}")
    return "\n".join(lines) + "\n"


def _escape(text: str) -> str:
    """Mermaid entity codes for the characters that would end or change a quoted label."""
    for char, code in (("#", "#35;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;")):
        text = text.replace(char, code)
    return text


def to_networkx(graph: PDGraph) -> nx.DiGraph:
    """``graph.to_networkx()`` with what a drawing needs.

    Nodes carry ``kind``, ``backend``, ``entry`` (bool), ``layer`` (the row of a top-down
    drawing, see ``_layers``; ``END`` below every stage), ``demand`` (``mean_demand``) and
    ``label`` (three lines of text); edges carry ``probability`` and ``label``. Edges of
    probability 0 are left out.
    """
    result: nx.DiGraph = graph.to_networkx()
    result.graph["entry"] = graph.entry
    result.graph["version"] = graph.version
    for source, target, data in list(result.edges(data=True)):
        if data["probability"] <= 0:
            result.remove_edge(source, target)
        else:
            data["label"] = probability_label(data["probability"])
    layers = _layers(result, graph.entry)
    deepest = max(layers.values(), default=0)
    for name, stage in graph.stages.items():
        result.nodes[name].update(
            entry=name == graph.entry,
            layer=layers.get(name, deepest + 1),
            demand=mean_demand(stage),
            label=f"{name}\n{stage.kind} · {stage.backend}\n{demand_label(stage)}",
        )
    unreachable = any(name not in layers for name in graph.stages)
    result.nodes[END].update(
        entry=False, layer=deepest + (2 if unreachable else 1), demand={}, label=END
    )
    return result


def _layers(graph: nx.DiGraph, entry: str) -> dict[str, int]:
    """Row of each stage reachable from ``entry``: its longest distance from the entry once the
    back edges of a depth-first walk (the loops) are cut, so that a stage sits below every
    stage that leads to it. ``END`` is left out."""
    import networkx as nx

    back, seen, on_path = set(), {entry}, {entry}
    stack = [(entry, iter(graph.successors(entry)))]
    while stack:
        node, successors = stack[-1]
        target = next(successors, None)
        if target is None:
            on_path.discard(node)
            stack.pop()
        elif target in on_path:
            back.add((node, target))
        elif target not in seen and target != END:
            seen.add(target)
            on_path.add(target)
            stack.append((target, iter(graph.successors(target))))
    forward = nx.DiGraph()
    forward.add_nodes_from(seen)
    forward.add_edges_from(
        (u, v) for u, v in graph.edges if u in seen and v in seen and (u, v) not in back
    )
    layers = dict.fromkeys(seen, 0)
    for node in nx.topological_sort(forward):
        for target in forward.successors(node):
            layers[target] = max(layers[target], layers[node] + 1)
    return layers


def save_png(graph: PDGraph, path: str | Path, *, title: str | None = None) -> Path:
    """Draw ``graph`` top-down into a PNG at ``path`` and return the path.

    Stages are boxes coloured by kind, in rows by distance from the entry; edges are arrows
    labelled with their probabilities (loops curve back; a stage that repeats itself gets a
    loop on its right). Uses matplotlib's Agg canvas only: no display needed. matplotlib comes
    with the ``cli`` extra; without it this raises ``MissingExtraError``.
    """
    with needs_extra("cli"):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

    drawn = to_networkx(graph)
    positions = _positions(drawn)
    xs = [x for x, _ in positions.values()]
    ys = [y for _, y in positions.values()]
    margin = 0.6 * _NODE_GAP  # room for the widest curves around skipped rows
    width_in = max(xs) - min(xs) + 2 * margin
    height_in = max(ys) - min(ys) + _LAYER_GAP
    figure = Figure(figsize=(max(6.0, width_in), max(3.5, height_in + 0.6)), layout="tight")
    canvas = FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.set_xlim(min(xs) - margin, max(xs) + margin)
    axes.set_ylim(min(ys) - _LAYER_GAP / 2, max(ys) + _LAYER_GAP / 2)
    axes.set_aspect("equal")
    axes.axis("off")
    axes.set_title(title or f"{graph.name} (PDGraph version {graph.version})")
    boxes = {node: _box(axes, drawn.nodes[node], positions[node]) for node in drawn.nodes}
    # Lay the boxes out first, so that the arrows can be clipped to their outlines.
    canvas.draw()  # type: ignore[no-untyped-call]
    for source, target, data in drawn.edges(data=True):
        if source == target:
            _self_loop(axes, boxes[source], data["label"])
        else:
            rad = _curvature(drawn, source, target, positions)
            _arrow(axes, boxes[source], boxes[target], data["label"], rad)
    path = Path(path)
    figure.savefig(path, dpi=110)
    return path


def _positions(drawn: nx.DiGraph) -> dict[str, tuple[float, float]]:
    """Rows by layer (top to bottom), each row centred, nodes in the graph's order."""
    rows: dict[int, list[str]] = {}
    for node, layer in drawn.nodes(data="layer"):
        rows.setdefault(int(layer), []).append(node)
    positions = {}
    for layer, nodes in rows.items():
        for index, node in enumerate(nodes):
            positions[node] = ((index - (len(nodes) - 1) / 2) * _NODE_GAP, -layer * _LAYER_GAP)
    return positions


def _curvature(
    drawn: nx.DiGraph, source: str, target: str, positions: Mapping[str, tuple[float, float]]
) -> float:
    """``arc3`` curvature: straight between neighbouring rows, a slight bend where two stages
    point at each other (so the arrows part), a wide one around the rows an edge skips."""
    rows = abs(int(drawn.nodes[target]["layer"]) - int(drawn.nodes[source]["layer"]))
    if rows == 1:
        return 0.25 if drawn.has_edge(target, source) else 0.0
    if rows == 0:
        return 0.3
    (x1, y1), (x2, y2) = positions[source], positions[target]
    chord = math.hypot(x2 - x1, y2 - y1)
    # The curve's middle lies rad / 2 * chord off the chord: clear half a box and a margin.
    return min(1.2, 2 * 0.45 * _NODE_GAP / chord)


def _box(axes: Axes, node: Mapping[str, Any], at: tuple[float, float]) -> Text:
    kind = node["kind"]
    style = "circle,pad=0.3" if kind == "end" else "round,pad=0.4"
    edge = "#1f4e79" if node["entry"] else "#555555"
    return axes.text(
        *at,
        node["label"],
        ha="center",
        va="center",
        fontsize=9,
        zorder=3,
        bbox={"boxstyle": style, "fc": _COLOURS.get(kind, "#ffffff"), "ec": edge, "lw": 1.2},
    )


def _arrow(axes: Axes, source: Text, target: Text, label: str, rad: float) -> None:
    (x1, y1), (x2, y2) = source.get_position(), target.get_position()
    axes.annotate(
        "",
        xy=(x2, y2),
        xytext=(x1, y1),
        zorder=2,
        arrowprops={
            "arrowstyle": "-|>",
            "color": "#444444",
            "connectionstyle": f"arc3,rad={rad}",
            "patchA": source.get_bbox_patch(),
            "patchB": target.get_bbox_patch(),
            "shrinkA": 2,
            "shrinkB": 2,
        },
    )
    # The middle of matplotlib's arc3 curve: half the control point's offset from the chord.
    mid_x = (x1 + x2) / 2 + rad / 2 * (y2 - y1)
    mid_y = (y1 + y2) / 2 - rad / 2 * (x2 - x1)
    _edge_label(axes, (mid_x, mid_y), label)


def _self_loop(axes: Axes, box: Text, label: str) -> None:
    patch = box.get_bbox_patch()
    assert patch is not None  # every box is drawn with a bbox
    extent = patch.get_window_extent().transformed(axes.transData.inverted())
    right, middle, half = extent.x1, (extent.y0 + extent.y1) / 2, extent.height / 4
    axes.annotate(
        "",
        xy=(right, middle - half),
        xytext=(right, middle + half),
        zorder=2,
        arrowprops={"arrowstyle": "-|>", "color": "#444444", "connectionstyle": "arc3,rad=-1.6"},
    )
    _edge_label(axes, (right + 2.2 * half + 0.15, middle), label)


def _edge_label(axes: Axes, at: tuple[float, float], label: str) -> None:
    axes.text(
        *at,
        label,
        ha="center",
        va="center",
        fontsize=8,
        zorder=4,
        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.9},
    )
