"""Rendering a PDGraph: Mermaid text, the annotated networkx graph, the PNG."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib.image
import pytest

from hermes_agents.pdgraph import END, Call, Learner, PDGraph, Stage, StageKind, Visit, constant
from hermes_agents.pdgraph.render import (
    demand_label,
    probability_label,
    save_png,
    to_mermaid,
    to_networkx,
)
from hermes_agents.workloads import builtin
from tests.pdgraph.graphs import tool_stage

PNG_HEADER = b"\x89PNG\r\n\x1a\n"
EDGE = re.compile(r'^\s+(\w+) -->\|"([^"]+)"\| (\w+)$')
NODE = re.compile(r'^\s+(s\d+)\["(.*)"\]$')


def _learned() -> PDGraph:
    """A ReAct-like loop learned from 8 runs: thought -> search 3 of 4 times after each
    thought, search -> thought; LLM calls of 300/40 tokens, searches of 2 s in parallel pairs."""
    learner = Learner("react")
    thought = Visit("thought", StageKind.LLM, "llm", (Call(300, 40),))
    search = Visit("search", StageKind.TOOL, "sandbox", (Call(seconds=2.0), Call(seconds=2.0)))
    for _ in range(8):
        learner.observe([thought, search, thought, search, thought, search, thought])
    return learner.graph()


def _edges(text: str) -> dict[tuple[str, str], str]:
    return {
        (match[1], match[3]): match[2]
        for line in text.splitlines()
        if (match := EDGE.match(line)) is not None
    }


def test_mermaid_has_every_stage_the_end_and_the_learned_probabilities() -> None:
    graph = _learned()
    text = to_mermaid(graph)
    lines = text.splitlines()
    assert lines[0] == "flowchart TD"
    nodes = {m[1]: m[2] for line in lines if (m := NODE.match(line)) is not None}
    assert nodes == {
        "s0": "<b>thought</b><br/>llm · llm<br/>300 in / 40 out tok",
        "s1": "<b>search</b><br/>tool · sandbox<br/>2 s x2.0",
    }
    assert '    stop(("END"))' in lines
    assert "    start --> s0" in lines  # the entry
    assert graph.successors("thought") == {"search": 0.75, END: 0.25}
    assert _edges(text) == {("s0", "s1"): "0.75", ("s0", "stop"): "0.25", ("s1", "s0"): "1.00"}


def test_mermaid_escapes_stage_names_and_leaves_out_impossible_edges() -> None:
    graph = PDGraph.from_dict(
        {
            "name": "odd",
            "entry": 'say "hi" <now> #1',
            "stages": {
                'say "hi" <now> #1': {
                    "kind": "embedding",
                    "backend": "emb",
                    "seconds": {"const": 0.05},
                    "next": {"END": 1.0, 'say "hi" <now> #1': 0.0},
                }
            },
        }
    )
    text = to_mermaid(graph)
    assert "<b>say #quot;hi#quot; #lt;now#gt; #35;1</b><br/>embedding · emb<br/>50 ms" in text
    assert '"hi"' not in text
    assert _edges(text) == {("s0", "stop"): "1.00"}


def test_labels() -> None:
    assert probability_label(0.936) == "0.94"
    assert probability_label(0.001) == "<0.01"
    assert probability_label(0.0) == "0.00"
    stage = builtin("paper-mix").apps["langchain_mapreduce"].stages["generate_summary"]
    assert re.fullmatch(r"\d+ in / \d+ out tok x\d+\.\d", demand_label(stage))
    search = builtin("paper-mix").apps["react_fever"].stages["search"]
    assert re.fullmatch(r"2\.\d+ s", demand_label(search))
    assert demand_label(Stage("pause", StageKind.TOOL, "local", seconds=constant(0.0004))) == (
        "<1 ms"
    )


def test_networkx_graph_carries_what_a_drawing_needs() -> None:
    drawn = to_networkx(_learned())
    assert set(drawn.nodes) == {"thought", "search", END}
    assert drawn.nodes["thought"]["entry"] is True
    assert [drawn.nodes[n]["layer"] for n in ("thought", "search", END)] == [0, 1, 2]
    assert drawn.nodes["search"]["demand"] == {"seconds": 2.0, "fanout": 2.0}
    assert drawn.nodes["search"]["label"] == "search\ntool · sandbox\n2 s x2.0"
    assert drawn.edges["thought", "search"]["probability"] == 0.75
    assert drawn.edges["thought", END]["label"] == "0.25"
    assert drawn.edges["search", "thought"]["label"] == "1.00"


@pytest.mark.parametrize("app", ["react_fever", "langchain_mapreduce", "got_docmerge"])
def test_png_is_written(tmp_path: Path, app: str) -> None:
    """Back edges, self-loops and fan-out: every drawing path produces a valid PNG."""
    out = save_png(builtin("paper-mix").apps[app], tmp_path / f"{app}.png")
    assert out == tmp_path / f"{app}.png"
    assert out.read_bytes().startswith(PNG_HEADER)
    pixels = matplotlib.image.imread(out)
    drawn = (pixels[..., :3] < 0.9).any(axis=2).mean()
    assert drawn > 0.01  # boxes, arrows and labels, not an empty canvas


def test_png_of_a_learned_graph(tmp_path: Path) -> None:
    out = save_png(_learned(), str(tmp_path / "react.png"), title="react, learned")
    assert out.read_bytes().startswith(PNG_HEADER)


def test_a_stage_is_drawn_below_every_stage_that_leads_to_it() -> None:
    """plan -> search -> write and plan -> write: write goes below search, not beside it; the
    loop on write and the back edge review -> plan do not push stages down."""
    graph = PDGraph.from_dict(
        {
            "name": "report",
            "entry": "plan",
            "stages": {
                "plan": tool_stage(1.0, {"search": 0.8, "write": 0.2}),
                "search": tool_stage(1.0, {"write": 1.0}),
                "write": tool_stage(1.0, {"write": 0.3, "review": 0.7}),
                "review": tool_stage(1.0, {"plan": 0.1, "END": 0.9}),
            },
        }
    )
    layers = dict(to_networkx(graph).nodes(data="layer"))
    assert layers == {"plan": 0, "search": 1, "write": 2, "review": 3, END: 4}
