"""RAG with HyDE: draft a hypothetical answer, retrieve the passages closest to it, answer.

Stages: ``draft`` (one LLM call: a short passage that could answer the question, the
"hypothetical document" of HyDE, Gao et al. 2022, which retrieves better than the bare question)
-> ``retrieve`` (one embedding call of the question and the draft, then cosine similarity
against a small built-in corpus that ``build`` embeds once) -> ``answer`` (one LLM call) -> END.
The shortest app of the set: its shape never varies, and a task is just a question about the
corpus. The embedding server is reached only after the draft, so a scheduler that knows the
app's PDGraph can wake that server while the draft is written.

>>> import random
>>> sorted(make_input(random.Random(0)))
['question']
"""

from __future__ import annotations

import random
from typing import Any, TypedDict

import numpy as np
from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.graph import END, START, StateGraph

from hermes_agents.apps.toolkit import ExampleApp, Graph, Toolkit
from hermes_agents.errors import ValidationError

__all__ = [
    "ANSWER_TOKENS",
    "APP",
    "CORPUS",
    "DRAFT_TOKENS",
    "QUESTIONS",
    "TOP_K",
    "RagState",
    "build",
]

CORPUS = (
    "Mount Everest, 8,849 metres high, is the highest mountain above sea level.",
    "The Nile is about 6,650 kilometres long and flows north into the Mediterranean Sea.",
    "Paris is the capital of France; the river Seine runs through it.",
    "The Pacific is the largest and deepest of the Earth's oceans.",
    "Honey bees tell each other where flowers are with a waggle dance.",
    "At sea level, water boils at 100 degrees Celsius.",
    "The Great Wall of China is more than 20,000 kilometres long.",
    "Almost all penguins live in the Southern Hemisphere.",
    "Guido van Rossum first released Python in 1991.",
    "Light from the Sun takes about eight minutes to reach the Earth.",
)
"""The passages the app retrieves from."""

QUESTIONS = (
    "How high is Mount Everest?",
    "Which sea does the Nile flow into?",
    "What is the capital of France?",
    "Which ocean is the largest?",
    "How do honey bees show where flowers are?",
    "At what temperature does water boil?",
    "How long is the Great Wall of China?",
    "Where do penguins live?",
    "When was Python first released?",
    "How long does sunlight take to reach the Earth?",
)
"""The questions tasks are drawn from."""

TOP_K = 2
"""Passages retrieved per question."""
ANSWER_TOKENS = 24
"""Output budget of the answer."""
DRAFT_TOKENS = 48
"""Output budget of the hypothetical answer."""


class RagState(TypedDict, total=False):
    """The graph's state."""

    question: str
    draft: str
    passages: list[str]
    answer: str


def build(toolkit: Toolkit) -> Graph:
    """The RAG graph; embeds ``CORPUS`` once, now (one embedding call)."""
    embeddings = toolkit.embeddings
    if embeddings is None:
        raise ValidationError(
            "the rag app needs embeddings; pass embeddings_url= to local_toolkit() or give "
            "Toolkit(embeddings=...)",
            "toolkit field 'embeddings'",
        )
    corpus = _unit_rows(embeddings.embed_documents(list(CORPUS)))
    llm = toolkit.chat.bind(max_tokens=ANSWER_TOKENS)
    drafter = toolkit.chat.bind(max_tokens=DRAFT_TOKENS)

    def draft(state: RagState) -> dict[str, Any]:
        reply = drafter.invoke(
            [
                SystemMessage("Write a short encyclopedia passage that answers the question."),
                HumanMessage(state["question"]),
            ]
        )
        return {"draft": reply.text.strip()}

    def retrieve(state: RagState) -> dict[str, Any]:
        text = f"{state['question']}\n{state.get('draft', '')}".strip()
        query = _unit_rows([embeddings.embed_query(text)])[0]
        best = np.argsort(-(corpus @ query), kind="stable")[:TOP_K]
        return {"passages": [CORPUS[int(i)] for i in best]}

    def answer(state: RagState) -> dict[str, Any]:
        context = "\n".join(state["passages"])
        reply = llm.invoke(
            [
                SystemMessage("Answer in one short sentence, using the context."),
                HumanMessage(f"Context:\n{context}\n\nQuestion: {state['question']}"),
            ]
        )
        return {"answer": reply.text.strip()}

    builder = StateGraph(RagState)
    builder.add_node("draft", draft)
    builder.add_node("retrieve", retrieve)
    builder.add_node("answer", answer)
    builder.add_edge(START, "draft")
    builder.add_edge("draft", "retrieve")
    builder.add_edge("retrieve", "answer")
    builder.add_edge("answer", END)
    return builder.compile(name="rag")


def make_input(rng: random.Random) -> dict[str, Any]:
    """One question about the corpus."""
    return {"question": rng.choice(QUESTIONS)}


def _unit_rows(vectors: list[list[float]]) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Rows scaled to length 1, so that a dot product is the cosine similarity."""
    matrix = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)


APP = ExampleApp(
    name="rag",
    description="draft a hypothetical answer (LLM), retrieve 2 passages by it, answer (LLM)",
    build=build,
    make_input=make_input,
)
"""The app, as ``EXAMPLES["rag"]``."""
