"""The integrations/ scripts run: conformance checks against the fakes, the tools warm hook."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hermes_agents.backends import ToolAdapter
from tests.backends.helpers import hint

pytestmark = pytest.mark.slow

INTEGRATIONS = Path(__file__).parents[2] / "integrations"


@pytest.mark.parametrize("name", ["vllm", "sglang", "ollama"])
def test_conformance_script_passes_against_the_fake(name: str) -> None:
    script = INTEGRATIONS / name / "conformance.py"
    done = subprocess.run(
        [sys.executable, str(script), "--fake"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all checks passed" in done.stdout
    assert "FAIL" not in done.stdout


def _hook(tmp_path: Path, *command: str) -> Iterator[str]:
    script = INTEGRATIONS / "tools" / "warm_hook.py"
    args = [sys.executable, str(script), "--port", "0", "--min-interval-s", "60", "--", *command]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def marker_hook(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A hook whose command appends the hinted app to a file."""
    log = tmp_path / "starts.txt"
    code = f"import os; open({str(log)!r}, 'a').write(os.environ['HERMES_APP'] + chr(10))"
    for url in _hook(tmp_path, sys.executable, "-c", code):
        yield url, log


def test_warm_hook_runs_the_command_once_per_interval(marker_hook: tuple[str, Path]) -> None:
    url, log = marker_hook
    with ToolAdapter(url, name="sandbox") as adapter:
        assert adapter.warm(hint("code_feedback")).ok
        assert adapter.warm(hint("factool_code")).ok  # within --min-interval-s: no second run
    assert log.read_text().splitlines() == ["code_feedback"]


def test_warm_hook_reports_a_failing_command(tmp_path: Path) -> None:
    for url in _hook(tmp_path, sys.executable, "-c", "import sys; sys.exit('no docker here')"):
        with ToolAdapter(url, name="sandbox") as adapter:
            result = adapter.warm()
        assert result.ok is False
        assert result.error is not None
        assert "500" in result.error
        assert "no docker here" in result.error
