"""ReAct: a ``thought`` -> ``tools`` -> ``thought`` ... loop that ends when no tool is called.

Stages: ``thought`` (one LLM call per visit) and ``tools`` (real Python tools: ``calculator``
evaluates arithmetic, ``lookup`` reads a small fact table), routed by the usual LangGraph
check: the last ``AIMessage`` has tool calls -> ``tools``, else END.

About the plan: the local model (SmolLM2-135M) cannot really call tools, so the tool calls come
from the task's ``plan`` (1..6 calls), not from the model. Each ``thought`` still asks the LLM,
and its text is the ``AIMessage``'s content (the last one is the answer); the planned call is
attached to it as ``tool_calls``. A run visits ``thought`` ``len(plan) + 1`` times. With a
capable model you would ``bind_tools`` and route on the calls the model makes; the scripted
plan keeps the demo reproducible.
"""

from __future__ import annotations

import ast
import operator
import random
from collections.abc import Callable
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.messages.tool import ToolCall
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages

from hermes_agents.apps.toolkit import ExampleApp, Graph, Toolkit

__all__ = [
    "APP",
    "FACTS",
    "MAX_STEPS",
    "THOUGHT_TOKENS",
    "ReactState",
    "build",
    "calculator",
    "lookup",
]

FACTS = {
    "everest": "Mount Everest is 8849 metres high.",
    "nile": "The Nile is 6650 kilometres long.",
    "seine": "The Seine is 777 kilometres long.",
    "python": "Python was first released in 1991.",
    "light": "Sunlight needs 499 seconds to reach the Earth.",
    "wall": "The Great Wall of China is 21196 kilometres long.",
}
"""What ``lookup`` knows."""

THOUGHT_TOKENS = 24
"""Output budget of one thought."""
MAX_STEPS = 6
"""The most tool calls a task plans."""

_OPERATORS: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


class ReactState(TypedDict, total=False):
    """The graph's state: the conversation (messages with fixed ids, so that runs compare
    equal), and the plan of tool calls."""

    messages: Annotated[list[AnyMessage], add_messages]
    plan: list[dict[str, str]]
    answer: str


def calculator(expression: str) -> str:
    """Evaluate ``+ - * /`` arithmetic on numbers (nothing else: no names, no calls)."""

    def value(node: ast.expr) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](value(node.left), value(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -value(node.operand)
        raise ValueError(f"unsupported expression: {ast.unparse(node)}")

    try:
        return f"{value(ast.parse(expression, mode='eval').body):g}"
    except (SyntaxError, ValueError, ZeroDivisionError) as error:
        return f"error: {error}"


def lookup(topic: str) -> str:
    """The fact stored under ``topic``."""
    return FACTS.get(topic.strip().lower(), f"no fact about {topic!r}")


def build(toolkit: Toolkit) -> Graph:
    """The ReAct graph; its tools run as scheduled tools of the ``tools`` stage."""
    llm = toolkit.chat.bind(max_tokens=THOUGHT_TOKENS)
    tools = {
        "calculator": toolkit.tool(calculator, stage="tools"),
        "lookup": toolkit.tool(lookup, stage="tools"),
    }

    def thought(state: ReactState) -> dict[str, Any]:
        messages, plan = state["messages"], state["plan"]
        done = sum(isinstance(message, ToolMessage) for message in messages)
        final = done >= len(plan)
        ask = "Give the final answer." if final else "Say which tool you need next, and why."
        reply = llm.invoke([SystemMessage(_SYSTEM), HumanMessage(f"{_transcript(messages)}{ask}")])
        text = reply.text.strip()
        if final:
            return {"messages": [AIMessage(text, id=f"thought-{done}")], "answer": text}
        step = plan[done]
        call = ToolCall(name=step["tool"], args={"query": step["input"]}, id=f"call-{done}")
        return {"messages": [AIMessage(text, tool_calls=[call], id=f"thought-{done}")]}

    def run_tools(state: ReactState) -> dict[str, Any]:
        last = state["messages"][-1]
        assert isinstance(last, AIMessage)
        results = [
            ToolMessage(
                _use(tools, call["name"], call["args"]["query"]),
                tool_call_id=call["id"],
                id=f"observation-{call['id']}",
            )
            for call in last.tool_calls
        ]
        return {"messages": results}

    def next_step(state: ReactState) -> str:
        last = state["messages"][-1]
        return "tools" if isinstance(last, AIMessage) and last.tool_calls else END

    builder = StateGraph(ReactState)
    builder.add_node("thought", thought)
    builder.add_node("tools", run_tools)
    builder.add_edge(START, "thought")
    builder.add_conditional_edges("thought", next_step, {"tools": "tools", END: END})
    builder.add_edge("tools", "thought")
    return builder.compile(name="react")


def _use(tools: dict[str, Callable[[str], str]], name: str, query: str) -> str:
    """The named tool's answer; an unknown name is an observation, as agents report it."""
    tool = tools.get(name)
    return tool(query) if tool is not None else f"error: no tool named {name!r}"


_SYSTEM = "You are an agent with two tools: lookup(topic) and calculator(expression). Be brief."


def _transcript(messages: list[AnyMessage]) -> str:
    """The conversation as plain text (the small model's chat template has no tool roles)."""
    lines = []
    for message in messages:
        if isinstance(message, ToolMessage):
            lines.append(f"Observation: {message.text}")
        elif isinstance(message, AIMessage):
            calls = ", ".join(f"{c['name']}({c['args']['query']})" for c in message.tool_calls)
            lines.append(f"Thought: {message.text}" + (f"\nAction: {calls}" if calls else ""))
        else:
            lines.append(f"Question: {message.text}")
    return "\n".join(lines) + "\n"


def make_input(rng: random.Random) -> dict[str, Any]:
    """A question and its plan: 1..``MAX_STEPS`` lookups and calculations."""
    plan: list[dict[str, str]] = []
    for _ in range(rng.randint(1, MAX_STEPS)):
        if rng.random() < 0.5:
            plan.append({"tool": "lookup", "input": rng.choice(sorted(FACTS))})
        else:
            left, right = rng.randint(2, 999), rng.randint(2, 99)
            plan.append({"tool": "calculator", "input": f"{left} {rng.choice('+-*/')} {right}"})
    asks = "; ".join(f"{step['tool']} {step['input']}" for step in plan)
    question = HumanMessage(f"Use the tools for: {asks}.", id="question")
    return {"messages": [question], "plan": plan}


APP = ExampleApp(
    name="react",
    description="ReAct loop: thought (LLM) -> tools (calculator, lookup), 1..6 planned calls",
    build=build,
    make_input=make_input,
)
"""The app, as ``EXAMPLES["react"]``."""
