"""Map-reduce summary: ``split`` a document into chunks, ``Send`` each chunk to
``summarize_chunk`` (one LLM call each, in parallel), then ``combine`` the summaries (LLM).

About the plan: the fan-out width is the number of chunks, which the task fixes (a document of
2..8 paragraphs, one chunk each); it does not depend on what the model writes. Each summary and
the final summary are the LLM's text.
"""

from __future__ import annotations

import operator
import random
from typing import Annotated, Any, TypedDict

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.graph import END, START, StateGraph
from langgraph.types import Send

from hermes_agents.apps.toolkit import ExampleApp, Graph, Toolkit

__all__ = [
    "APP",
    "COMBINE_TOKENS",
    "MAX_CHUNKS",
    "MIN_CHUNKS",
    "PARAGRAPHS",
    "SUMMARY_TOKENS",
    "ChunkState",
    "MapReduceState",
    "build",
]

SUMMARY_TOKENS = 48
"""Output budget of one chunk's summary."""
COMBINE_TOKENS = 48
"""Output budget of the final summary."""
MIN_CHUNKS, MAX_CHUNKS = 2, 8
"""The range of a document's paragraphs (the fan-out width)."""

PARAGRAPHS = (
    "Honey bees live in colonies of up to sixty thousand workers. A forager that finds "
    "flowers returns to the hive and dances; the angle of the dance gives the direction.",
    "The river Nile flows north for about 6,650 kilometres. Its yearly flood once brought "
    "the silt that made farming possible along its banks in ancient Egypt.",
    "Mount Everest grows a few millimetres every year as the Indian plate pushes under "
    "Asia. Climbers need weeks to adjust to the thin air before they try the summit.",
    "Penguins cannot fly, but they swim fast. Emperor penguins dive deeper than 500 metres "
    "and can stay under water for more than twenty minutes.",
    "Python was first released in 1991. Its design favours readable code, and its large "
    "standard library made it popular for scripting, science and the web.",
    "Light from the Sun needs about eight minutes to reach the Earth. Light from the "
    "nearest other star, Proxima Centauri, travels for more than four years.",
    "The Great Wall of China was built and rebuilt over many centuries. Most of what "
    "stands today dates from the Ming dynasty.",
    "Water boils at 100 degrees Celsius at sea level, but at lower temperatures high in "
    "the mountains, where the air pressure is lower, so food cooks more slowly there.",
    "The Pacific Ocean covers about a third of the Earth's surface. Its deepest point, the "
    "Challenger Deep, lies almost eleven kilometres below the surface.",
    "Paris grew around an island in the river Seine. Its medieval walls were replaced "
    "by wide boulevards in the nineteenth century.",
)
"""The paragraphs documents are made of."""


class MapReduceState(TypedDict, total=False):
    """The graph's state: the document, its chunks, and the (chunk index, summary) pairs."""

    document: str
    chunks: list[str]
    summaries: Annotated[list[tuple[int, str]], operator.add]
    summary: str


class ChunkState(TypedDict):
    """What one ``summarize_chunk`` task gets."""

    index: int
    chunk: str


def build(toolkit: Toolkit) -> Graph:
    """The map-reduce graph."""
    summarize = toolkit.chat.bind(max_tokens=SUMMARY_TOKENS)
    condense = toolkit.chat.bind(max_tokens=COMBINE_TOKENS)

    def split(state: MapReduceState) -> dict[str, Any]:
        parts = state["document"].split("\n\n")
        return {"chunks": [part.strip() for part in parts if part.strip()]}

    def fan_out(state: MapReduceState) -> list[Send]:
        return [
            Send("summarize_chunk", ChunkState(index=index, chunk=chunk))
            for index, chunk in enumerate(state["chunks"])
        ]

    def summarize_chunk(state: ChunkState) -> dict[str, Any]:
        reply = summarize.invoke(
            [SystemMessage("Summarize the text in one sentence."), HumanMessage(state["chunk"])]
        )
        return {"summaries": [(state["index"], reply.text.strip())]}

    def combine(state: MapReduceState) -> dict[str, Any]:
        # Parallel tasks may finish in any order; the chunk index restores the document's.
        ordered = "\n".join(f"- {text}" for _, text in sorted(state["summaries"]))
        reply = condense.invoke(
            [SystemMessage("Combine these notes into a short summary."), HumanMessage(ordered)]
        )
        return {"summary": reply.text.strip()}

    builder = StateGraph(MapReduceState)
    builder.add_node("split", split)
    builder.add_node("summarize_chunk", summarize_chunk)
    builder.add_node("combine", combine)
    builder.add_edge(START, "split")
    builder.add_conditional_edges("split", fan_out, ["summarize_chunk"])
    builder.add_edge("summarize_chunk", "combine")
    builder.add_edge("combine", END)
    return builder.compile(name="map_reduce")


def make_input(rng: random.Random) -> dict[str, Any]:
    """A document of ``MIN_CHUNKS``..``MAX_CHUNKS`` paragraphs (the fan-out width)."""
    count = rng.randint(MIN_CHUNKS, MAX_CHUNKS)
    return {"document": "\n\n".join(rng.sample(PARAGRAPHS, count))}


APP = ExampleApp(
    name="map_reduce",
    description="split a document, summarize 2..8 chunks in parallel (Send), combine (LLM)",
    build=build,
    make_input=make_input,
)
"""The app, as ``EXAMPLES["map_reduce"]``."""
