"""``hermes graph`` on a profile store filled by real instrumented LangGraph runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from hermes_agents import settings
from hermes_agents.cli import main
from hermes_agents.langgraph import instrument
from hermes_agents.pdgraph import PDGraph
from hermes_agents.scheduling import BackendLimits, LocalScheduler, Usage
from hermes_agents.scheduling.interface import Scheduler
from hermes_agents.scheduling.models import AppModels
from hermes_agents.store import FILE_NAME, ProfileStore
from tests.branching import branching_graph, goes_left

RUNS = 40
PNG_HEADER = b"\x89PNG\r\n\x1a\n"


def _goes_left(seed: int) -> bool:
    return goes_left(seed, 0.3)


def _branching(scheduler: Scheduler) -> Any:
    return branching_graph(scheduler, share=0.3, usage=Usage(prompt_tokens=250, output_tokens=50))


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding RUNS runs of ``branching`` and 3 of ``other``, made by real runs."""
    path = tmp_path_factory.mktemp("graph") / "profiles.sqlite3"
    with ProfileStore(path) as store:
        scheduler = LocalScheduler.in_process(
            {"llm": BackendLimits(1)}, models=AppModels(store=store)
        )
        app = instrument(_branching(scheduler), scheduler=scheduler)
        for seed in range(RUNS):
            app.invoke({"seed": seed, "path": []})
        other = instrument(_branching(scheduler), name="other", scheduler=scheduler)
        for seed in range(3):
            other.invoke({"seed": seed, "path": []})
    return path


