"""The README's first screen says how to adopt hermes-agents, and its two quick-start commands
stay exactly what CI runs."""

from __future__ import annotations

from pathlib import Path

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")

DEMO = "python3 -m venv .venv && .venv/bin/pip install -q -e '.[local]' && .venv/bin/hermes demo"
TESTS = (
    "python3 -m venv .venv && .venv/bin/pip install -q -e '.[dev]' && .venv/bin/python -m pytest"
)


def test_the_two_quick_start_commands_are_as_ci_runs_them() -> None:
    assert f"```bash\n{DEMO}\n```" in README
    assert f"```bash\n{TESTS}\n```" in README
    assert README.index(DEMO) < README.index(TESTS)


def test_the_first_screen_shows_install_and_adoption_before_internals() -> None:
    first = README[: README.index("## Quick start")]
    assert "pip install 'hermes-agents[local]'" in first
    assert "instrument(builder.compile()" in first
    assert "from hermes_agents.openai import OpenAI" in first
    assert "RemainingDemand" not in first
    assert "gittins_rank" not in first


def test_the_demo_table_and_plot_come_before_the_internals() -> None:
    internals = README.index("## What's inside")
    assert README.index("FCFS limit") < internals
    assert README.index("](docs/images/demo.png)") < internals
    assert "docs/compare.md" in README
