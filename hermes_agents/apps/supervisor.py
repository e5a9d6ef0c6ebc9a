"""Supervisor: a ``supervisor`` node routes with ``Command(goto=...)`` to the ``researcher`` and
``writer`` sub-agents (one LLM call each), who report back to it, for a few turns, then END.

About the plan: the local model (SmolLM2-135M) cannot be trusted to pick the next agent, so
the task's ``turns`` (1..5, the last one always the writer) decide where each ``Command`` goes.
The supervisor still asks the LLM for a one-line decision at every visit, and the sub-agents'
text builds the ``notes`` and the final ``report``. With a capable model you would route on
the model's structured output; the scripted plan keeps the demo reproducible.
"""

from __future__ import annotations

import operator
import random
from typing import Annotated, Any, Literal, TypedDict, cast

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command

from hermes_agents.apps.toolkit import ExampleApp, Graph, Toolkit
from hermes_agents.errors import ValidationError

__all__ = [
    "AGENTS",
    "APP",
    "DECISION_TOKENS",
    "MAX_TURNS",
    "RESEARCH_TOKENS",
    "TOPICS",
    "WRITE_TOKENS",
    "SupervisorState",
    "build",
]

DECISION_TOKENS = 8
"""Output budget of the supervisor's decision."""
RESEARCH_TOKENS = 32
"""Output budget of one research note."""
WRITE_TOKENS = 48
"""Output budget of one draft of the report."""
MAX_TURNS = 5
"""The most sub-agent turns a task plans."""
AGENTS = ("researcher", "writer")
"""The sub-agents a turn may go to."""

Next = Literal["researcher", "writer", "__end__"]
"""Where the supervisor sends the run: a sub-agent, or END (``"__end__"``)."""

TOPICS = (
    "why bees dance",
    "the floods of the Nile",
    "climbing Mount Everest",
    "how penguins dive",
    "the history of Python",
    "the speed of light",
)
"""The topics tasks are drawn from."""


class SupervisorState(TypedDict, total=False):
    """The graph's state; ``turns`` is the plan."""

    topic: str
    turns: list[str]
    turn: int
    decisions: Annotated[list[str], operator.add]
    notes: Annotated[list[str], operator.add]
    report: str


def build(toolkit: Toolkit) -> Graph:
    """The supervisor graph."""
    decide = toolkit.chat.bind(max_tokens=DECISION_TOKENS)
    research = toolkit.chat.bind(max_tokens=RESEARCH_TOKENS)
    write = toolkit.chat.bind(max_tokens=WRITE_TOKENS)

    def supervisor(state: SupervisorState) -> Command[Next]:
        turn = state.get("turn", 0)
        goto = _planned(state["turns"], turn)
        ask = f"Topic: {state['topic']}. Notes so far: {len(state.get('notes', []))}."
        reply = decide.invoke(
            [
                SystemMessage("You lead a researcher and a writer. Who works next?"),
                HumanMessage(ask),
            ]
        )
        label = "done" if goto == END else goto
        update = {"turn": turn + 1, "decisions": [f"{label}: {reply.text.strip()}"]}
        return Command(goto=goto, update=update)

    def researcher(state: SupervisorState) -> dict[str, Any]:
        reply = research.invoke(
            [SystemMessage("Give one fact in one sentence."), HumanMessage(state["topic"])]
        )
        return {"notes": [reply.text.strip()]}

    def writer(state: SupervisorState) -> dict[str, Any]:
        notes = "\n".join(state.get("notes", [])) or "(none yet)"
        reply = write.invoke(
            [
                SystemMessage("Write a short paragraph for a report."),
                HumanMessage(f"Topic: {state['topic']}\nNotes:\n{notes}"),
            ]
        )
        return {"report": reply.text.strip()}

    builder = StateGraph(SupervisorState)
    builder.add_node("supervisor", supervisor)
    builder.add_node("researcher", researcher)
    builder.add_node("writer", writer)
    builder.add_edge(START, "supervisor")
    builder.add_edge("researcher", "supervisor")
    builder.add_edge("writer", "supervisor")
    return builder.compile(name="supervisor")


def _planned(turns: list[str], turn: int) -> Next:
    """Where the plan sends turn ``turn``: a sub-agent, or END after the last turn."""
    if turn >= len(turns):
        return "__end__"  # END
    if turns[turn] not in AGENTS:
        raise ValidationError(
            f"must name one of {AGENTS}, got {turns[turn]!r}", "task field 'turns'"
        )
    return cast(Next, turns[turn])


def make_input(rng: random.Random) -> dict[str, Any]:
    """A topic and its plan: 1..``MAX_TURNS`` sub-agent turns, the writer last."""
    count = rng.randint(1, MAX_TURNS)
    turns = [rng.choice(AGENTS) for _ in range(count - 1)] + ["writer"]
    return {"topic": rng.choice(TOPICS), "turns": turns}


APP = ExampleApp(
    name="supervisor",
    description="supervisor routes with Command to researcher / writer for 1..5 planned turns",
    build=build,
    make_input=make_input,
)
"""The app, as ``EXAMPLES["supervisor"]``."""
