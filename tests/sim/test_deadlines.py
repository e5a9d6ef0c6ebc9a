"""Deadlines, SLOs and tiers in the simulator (issue 17), with seeds: the deadline draw, the
bench's deadline and tier figures (JSON and table), Hermes-DDL against FCFS and EDF, CALVO's
TTFT SLO attainment, and the critical tier under a burst of sheddable apps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hermes_agents.cli import main
from hermes_agents.sim.bench import BenchSpec, record, run_bench
from hermes_agents.sim.calvo import KINDS, SLO_FACTORS, isolated_ttft_s, slo_attainment
from hermes_agents.sim.deadline_metrics import DeadlineSummary
from hermes_agents.sim.deadlines import draw_deadlines, with_deadlines
from hermes_agents.sim.tiers import burst_effect
from hermes_agents.workloads import builtin


def test_deadlines_follow_hermes_setup_and_reproduce_with_the_seed() -> None:
    mix = with_deadlines(builtin("paper-mix"), 0.5)
    classes = ["react_fever"] * 400
    asked: list[str] = []

    def base_of(app: str) -> float:
        asked.append(app)
        return 40.0

    first = draw_deadlines(mix, classes, base_of, np.random.default_rng(7))
    again = draw_deadlines(mix, classes, base_of, np.random.default_rng(7))
    assert first == again
    assert asked == ["react_fever"] * 2  # once per class and draw
    given = [d for d in first if d is not None]
    assert 0.4 < len(given) / len(classes) < 0.6
    assert {round(d / (0.7 * 40.0), 6) for d in given} == {1.2, 1.5, 2.0}


def test_no_deadline_setup_draws_none() -> None:
    mix = builtin("paper-mix")
    drawn = draw_deadlines(mix, ["react_fever"] * 5, lambda app: 1.0, np.random.default_rng(0))
    assert drawn == [None] * 5


@pytest.fixture(scope="module")
def deadline_runs() -> dict[str, DeadlineSummary]:
    spec = BenchSpec(
        "paper-mix", ("fcfs", "edf", "hermes-ddl"), loads=(2.0,), apps=80, deadlines=1.0
    )
    return {r.config.policy: DeadlineSummary.of(r.act_s, r.deadlines_s) for r in run_bench(spec)}


def test_hermes_ddl_meets_more_deadlines_than_fcfs(
    deadline_runs: dict[str, DeadlineSummary],
) -> None:
    fcfs, edf, ddl = (deadline_runs[p].met for p in ("fcfs", "edf", "hermes-ddl"))
    assert fcfs is not None
    assert edf is not None
    assert ddl is not None
    assert ddl > fcfs
    assert ddl >= edf - 0.05
    assert deadline_runs["fcfs"].apps == 80


def test_the_bench_record_carries_deadline_and_tier_figures() -> None:
    (result,) = run_bench(BenchSpec("paper-mix", ("hermes-ddl",), apps=20, deadlines=0.5))
    entry = record(result, "paper-mix")
    assert 0 < entry["deadline_apps"] < 20
    assert 0.0 <= entry["deadline_met"] <= 1.0
    assert entry["no_deadline_mean_s"] > 0
    assert entry["by_tier"]["standard"]["apps"] == 20
    json.dumps(entry)  # JSON-ready


def test_hermes_bench_prints_and_writes_deadline_satisfaction(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "runs.json"
    argv = ["bench", "--policies", "fcfs,hermes-ddl+tiers", "--apps", "15", "--seeds", "1"]
    assert main([*argv, "--deadlines", "0.5", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "deadline met" in printed
    assert "no-deadline mean" in printed
    runs = json.loads(out.read_text())["runs"]
    assert {run["policy"] for run in runs} == {"fcfs", "hermes-ddl+tiers"}
    assert all("deadline_met" in run and "by_tier" in run for run in runs)


@pytest.mark.parametrize("share", ["0", "1.5", "nan"])
def test_hermes_bench_refuses_a_bad_share(share: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--deadlines", share, "--apps", "5"]) != 0
    assert "--deadlines" in capsys.readouterr().err


def test_calvo_slos_come_from_the_interference_free_ttft() -> None:
    alone = {name: isolated_ttft_s(kind) for name, kind in KINDS.items()}
    assert alone["remote-long"] > alone["cpu-mid"] > alone["cold-short"] > 0
    assert SLO_FACTORS == (2.0, 4.0, 8.0)


def test_load_aware_least_slack_attains_more_ttft_slos_than_edf_and_fifo() -> None:
    met = {
        order: slo_attainment(order, requests=600, rate_per_s=3.5, max_concurrency=1, seed=0)
        for order in ("fifo", "edf", "least-slack")
    }
    # an overloaded engine: EDF keeps serving requests already late, least slack demotes them
    assert met["least-slack"] > met["edf"] + 0.15
    assert met["least-slack"] > 1.5 * met["fifo"]


def test_tiers_shield_the_critical_tier_from_a_sheddable_burst() -> None:
    plain = burst_effect("gittins", apps=60, burst=30, burst_at_s=100.0, seed=0)
    tiered = burst_effect("gittins+tiers", apps=60, burst=30, burst_at_s=100.0, seed=0)
    assert plain.quiet_p95_s == tiered.quiet_p95_s  # nothing sheddable: the same runs
    assert tiered.p95_change < plain.p95_change
    assert tiered.sheddable_mean_s > plain.sheddable_mean_s  # the burst waits instead
