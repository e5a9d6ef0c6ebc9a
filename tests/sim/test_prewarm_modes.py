"""Prewarming in the simulator: hints hide cold starts, baselines behave, results reproduce."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hermes_agents.cli import main
from hermes_agents.pdgraph import StageKind, Workload
from hermes_agents.sim import SimConfig, simulate
from hermes_agents.sim.bench import record
from hermes_agents.sim.plans import AppPlan, CallPlan, VisitPlan
from hermes_agents.workloads import builtin


def two_step_workload(plan_s: float = 6.0) -> Workload:
    """Plan on a warm CPU pool for ``plan_s``, then infer on a GPU that takes 3 s to wake."""
    return Workload.from_dict(
        {
            "name": "two-step",
            "apps": {
                "job": {
                    "entry": "plan",
                    "stages": {
                        "plan": {
                            "kind": "tool",
                            "backend": "cpu",
                            "seconds": {"const": plan_s},
                            "next": {"infer": 1.0},
                        },
                        "infer": {"kind": "tool", "backend": "gpu", "seconds": {"const": 1.0}},
                    },
                }
            },
            "backends": {
                "cpu": {"kind": "tool", "max_concurrency": 4},
                "gpu": {"kind": "tool", "max_concurrency": 4, "cold_start_s": 3, "idle_sleep_s": 5},
            },
            "arrivals": {"process": "poisson", "rate_per_s": 1.0, "count": 4},
        }
    )


def plans(count: int = 4, gap_s: float = 30.0) -> list[AppPlan]:
    """Apps far enough apart that the GPU falls asleep between them."""

    def visit(stage: str, backend: str, seconds: float) -> VisitPlan:
        return VisitPlan(stage, backend, StageKind.TOOL, (CallPlan(0, 0, 0, seconds, seconds),))

    return [
        AppPlan(i, "job", i * gap_s, (visit("plan", "cpu", 6.0), visit("infer", "gpu", 1.0)))
        for i in range(count)
    ]


def run(prewarm: str, **options: float) -> tuple[np.ndarray, np.ndarray, float, dict[str, float]]:
    config = SimConfig(policy="gittins", prewarm=prewarm, **options)  # type: ignore[arg-type]
    result = simulate(two_step_workload(), config, plans=plans())
    return result.act_s, result.cold_wait_s, result.warm_waste_s, result.prewarm.get("total", {})


def test_hermes_hides_every_cold_start_that_off_pays() -> None:
    act_off, cold_off, waste_off, _ = run("off")
    assert cold_off.tolist() == [3.0] * 4
    assert act_off.tolist() == [10.0] * 4
    act, cold, waste, hints = run("hermes")
    assert cold.tolist() == [0.0] * 4
    assert act.tolist() == [7.0] * 4
    assert (hints["wake_hints"], hints["hits"], hints["cold_wait_hidden_s"]) == (4, 4, 12.0)
    assert hints["hint_waste_s"] == pytest.approx(0.0)  # woken just in time
    assert waste == pytest.approx(waste_off)  # only the idle tails before each sleep


def test_reactive_wakes_at_the_previous_stage_and_lru_keeps_the_backend_awake() -> None:
    _, cold, waste, hints = run("reactive")
    assert cold.tolist() == [0.0] * 4  # woken at 'plan' entry, 6 s ahead of a 3 s cold start
    assert hints["hits"] == 4
    assert hints["hint_waste_s"] == pytest.approx(4 * 3.0)  # awake 3 s before each arrival
    _, cold, waste_lru, _ = run("lru", keepalive_s=30.0)
    assert cold.tolist() == [3.0, 0.0, 0.0, 0.0]  # apps 30 s apart: a 35 s idle window
    assert waste_lru > waste


def solo_workload() -> Workload:
    """One stage on a GPU that takes 3 s to wake and sleeps after 10 idle seconds."""
    return Workload.from_dict(
        {
            "name": "solo",
            "apps": {
                "job": {
                    "entry": "infer",
                    "stages": {
                        "infer": {"kind": "tool", "backend": "gpu", "seconds": {"const": 1.0}}
                    },
                }
            },
            "backends": {
                "gpu": {
                    "kind": "tool",
                    "max_concurrency": 4,
                    "cold_start_s": 3,
                    "idle_sleep_s": 10,
                }
            },
            "arrivals": {"process": "poisson", "rate_per_s": 1.0, "count": 10},
        }
    )


def test_hermes_keeps_a_backend_awake_for_apps_yet_to_arrive() -> None:
    """Apps every 15 s whose first stage runs on the GPU: no run in flight ever asks for it,
    and off's GPU sleeps 14 s after each app. From the 4th start on (3 gaps seen), the
    arrival rule keeps it awake: 1 - exp(-10 s / 15 s) ~ 0.49 >= K = 0.3."""
    job = (VisitPlan("infer", "gpu", StageKind.TOOL, (CallPlan(0, 0, 0, 1.0, 1.0),)),)
    apps = [AppPlan(i, "job", i * 15.0, job) for i in range(10)]
    cold = {}
    for mode in ("off", "hermes-partial", "hermes"):
        config = SimConfig(policy="gittins", prewarm=mode, prewarm_k=0.3)
        result = simulate(solo_workload(), config, plans=apps)
        cold[mode] = result.cold_wait_s.tolist()
    assert cold["off"] == cold["hermes-partial"] == [3.0] * 10  # in flight only: never hinted
    assert cold["hermes"][4:] == [0.0] * 6
    hints = result.prewarm["total"]
    assert hints["keep_hints"] > 0
    assert hints["hits"] >= 6
    assert hints["hint_waste_s"] > 0  # the ledger charges the kept idle seconds


def test_hermes_plain_is_the_papers_rule_and_hermes_credits_late_wakes() -> None:
    """A 2 s stage before a GPU that takes 3 s to wake: the plain rule never wakes it."""
    workload = two_step_workload(plan_s=2.0)
    short = [
        AppPlan(
            i,
            "job",
            i * 30.0,
            tuple(
                VisitPlan(stage, backend, StageKind.TOOL, (CallPlan(0, 0, 0, s, s),))
                for stage, backend, s in (("plan", "cpu", 2.0), ("infer", "gpu", 1.0))
            ),
        )
        for i in range(4)
    ]
    waits = {}
    for mode in ("hermes-plain", "hermes"):
        result = simulate(workload, SimConfig(prewarm=mode), plans=short)
        waits[mode] = result.cold_wait_s.tolist()
    assert waits["hermes-plain"] == [3.0] * 4
    assert waits["hermes"] == [1.0] * 4  # woken as the app arrives: 2 of the 3 s hidden


def test_a_prewarmed_run_reproduces_for_a_seed() -> None:
    mix = builtin("paper-mix-cold")
    config = SimConfig(policy="gittins", prewarm="hermes", seed=4, apps=40)
    first, second = simulate(mix, config), simulate(mix, config)
    np.testing.assert_array_equal(first.act_s, second.act_s)
    np.testing.assert_array_equal(first.cold_wait_s, second.cold_wait_s)
    assert first.prewarm == second.prewarm
    assert first.prewarm["total"]["hints"] > 0
    entry = record(first, "paper-mix-cold")
    assert {"cold_start_wait_s", "warm_waste_s", "prewarm_hints", "hinted_wakeups"} <= set(entry)
    assert entry["prewarm_hints"]["hints"] == first.prewarm["total"]["hints"]


def test_paper_mix_cold_has_cold_backends_and_the_same_apps_as_paper_mix() -> None:
    cold, warm = builtin("paper-mix-cold"), builtin("paper-mix")
    assert set(cold.apps) == set(warm.apps)
    sleepy = {name for name, spec in cold.backends.items() if spec.cold_start_s > 0}
    assert sleepy == {"docker", "dnn", "llm-verify"}
    assert cold.apps["factool_kbqa"].stages["verifies"].backend == "llm-verify"


def test_bench_compares_prewarm_modes_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.json"
    argv = ["bench", "--workload", "paper-mix-cold", "--policies", "gittins", "--seed", "2"]
    argv += ["--seeds", "1"]
    status = main([*argv, "--apps", "30", "--prewarm", "off,hermes", "--json", str(out)])
    assert status == 0
    runs = json.loads(out.read_text())["runs"]
    assert [r["prewarm"] for r in runs] == ["off", "hermes"]
    assert all(r["cold_start_wait_s"] >= 0 and r["warm_waste_s"] > 0 for r in runs)
    assert runs[1]["prewarm_hints"]["hints"] > 0
    assert runs[0]["prewarm_hints"] == {}
    printed = capsys.readouterr().out
    assert "cold hidden" in printed
    assert "warm waste" in printed
