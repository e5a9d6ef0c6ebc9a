"""``hermes demo`` end to end, small: the real llama.cpp servers, the real example apps, all
three runs (no limit, FCFS limit, Hermes), the table, the plot and the JSON (CI runs this; no
timing is asserted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hermes_agents.cli import main

pytestmark = pytest.mark.slow


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model_path: Path) -> Path:
    """A fresh data directory whose model cache is the test session's (no refetch)."""
    data = tmp_path / "data"
    (data / "models").mkdir(parents=True)
    (data / "models" / model_path.name).symlink_to(model_path)
    monkeypatch.setenv("HERMES_DATA_DIR", str(data))
    return data


def test_demo_runs_three_ways_and_reports(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, plot = tmp_path / "demo.json", tmp_path / "demo.png"
    flags = ["--apps", "5", "--rate", "2", "--seed", "3", "--json", str(out), "--plot", str(plot)]
    assert main(["demo", *flags]) == 0
    printed = capsys.readouterr().out
    assert "FCFS limit" in printed
    assert "the limit alone (2 slots, arrival order)" in printed
    assert "learned now" in printed  # a fresh store: the warm-up pass ran
    result = json.loads(out.read_text())
    for run in ("baseline", "fcfs", "hermes"):
        assert set(result[run]) >= {"mean_s", "p50_s", "p95_s", "apps"}
        assert result[run]["apps"] == 5
        assert result[run]["failed"] == 0
        assert result[run]["mean_s"] > 0
    cold = {"baseline_cold_starts", "fcfs_cold_starts", "hermes_cold_starts", "hints"}
    assert set(result["prewarm"]) >= cold
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    stored = list(data_dir.glob("demo-profiles.sqlite3"))
    assert stored  # the profiles it learned stay for the next demo

    # The second demo finds the profiles learned by the first.
    assert main(["demo", "--apps", "2", "--rate", "4", "--plot", str(plot)]) == 0
    assert "from the store" in capsys.readouterr().out