LEFTS = sum(_goes_left(seed) for seed in range(RUNS))
LEFT = (LEFTS + 2 * 0.5) / (RUNS + 2)
"""The learned share of ``left``: the runs blended with the graph's prior (two even-odds
runs' worth, ``Learner.prior_weight``), which the instrumented app kept in the store."""
RIGHT = 1 - LEFT


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["graph", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_table_shows_stages_visits_demand_and_successors(
    store_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = _run(capsys, "branching", "--store", str(store_path))
    assert status == 0
    assert f"PDGraph version {RUNS}, learned from {RUNS} stored run(s); entry route" in out
    rows = {
        cells[0]: cells
        for line in out.splitlines()
        if "│" in line and (cells := [c.strip() for c in line.strip("│ ").split("│")])
    }
    left, right = LEFT, RIGHT
    assert rows["route"][1:5] == ["tool", "local", str(RUNS), "0 s"]
    assert rows["route"][5] == f"right {right:.2f}, left {left:.2f}"  # likeliest first
    assert rows["left"][1:6] == ["llm", "llm", str(LEFTS), "250 in / 50 out tok", "END 1.00"]
    assert rows["right"][3] == str(RUNS - LEFTS)


def test_json_gives_the_learned_probabilities_visits_and_the_graph(
    store_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = _run(capsys, "branching", "--store", str(store_path), "--json")
    assert status == 0
    data = json.loads(out)
    assert (data["app"], data["runs"], data["version"], data["entry"]) == (
        "branching",
        RUNS,
        RUNS,
        "route",
    )
    route = data["stages"]["route"]
    assert route["next"] == pytest.approx({"left": LEFT, "right": RIGHT})
    assert route["visits"] == RUNS
    assert data["stages"]["left"]["visits"] == LEFTS
    assert data["stages"]["left"]["mean"]["prompt_tokens"] == 250
    assert data["stages"]["right"]["backend"] == "local"
    graph = PDGraph.from_dict(data["pdgraph"])  # the workload format, ready for hermes bench
    assert graph.successors("route") == route["next"]


def test_without_the_stored_prior_the_runs_alone_count(
    store_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "without-prior.sqlite3"
    shutil.copy(store_path, copy)
    with ProfileStore(copy) as store:
        assert store.prior("branching") is not None  # the instrumented app kept it
        runs = store.runs("branching")
        store.forget("branching")
        for run in runs:
            store.record_run("branching", run)
    status, out, _ = _run(capsys, "branching", "--store", str(copy), "--json")
    assert status == 0
    left = json.loads(out)["stages"]["route"]["next"]["left"]
    assert left == pytest.approx(LEFTS / RUNS)


def test_mermaid(store_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(capsys, "branching", "--store", str(store_path), "--mermaid")
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == "flowchart TD"
    ids = {line.split("<b>")[1].split("</b>")[0]: line.split("[")[0].strip() for line in lines[2:5]}
    assert set(ids) == {"route", "left", "right"}
    assert f"    start --> {ids['route']}" in lines
    assert f'    {ids["route"]} -->|"{LEFT:.2f}"| {ids["left"]}' in lines
    assert f'    {ids["route"]} -->|"{RIGHT:.2f}"| {ids["right"]}' in lines
    assert f'    {ids["left"]} -->|"1.00"| stop' in lines
    assert "250 in / 50 out tok" in lines[2 + list(ids).index("left")]


def test_png(store_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_path = tmp_path / "branching.png"
    status, out, _ = _run(capsys, "branching", "--store", str(store_path), "--png", str(out_path))
    assert status == 0
    assert out == f"wrote {out_path}\n"
    assert out_path.read_bytes().startswith(PNG_HEADER)
    status, _, err = _run(capsys, "branching", "--store", str(store_path), "--png", "x.svg")
    assert status == 2
    assert "--png" in err
    assert "must end in .png" in err


def test_list(store_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(capsys, "--list", "--store", str(store_path))
    assert status == 0
    runs = {
        cells[0]: int(cells[1])
        for line in out.splitlines()
        if "│" in line and len(cells := [c.strip() for c in line.strip("│ ").split("│")]) == 4
    }
    assert runs == {"branching": RUNS, "other": 3}


def test_unknown_app_lists_the_known_ones(
    store_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _run(capsys, "brnaching", "--store", str(store_path))
    assert status == 2
    assert out == ""
    assert "no app 'brnaching'" in err
    assert "known apps: branching, other" in err
    status, _, err = _run(capsys, "--store", str(store_path))
    assert status == 2
    assert "--list" in err


def test_default_store_and_a_missing_store(
    store_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    default = settings.data_dir() / FILE_NAME
    status, _, err = _run(capsys, "branching")
    assert status == 2
    assert f"no profile store at '{default}'" in err
    assert not default.exists()  # looking never creates a store
    default.parent.mkdir(parents=True)
    shutil.copy(store_path, default)
    status, out, _ = _run(capsys, "branching", "--json")
    assert status == 0
    assert json.loads(out)["runs"] == RUNS


def test_a_file_that_is_not_a_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("hello", encoding="utf-8")
    status, _, err = _run(capsys, "--list", "--store", str(bogus))
    assert status == 2
    assert "not an SQLite database" in err


def test_bad_stored_runs_are_listed_and_removed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from hermes_agents.pdgraph import Call, StageKind, Visit
    from hermes_agents.store import ProfileStore

    path = tmp_path / "profiles.sqlite3"
    with ProfileStore(path) as store:
        good = [Visit("think", StageKind.LLM, "llm", (Call(10, 2, seconds=0.1),))]
        for _ in range(3):
            store.record_run("qa", good)
        store.record_run("qa", [Visit("think", StageKind.TOOL, "tools", (Call(seconds=1.0),))])
        with store._connected(write=True) as conn:  # a row written by a broken old version
            conn.execute(
                "INSERT INTO runs (app, observed_at, visits) VALUES (?, 0, ?)",
                ("qa", '[{"stage": 1}]'),
            )
    assert main(["graph", "qa", "--store", str(path), "--bad"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == 2
    assert all(line.startswith("run ") for line in listed)
    assert main(["graph", "qa", "--store", str(path), "--remove-bad"]) == 0
    assert "removed 2 bad run(s)" in capsys.readouterr().out
    with ProfileStore(path) as store:
        assert len(store.runs("qa")) == 3
        assert store.bad_runs("qa") == []
