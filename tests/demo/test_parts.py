"""The demo's plan, runner, summaries, table, plot and flags (no server needed)."""

from __future__ import annotations

import argparse
import random
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from hermes_agents.commands import demo as demo_command
from hermes_agents.demo.plan import make_plan
from hermes_agents.demo.plot import plot_demo
from hermes_agents.demo.report import comparison_table, headline
from hermes_agents.demo.runner import AppOutcome, run_plan
from hermes_agents.demo.scheduled import forget_stale
from hermes_agents.demo.session import DemoResult
from hermes_agents.demo.summary import RunSummary, Stats, reduction
from hermes_agents.errors import ValidationError
from hermes_agents.pdgraph import Call, StageKind, Visit
from hermes_agents.pdgraph.prior import structural_prior
from hermes_agents.store import ProfileStore


def _task(name: str, rng: random.Random) -> Mapping[str, Any]:
    return {"app": name, "steps": rng.randint(1, 5)}


def test_plan_is_seeded_poisson_and_follows_the_mix() -> None:
    plan = make_plan({"a": 3.0, "b": 1.0}, apps=400, rate_per_s=2.0, seed=7, make_input=_task)
    again = make_plan({"a": 3.0, "b": 1.0}, apps=400, rate_per_s=2.0, seed=7, make_input=_task)
    other = make_plan({"a": 3.0, "b": 1.0}, apps=400, rate_per_s=2.0, seed=8, make_input=_task)
    assert plan == again
    assert plan != other
    arrivals = [p.arrival_s for p in plan]
    assert arrivals == sorted(arrivals)
    assert arrivals[0] == 0.0
    assert arrivals[-1] / 399 == pytest.approx(0.5, rel=0.2)  # mean gap 1 / rate
    share_a = sum(p.app == "a" for p in plan) / len(plan)
    assert share_a == pytest.approx(0.75, abs=0.07)
    assert all(p.task["app"] == p.app for p in plan)


@pytest.mark.parametrize(
    ("mix", "apps", "rate"),
    [({}, 5, 1.0), ({"a": 0.0}, 5, 1.0), ({"a": 1.0}, 0, 1.0), ({"a": 1.0}, 5, 0.0)],
)
def test_plan_rejects_bad_settings(mix: dict[str, float], apps: int, rate: float) -> None:
    with pytest.raises(ValidationError):
        make_plan(mix, apps=apps, rate_per_s=rate, seed=0, make_input=_task)


def test_runner_invokes_each_app_at_its_arrival_and_reports_failures() -> None:
    plan = make_plan({"ok": 1.0, "bad": 1.0}, apps=8, rate_per_s=50.0, seed=1, make_input=_task)
    started: dict[int, float] = {}
    lock = threading.Lock()
    t0 = time.monotonic()

    def ok(task: Mapping[str, Any]) -> str:
        with lock:
            started[id(task)] = time.monotonic() - t0
        return "done"

    def bad(task: Mapping[str, Any]) -> str:
        raise RuntimeError("boom")

    seen: list[AppOutcome] = []
    outcomes = run_plan(plan, {"ok": ok, "bad": bad}, on_done=seen.append)
    assert [o.index for o in outcomes] == list(range(8))
    assert sorted(o.index for o in seen) == list(range(8))
    for planned, outcome in zip(plan, outcomes, strict=True):
        assert outcome.app == planned.app
        assert outcome.finished_s >= planned.arrival_s
        assert (outcome.error == "RuntimeError: boom") == (planned.app == "bad")
    for planned in plan:
        if planned.app == "ok":
            assert started[id(planned.task)] >= planned.arrival_s - 0.01


def test_summary_statistics_and_per_class_rows() -> None:
    outcomes = [AppOutcome(i, "a" if i % 2 else "b", 0.0, float(i + 1)) for i in range(10)]
    summary = RunSummary.of(outcomes)
    assert summary.overall == Stats(5.5, 5.5, pytest.approx(9.55), 10)  # type: ignore[arg-type]
    assert summary.by_class["a"].mean_s == 6.0  # 2, 4, 6, 8, 10
    assert summary.to_json()["by_class"]["b"]["apps"] == 5
    assert set(summary.to_json()) >= {"mean_s", "p50_s", "p95_s", "apps"}
    assert reduction(10.0, 4.0) == pytest.approx(0.6)
    assert reduction(0.0, 4.0) == 0.0


