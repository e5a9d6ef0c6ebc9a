"""The app that the real prewarming tests share: think (LLM) -> look_up (a slow tool) -> answer
(LLM). During the tool's pause the llama.cpp server (``sleep_idle_s=1``) falls asleep, and
``answer`` records whether it still was when the app came back."""

from __future__ import annotations

import time
from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph

from hermes_agents.langgraph import instrument
from hermes_agents.local import LlamaServer
from hermes_agents.openai import OpenAI
from hermes_agents.scheduling.interface import Scheduler
from hermes_agents.tools import tool

APP = "pause-app"
PAUSE_S = 4.0
"""The tool pause: much longer than the server's idle sleep (1 s), so it sleeps in between."""


class PauseState(TypedDict, total=False):
    """The graph's state."""

    question: str
    notes: str
    answer: str
    asleep_before_answer: bool


def pause_app(server: LlamaServer, scheduler: Scheduler) -> Any:
    """The instrumented app (class ``APP``), every call scheduled by ``scheduler``."""
    client = OpenAI(base_url=server.base_url, api_key="local", hermes_scheduler=scheduler)

    def ask(text: str) -> str:
        reply = client.chat.completions.create(
            model=server.model_name,
            messages=[{"role": "user", "content": text}],
            max_tokens=4,
            temperature=0,
        )
        return reply.choices[0].message.content or ""

    @tool(backend="tools", scheduler=scheduler)
    def search(question: str) -> str:
        time.sleep(PAUSE_S)  # a slow tool: the LLM server falls asleep meanwhile
        return f"notes on {question}"

    def think(state: PauseState) -> PauseState:
        return {"notes": ask(state["question"])}

    def look_up(state: PauseState) -> PauseState:
        return {"notes": state["notes"] + search(state["question"])}

    def answer(state: PauseState) -> PauseState:
        asleep = server.is_sleeping()  # /props does not wake it
        return {"answer": ask(state["notes"]), "asleep_before_answer": asleep}

    builder = StateGraph(PauseState)
    builder.add_node("think", think)
    builder.add_node("look_up", look_up)
    builder.add_node("answer", answer)
    builder.add_edge(START, "think")
    builder.add_edge("think", "look_up")
    builder.add_edge("look_up", "answer")
    builder.add_edge("answer", END)
    return instrument(builder.compile(), name=APP, scheduler=scheduler)
