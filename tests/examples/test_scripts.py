"""The scripts in examples/ run as written: each starts its own llama.cpp server(s)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"

EXPECTED = {
    "rag.py": ["question: ", "draft: ", "answer: ", "rag: learned 'retrieve'"],
    "react.py": ["ToolMessage: ", "answer: ", "react: learned 'thought'"],
    "code_test.py": [
        "-> tests failed (AssertionError)",
        "-> tests passed",
        "code_test: learned 'run_tests'",
    ],
    "map_reduce.py": ["3 chunks", "summary: ", "map_reduce: learned 'summarize_chunk'"],
    "supervisor.py": ["supervisor -> researcher: ", "report: ", "supervisor: learned"],
}
"""Lines each script prints for the task of seed 3 (small: 2 tool calls, 1 failing attempt,
3 chunks, 2 turns)."""


@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_script_runs_as_written(script: str, model_path: Path) -> None:
    command = [sys.executable, str(EXAMPLES_DIR / script), "--tasks", "1", "--seed", "3"]
    command += ["--model", str(model_path), "--threads", "1"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    for line in EXPECTED[script]:
        assert line in done.stdout, done.stdout
