"""Client window, engine priority and ``auto`` in the simulator, and ``hermes bench --capacity``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hermes_agents.cli import main
from hermes_agents.engine_limits import EngineLimits, Preempt, Queueing
from hermes_agents.errors import ValidationError
from hermes_agents.pdgraph import Workload
from hermes_agents.priority import engine_priority
from hermes_agents.scheduling import BackendLimits, SchedulerCore, policy_named
from hermes_agents.sim.capacity_bench import variants
from hermes_agents.sim.enforce import ENGINE_WINDOW, Capacity, EnginePriorities
from hermes_agents.sim.servers import EngineShape
from hermes_agents.sim.simulator import SimConfig, SimResult, simulate
from hermes_agents.workloads import builtin

PRIORITY_ENGINE = EngineShape(limits=EngineLimits(max_num_seqs=8, scheduling=Queueing.PRIORITY))


def run(
    capacity: Capacity, *, load: float = 2.0, apps: int = 60, policy: str = "gittins"
) -> SimResult:
    config = SimConfig(
        policy=policy, load=load, seed=3, apps=apps, engine=PRIORITY_ENGINE, capacity=capacity
    )
    return simulate(builtin("paper-mix"), config)


def test_a_client_window_within_the_batch_keeps_the_engine_queue_empty() -> None:
    stats = run(Capacity("client", 8)).engines["llm"]
    assert stats["max_queued_s"] < 0.1  # at most to the next step boundary (< 25 ms steps)
    assert stats["peak_running"] == 8
    wide = run(Capacity("client", 64)).engines["llm"]
    assert wide["max_queued_s"] > 10  # beyond the batch, calls queue inside the engine


def test_engine_mode_sends_everything_and_the_engine_queues_it() -> None:
    result = run(Capacity("engine"))
    assert result.engines["llm"]["peak_waiting"] > 8
    assert np.isfinite(result.act_s).all()


def test_engine_priority_beats_a_wide_fcfs_window_and_tracks_the_client_order() -> None:
    wide = run(Capacity("client", 64)).act_s.mean()  # order lost in the engine's FCFS queue
    engine = run(Capacity("engine")).act_s.mean()
    client = run(Capacity("client", 8)).act_s.mean()
    assert engine < wide
    assert engine == pytest.approx(client, rel=0.15)


def test_batch_preemption_preempts_and_kv_only_does_not_without_kv_pressure() -> None:
    for trigger, preempts in ((Preempt.KV, False), (Preempt.BATCH, True)):
        limits = EngineLimits(max_num_seqs=8, scheduling=Queueing.PRIORITY, preempt=trigger)
        config = SimConfig(
            load=2.0,
            seed=3,
            apps=40,
            engine=EngineShape(limits=limits),
            capacity=Capacity("engine"),
        )
        stats = simulate(builtin("paper-mix"), config).engines["llm"]
        assert (stats["preemptions"] > 0) is preempts


def test_auto_finds_the_engines_batch_from_its_metrics_alone() -> None:
    result = run(Capacity("client", "auto"), load=3.0, apps=120)
    stats = result.engines["llm"]
    assert 7 <= stats["window"] <= 9  # the engine runs 8; auto was never told
    assert stats["window_moves"] > 3


def test_the_default_is_the_workloads_window_and_engine() -> None:
    mix = builtin("paper-mix")
    plain = simulate(mix, SimConfig(apps=20, seed=1))
    same = simulate(mix, SimConfig(apps=20, seed=1, capacity=Capacity()))
    assert np.array_equal(plain.act_s, same.act_s)
    assert plain.engines == {}  # the unbounded engine model, as before


def test_capacity_choices_are_validated_and_labelled() -> None:
    with pytest.raises(ValidationError, match="--cap"):
        Capacity(max_concurrency=0)
    with pytest.raises(ValidationError, match="--enforce"):
        Capacity(enforce="server")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="--capacity"):
        variants("8,lots")
    assert [v.label() for v in variants("8,auto,engine,both,both-16,both-auto")] == [
        "cap 8",
        "auto",
        "engine",
        "both",
        "both cap 16",
        "both auto",
    ]
    assert Capacity("engine").window(builtin("paper-mix").backends["llm"]) == ENGINE_WINDOW


def workload_with(engine: Any, enforce: str = "both", kind: str = "llm") -> dict[str, Any]:
    stage = {"kind": kind, "backend": "b", "next": {"END": 1.0}}
    llm = {"prompt_tokens": {"const": 50}, "output_tokens": {"const": 5}}
    stage |= {"seconds": {"const": 1}} if kind == "tool" else llm
    backend = {"kind": kind, "max_concurrency": 4, "enforce": enforce, "engine": engine}
    return {
        "name": "w",
        "apps": {"a": {"weight": 1, "entry": "s", "stages": {"s": stage}}},
        "backends": {"b": backend},
    }


def test_a_workload_backend_declares_its_engine_and_enforcement() -> None:
    data = workload_with({"max_num_seqs": 32, "kv_cache_tokens": 9000, "scheduling": "priority"})
    workload = Workload.from_dict(data)
    spec = workload.backends["b"]
    assert (spec.enforce, spec.engine) == (
        "both",
        EngineLimits(max_num_seqs=32, kv_cache_tokens=9000, scheduling=Queueing.PRIORITY),
    )
    assert Workload.from_dict(workload.to_dict()).backends["b"] == spec


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (workload_with({"max_num_seqs": 0}), r"backend 'b', field 'engine'.*max_num_seqs"),
        (workload_with({"preempt": "often"}), "use one of off, kv, batch"),
        (workload_with({}, enforce="bothh"), "did you mean .both."),
        (workload_with({}, kind="tool"), "apply to llm backends only"),
    ],
)
def test_bad_engine_fields_name_the_backend_and_field(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Workload.from_dict(data)


def test_the_bench_command_compares_windows_with_throughput(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "runs.json"
    argv = ["bench", "--policies", "fcfs,gittins", "--apps", "30", "--seeds", "1"]
    argv += ["--engine-seqs", "8", "--capacity", "4,8,auto,engine", "--json", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "client window and enforcement" in printed
    assert "req/s" in printed
    runs = json.loads(out.read_text())["runs"]
    assert len(runs) == 8
    assert {r["variant"] for r in runs} == {"cap 4", "cap 8", "auto", "engine"}
    assert all(r["requests_per_s"] > 0 and r["tokens_per_s"] > 0 for r in runs)
    assert all(r["engines"]["llm"]["peak_running"] <= 8 for r in runs)


def test_engine_flags_are_checked(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--engine-seqs", "8", "--preempt", "sometimes", "--apps", "5"]) != 0
    assert "--preempt: 'sometimes' is not one of off, kv, batch" in capsys.readouterr().err
    assert main(["bench", "--engine-seqs", "0", "--apps", "5"]) != 0
    assert "--engine-seqs: must be >= 1" in capsys.readouterr().err


def test_each_grant_carries_its_runs_rank_bucketed_and_only_to_llm_engines() -> None:
    mix = builtin("paper-mix")
    limits = {"llm": BackendLimits(10), "docker": BackendLimits(10)}
    core = SchedulerCore(limits, policy_named("mean-srjf"), lambda: 0.0)
    priorities = EnginePriorities(core, mix.backends, Capacity("engine"))
    for run, estimate_s in (("short", 2.0), ("long", 200.0)):
        core.start_run(run, "one-call")
        core.submit(run, "llm", estimate_s=estimate_s)
    core.submit("short", "docker", estimate_s=2.0)
    grants = {(g.run_id, g.backend): priorities.of(g) for g in core.step().grants}
    assert grants[("short", "llm")] == engine_priority(2.0, "lower-first")
    assert grants[("long", "llm")] == engine_priority(200.0, "lower-first")
    assert grants[("short", "docker")] == 0.0  # tools take no priority
    client = EnginePriorities(core, mix.backends, Capacity("client", 8))
    assert client.sending == frozenset()
