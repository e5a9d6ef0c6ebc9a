"""``hermes bench`` end to end through ``hermes_agents.cli.main``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hermes_agents.cli import main

DESIGN_FIELDS = {
    "policy",
    "prewarm",
    "load",
    "seed",
    "apps",
    "mean_s",
    "p50_s",
    "p95_s",
    "p99_s",
    "cold_start_wait_s",
    "warm_waste_s",
}

SMALL = {
    "name": "small",
    "apps": {
        "qa": {
            "weight": 3,
            "entry": "answer",
            "stages": {
                "answer": {
                    "kind": "llm",
                    "backend": "llm",
                    "prompt_tokens": {"normal": [500, 100]},
                    "output_tokens": {"normal": [50, 10]},
                    "next": {"search": 0.5, "END": 0.5},
                },
                "search": {
                    "kind": "tool",
                    "backend": "search",
                    "seconds": {"lognormal": [1.0, 0.5]},
                    "next": {"answer": 1.0},
                },
            },
        },
        "summary": {
            "weight": 1,
            "entry": "map",
            "stages": {
                "map": {
                    "kind": "llm",
                    "backend": "llm",
                    "prompt_tokens": {"const": 400},
                    "output_tokens": {"normal": [100, 30]},
                    "fanout": {"uniform": [2, 6]},
                }
            },
        },
    },
    "backends": {
        "llm": {"kind": "llm", "max_concurrency": 4},
        "search": {"kind": "tool", "max_concurrency": 2, "cold_start_s": 2, "idle_sleep_s": 5},
    },
    "arrivals": {"process": "poisson", "rate_per_s": 0.5, "count": 12},
}


def bench(tmp_path: Path, *flags: str) -> tuple[int, dict[str, list[dict[str, object]]]]:
    out = tmp_path / "out.json"
    status = main(["bench", *flags, "--json", str(out)])
    return status, json.loads(out.read_text()) if out.exists() else {}


def test_bench_writes_one_record_per_combination_and_the_plot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workload = tmp_path / "small.json"
    workload.write_text(json.dumps(SMALL))
    plot = tmp_path / "act.png"
    status, data = bench(
        tmp_path,
        "--workload", str(workload),
        "--policies", "fcfs,gittins,oracle",
        "--load", "1,2",
        "--seed", "3",
        "--seeds", "2",
        "--plot", str(plot),
        "--by-class",
    )  # fmt: skip
    assert status == 0
    runs = data["runs"]
    assert len(runs) == 3 * 2 * 2
    assert all(set(run) >= DESIGN_FIELDS for run in runs)
    assert {(r["policy"], r["load"], r["seed"]) for r in runs} == {
        (p, load, s) for p in ("fcfs", "gittins", "oracle") for load in (1.0, 2.0) for s in (3, 4)
    }
    assert all(r["apps"] == 12 and r["prewarm"] == "off" for r in runs)
    assert any(float(r["cold_start_wait_s"]) > 0 for r in runs)  # type: ignore[arg-type]
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert "load 2" in printed
    assert "mean ACT by class" in printed
    assert "± sd" in printed  # two seeds: the spread across them


def test_bench_runs_with_no_flags_but_the_size(capsys: pytest.CaptureFixture[str]) -> None:
    """Bare ``hermes bench``: paper-mix, the default policies, seeds 0..2, no JSON written."""
    assert main(["bench", "--apps", "10"]) == 0
    printed = capsys.readouterr().out
    assert "load 1: app completion time (ACT), seconds; 3 seeds" in printed
    assert "ACT: app completion time (arrival to end), in seconds" in printed
    for policy in ("fcfs", "plas", "gittins", "oracle"):
        assert f"  {policy} " in printed
    assert "±" in printed
    assert "wrote" not in printed  # no --json, no --plot: nothing written


def test_one_seed_shows_no_spread(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, data = bench(tmp_path, "--apps", "10", "--seeds", "1", "--policies", "fcfs")
    assert status == 0
    assert [r["seed"] for r in data["runs"]] == [0]  # --seed defaults to 0
    printed = capsys.readouterr().out
    assert "; 1 seed" in printed
    assert "±" not in printed


def test_the_built_in_workload_by_name_and_a_seed_reproduces(tmp_path: Path) -> None:
    flags = (
        "--workload",
        "paper-mix",
        "--policies",
        "fcfs,gittins-class",
        "--seed",
        "1",
        "--seeds",
        "1",
    )
    first = bench(tmp_path, *flags, "--apps", "15")[1]
    second = bench(tmp_path, *flags, "--apps", "15")[1]
    assert first == second
    assert [r["policy"] for r in first["runs"]] == ["fcfs", "gittins-class"]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--policies", "fcfs,sjf"), "--policies: unknown policy sjf"),
        (("--policies", "fcfs,oracel"), "unknown policy oracel (did you mean 'oracle'?)"),
        (("--arrivals", "bursti"), "(did you mean 'bursty'?)"),
        (("--load", "0"), "--load: '0' is not a number > 0"),
        (("--load", "two"), "--load: 'two' is not a number > 0"),
        (("--prewarm", "off,warm"), "--prewarm: 'warm' is not one of off, reactive, lru, hermes"),
        (("--prewarm-k", "1.5"), "--prewarm-k: must be in (0, 1]"),
        (("--keepalive", "-1"), "--keepalive: must be >= 0 seconds"),
        (("--seeds", "0"), "--seeds: must be >= 1"),
        (("--arrivals", "weibull"), "--arrivals: 'weibull' is not one of poisson, bursty"),
        (("--plot", "act.svg"), "must end in .png"),
        (("--workload", "nope.json"), "--workload: no workload file 'nope.json'"),
    ],
)
def test_bad_flags_are_clear_errors(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    flags: tuple[str, ...],
    message: str,
) -> None:
    base = {"--workload": "paper-mix", "--policies": "fcfs", "--seed": "0", "--apps": "5"}
    base.update(dict(zip(flags[::2], flags[1::2], strict=True)))
    argv = [part for pair in base.items() for part in pair]
    status, _ = bench(tmp_path, *argv)
    assert status == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        (
            json.dumps({**SMALL, "apps": {"qa": {"entry": "x", "stages": {}}}}),
            "app 'qa'",
        ),
        (
            json.dumps(
                {
                    **SMALL,
                    "backends": {"llm": {"kind": "llm", "max_concurrency": 0}},
                }
            ),
            "backend 'llm'",
        ),
    ],
)
def test_a_bad_workload_file_names_the_file_and_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    workload = tmp_path / "bad.json"
    workload.write_text(text)
    status, _ = bench(tmp_path, "--workload", str(workload), "--policies", "fcfs", "--seed", "0")
    assert status == 2
    error = capsys.readouterr().err
    assert str(workload) in error
    assert message in error
