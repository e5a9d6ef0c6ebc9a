"""Importing the package or the scheduling core loads nothing heavy (checked in a fresh
interpreter): no SQLite, httpx, LangChain, matplotlib, rich, or the daemon's client."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = (
    "sqlite3",
    "httpx",
    "langchain_core",
    "langgraph",
    "matplotlib",
    "rich",
    "hermes_agents.scheduling.daemon.client",
    "hermes_agents.store",
)


@pytest.mark.parametrize(
    "module",
    ["hermes_agents", "hermes_agents.scheduling", "hermes_agents.scheduling.core"],
)
def test_importing_loads_nothing_heavy(module: str) -> None:
    code = (
        f"import sys, json, {module}; "
        f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_the_public_names_still_load_on_use() -> None:
    code = (
        "import hermes_agents; "
        "from hermes_agents import instrument, tool; "
        "from hermes_agents.openai import OpenAI; "
        "from hermes_agents.langchain import HermesChatModel; "
        "from hermes_agents.scheduling import LocalScheduler, DaemonScheduler; "
        "print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"