def _run(act_s: float, classes: tuple[str, ...] = ("a", "b")) -> RunSummary:
    """Four apps per class, each taking ``act_s`` (class b twice as long)."""
    return RunSummary.of(
        [
            AppOutcome(i, name, float(i), float(i) + act_s * (1 + k))
            for k, name in enumerate(classes)
            for i in range(4)
        ]
    )


def _result(no_limit: RunSummary, fcfs: RunSummary, hermes: RunSummary) -> DemoResult:
    cold = {"baseline_cold_starts": 5, "fcfs_cold_starts": 4, "hermes_cold_starts": 0}
    return DemoResult(no_limit, fcfs, hermes, "learned now", {**cold, "prewarm": True}, 1.0)


def test_the_table_shows_what_the_limit_gives_and_what_the_order_adds() -> None:
    console = Console(record=True, width=200)
    console.print(comparison_table(_run(10.0), _run(8.0), _run(4.0), slots=2))
    text = console.export_text()
    (row,) = [line for line in text.splitlines() if line.startswith("│ a ")]
    assert "10.0" in row
    assert "8.0 (-20%)" in row  # the limit alone, against no limit
    assert "4.0 (-50%)" in row  # Hermes' order, against the FCFS limit
    assert any(line.startswith("│ b ") for line in text.splitlines())
    assert "the same 2 slots in arrival order" in text
    assert "what the limit alone gives" in text


def test_the_headline_names_both_steps() -> None:
    lines = headline(_run(10.0), _run(8.0), _run(4.0), slots=2)
    assert lines[0].startswith("the limit alone (2 slots, arrival order): mean 20% lower")
    assert lines[1].startswith("Hermes' order on the same slots: mean 50% lower")
    assert lines[2] == "Hermes against no limit: mean 60% lower, p95 60% lower"
    slower = headline(_run(10.0), _run(12.0), _run(4.0), slots=2)
    assert "mean 20% higher" in slower[0]


def test_the_json_and_the_lines_hold_all_three_runs() -> None:
    result = _result(_run(10.0), _run(8.0), _run(4.0))
    data = result.to_json()
    assert {"baseline", "fcfs", "hermes"} <= set(data)
    assert data["labels"] == {"baseline": "no limit", "fcfs": "FCFS limit", "hermes": "Hermes"}
    assert data["fcfs"]["mean_s"] == pytest.approx(12.0)
    assert [label for label, _ in result.runs()] == ["no limit", "FCFS limit", "Hermes"]
    (cold, _) = result.prewarm_lines()
    assert "5 with no limit, 4 with FCFS limit, 0 with Hermes" in cold


def test_the_plot_has_a_panel_per_run(tmp_path: Path) -> None:
    result = _result(_run(10.0), _run(8.0), _run(4.0, ("a", "b", "c")))
    path = plot_demo(result.runs(), tmp_path / "demo.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("flags", "field"),
    [
        (["--apps", "0"], "--apps"),
        (["--rate", "0"], "--rate"),
        (["--slots", "0"], "--slots"),
        (["--plot", "out.svg"], "--plot"),
    ],
)
def test_bad_flags_name_the_flag(flags: list[str], field: str) -> None:
    parser = argparse.ArgumentParser()
    demo_command.add_arguments(parser)
    with pytest.raises(ValidationError, match=field):
        demo_command._options(parser.parse_args(flags))


def test_stored_runs_of_an_older_app_version_are_forgotten(tmp_path: Path) -> None:
    def run(*stages: str) -> tuple[Visit, ...]:
        return tuple(Visit(stage, StageKind.LLM, "llm", (Call(10, 5),)) for stage in stages)

    stages = {"draft": ["retrieve", "answer"], "retrieve": ["answer"], "answer": []}
    now = structural_prior("rag", "draft", stages)
    with ProfileStore(tmp_path / "profiles.sqlite3") as store:
        store.record_run("rag", run("retrieve", "answer"))  # before draft was added
        store.record_run("rag", run("draft", "retrieve", "answer"))
        store.record_run("react", run("draft", "retrieve"))
        store.record_run("react", run("draft", "gone"))  # a node that was removed
        store.record_run("qa", run("draft", "answer"))
        priors = {"rag": now, "react": now, "qa": now, "new": now, "unknown": None}
        assert forget_stale(store, priors) == ["rag", "react"]
        assert store.runs("rag") == store.runs("react") == []
        assert len(store.runs("qa")) == 1  # fits: kept
