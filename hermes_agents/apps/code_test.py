"""Code and test: ``generate`` code (LLM) -> ``run_tests`` in a real Python subprocess -> back to
``generate`` on failure, END on a pass (at most ``MAX_ATTEMPTS`` rounds).

``run_tests`` is a scheduled tool on backend ``"sandbox"``: it runs the program and its
``assert`` tests with ``subprocess.run([sys.executable, "-I", "-c", ...], timeout=...)``.

About the plan: the local model (SmolLM2-135M) cannot write passing code, so the program that
runs is not the model's. The task says how many attempts fail (``failures``, 0..3): those
attempts run a really wrong solution of the problem, and the next one runs the right solution,
so the subprocess really fails, then really passes. Each ``generate`` still asks the LLM, with
the last failure in its prompt, and its text is kept in ``drafts``. With a capable model you
would run the model's code; the scripted plan keeps the demo reproducible.
"""

from __future__ import annotations

import operator
import random
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.graph import END, START, StateGraph

from hermes_agents.apps.toolkit import ExampleApp, Graph, Toolkit

__all__ = [
    "APP",
    "CODE_TOKENS",
    "MAX_ATTEMPTS",
    "PROBLEMS",
    "CodeTestState",
    "Problem",
    "SandboxResult",
    "build",
    "run_program",
]

CODE_TOKENS = 48
"""Output budget of one generated draft."""
MAX_ATTEMPTS = 4
"""Rounds before the app gives up (a plan never needs more)."""
SANDBOX_TIMEOUT_S = 20.0
"""Time limit of one test run; a program that hangs counts as failed."""


@dataclass(frozen=True)
class Problem:
    """A programming task with its tests, wrong solutions and a right one."""

    prompt: str
    """What the LLM is asked to write."""
    tests: str
    """Python ``assert`` statements that pass only for a right solution."""
    wrong: tuple[str, ...]
    """Solutions that fail the tests (attempt ``i`` runs ``wrong[i % len(wrong)]``)."""
    right: str
    """A solution that passes them."""


@dataclass(frozen=True)
class SandboxResult:
    """What one test run in the subprocess gave."""

    passed: bool
    """The program exited with status 0 within the time limit."""
    output: str
    """The end of its stderr (the failed assertion), or ``"timed out"``."""
    duration_s: float
    """Wall time of the subprocess."""


PROBLEMS: dict[str, Problem] = {
    "add": Problem(
        "Write add(a, b) returning the sum of a and b.",
        "assert add(2, 3) == 5\nassert add(-1, 1) == 0",
        ("def add(a, b):\n    return a - b", "def add(a, b):\n    return a * b"),
        "def add(a, b):\n    return a + b",
    ),
    "is_palindrome": Problem(
        "Write is_palindrome(s) telling whether s reads the same backwards.",
        "assert is_palindrome('level')\nassert not is_palindrome('hermes')",
        ("def is_palindrome(s):\n    return True", "def is_palindrome(s):\n    return s == s[1:]"),
        "def is_palindrome(s):\n    return s == s[::-1]",
    ),
    "factorial": Problem(
        "Write factorial(n) for n >= 0.",
        "assert factorial(0) == 1\nassert factorial(5) == 120",
        (
            "def factorial(n):\n    return n",
            "def factorial(n):\n    out = 0\n    for i in range(1, n + 1):\n        out *= i\n"
            "    return out",
        ),
        "def factorial(n):\n    out = 1\n    for i in range(2, n + 1):\n        out *= i\n"
        "    return out",
    ),
    "fizzbuzz": Problem(
        "Write fizzbuzz(n): 'Fizz' for multiples of 3, 'Buzz' of 5, 'FizzBuzz' of both, "
        "else str(n).",
        "assert fizzbuzz(9) == 'Fizz'\nassert fizzbuzz(10) == 'Buzz'\n"
        "assert fizzbuzz(30) == 'FizzBuzz'\nassert fizzbuzz(7) == '7'",
        (
            "def fizzbuzz(n):\n    return 'Fizz' if n % 3 == 0 else str(n)",
            "def fizzbuzz(n):\n    if n % 3 == 0:\n        return 'Fizz'\n"
            "    if n % 5 == 0:\n        return 'Buzz'\n    return str(n)",
        ),
        "def fizzbuzz(n):\n    return 'Fizz' * (n % 3 == 0) + 'Buzz' * (n % 5 == 0) or str(n)",
    ),
}
"""The problems tasks are drawn from."""


class CodeTestState(TypedDict, total=False):
    """The graph's state; ``problem`` and ``failures`` are the plan."""

    problem: str
    failures: int
    attempt: int
    program: str
    drafts: Annotated[list[str], operator.add]
    reports: Annotated[list[str], operator.add]
    passed: bool


def run_program(source: str, timeout_s: float = SANDBOX_TIMEOUT_S) -> SandboxResult:
    """Run ``source`` in a fresh, isolated Python (``-I``) and report whether it exited 0."""
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-c", source],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return SandboxResult(False, "timed out", time.perf_counter() - started)
    tail = "\n".join(done.stderr.strip().splitlines()[-2:])
    return SandboxResult(done.returncode == 0, tail, time.perf_counter() - started)


def build(toolkit: Toolkit) -> Graph:
    """The code-and-test graph; the tests run as a scheduled tool on backend ``"sandbox"``."""
    llm = toolkit.chat.bind(max_tokens=CODE_TOKENS)
    sandbox = toolkit.tool(run_program, backend="sandbox", stage="run_tests")

    def generate(state: CodeTestState) -> dict[str, Any]:
        problem, attempt = PROBLEMS[state["problem"]], state.get("attempt", 0)
        ask = problem.prompt
        if state.get("reports"):
            ask += f"\nYour last attempt failed: {state['reports'][-1]}\nFix it."
        reply = llm.invoke([SystemMessage("Reply with Python code only."), HumanMessage(ask)])
        failing = attempt < state["failures"]
        program = problem.wrong[attempt % len(problem.wrong)] if failing else problem.right
        return {"attempt": attempt + 1, "program": program, "drafts": [reply.text.strip()]}

    def run_tests(state: CodeTestState) -> dict[str, Any]:
        tests = PROBLEMS[state["problem"]].tests
        result = sandbox(f"{state['program']}\n\n{tests}\n")
        report = "passed" if result.passed else f"failed: {result.output}"
        return {"passed": result.passed, "reports": [report]}

    def after_tests(state: CodeTestState) -> str:
        done = state["passed"] or state["attempt"] >= MAX_ATTEMPTS
        return END if done else "generate"

    builder = StateGraph(CodeTestState)
    builder.add_node("generate", generate)
    builder.add_node("run_tests", run_tests)
    builder.add_edge(START, "generate")
    builder.add_edge("generate", "run_tests")
    builder.add_conditional_edges("run_tests", after_tests, {"generate": "generate", END: END})
    return builder.compile(name="code_test")


def make_input(rng: random.Random) -> dict[str, Any]:
    """A problem and its plan: how many attempts fail (0..3) before the right one."""
    return {"problem": rng.choice(sorted(PROBLEMS)), "failures": rng.randint(0, 3)}


APP = ExampleApp(
    name="code_test",
    description="generate code (LLM) -> run tests in a subprocess; 0..3 planned failures",
    build=build,
    make_input=make_input,
)
"""The app, as ``EXAMPLES["code_test"]``."""
