"""Apps over several hosts sharing one scheduler a round trip away (``sim/hosts.py``), and
``hermes bench --hosts N --coordinator-rtt-ms ...``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hermes_agents.cli import main
from hermes_agents.errors import ValidationError
from hermes_agents.sim.bench import run_bench
from hermes_agents.sim.hosts import Hosts, rtts_ms
from hermes_agents.sim.hosts_bench import HostsBenchSpec, hosts_rows
from hermes_agents.sim.simulator import SimConfig, simulate
from hermes_agents.workloads import builtin
from tests.sim.workloads import plan, pool_workload, tool_app

RTT_S = 0.25
"""A long round trip, so its effect is far above float noise."""


def test_a_lone_app_pays_exactly_one_round_trip_per_stage_visit() -> None:
    # submit travels RTT/2, the grant RTT/2 back; the release and the next visit's submit
    # travel together, so each of the 3 visits waits one round trip before its call starts
    plans = [plan(0, "a", 0.0, ("work", 1.0), ("work", 2.0), ("work", 0.5))]
    workload = pool_workload({"a": tool_app([1.0])})
    single = simulate(workload, SimConfig(policy="fcfs"), plans=plans)
    spread = simulate(workload, SimConfig(policy="fcfs", hosts=Hosts(3, RTT_S)), plans=plans)
    assert single.act_s.tolist() == pytest.approx([3.5])
    assert spread.act_s.tolist() == pytest.approx([3.5 + 3 * RTT_S])


def test_a_busy_slot_idles_one_round_trip_between_calls() -> None:
    # capacity 1, two apps at 0: the second call starts after the first's release reached
    # the coordinator (RTT/2) and the grant came back (RTT/2)
    plans = [plan(0, "a", 0.0, ("work", 1.0)), plan(1, "a", 0.0, ("work", 1.0))]
    workload = pool_workload({"a": tool_app([1.0])}, capacity=1)
    result = simulate(workload, SimConfig(policy="fcfs", hosts=Hosts(2, RTT_S)), plans=plans)
    assert result.act_s.tolist() == pytest.approx([1.0 + RTT_S, 2.0 + 2 * RTT_S])


def test_many_hosts_with_no_round_trip_are_the_single_scheduler_exactly() -> None:
    workload = builtin("paper-mix")
    config = SimConfig(policy="gittins", apps=150, seed=4, load=2)
    single = simulate(workload, config)
    spread = simulate(workload, SimConfig(policy="gittins", apps=150, seed=4, load=2,
                                          hosts=Hosts(100, 0.0)))  # fmt: skip
    assert np.array_equal(single.act_s, spread.act_s)


def test_a_longer_round_trip_costs_more_on_a_loaded_backend() -> None:
    workload = builtin("paper-mix")
    means = [
        float(simulate(workload, SimConfig(apps=200, seed=1, load=2, hosts=Hosts(10, rtt_s)))
              .act_s.mean())
        for rtt_s in (0.0, 0.5, 5.0)
    ]  # fmt: skip
    assert means[0] < means[1] < means[2]


def test_bad_hosts_and_round_trips_name_their_flag() -> None:
    for bad in (0, -1, 2_000_000):
        with pytest.raises(ValidationError, match="--hosts"):
            Hosts(bad)
    for text in ("abc", "-1", "nan", "inf", "20000", ",", ""):
        with pytest.raises(ValidationError, match="--coordinator-rtt-ms"):
            rtts_ms(text)
    assert rtts_ms(" 1, 0.1,1 ") == (1.0, 0.1)
    with pytest.raises(ValidationError, match="--coordinator-rtt-ms"):
        Hosts(1, float("nan"))


def test_rows_compare_each_layout_with_the_single_scheduler() -> None:
    spec = HostsBenchSpec("paper-mix", ("fcfs", "gittins"), apps=30, hosts=5, rtts_ms=(0.0, 2.0))
    rows = hosts_rows(run_bench(spec), 1.0)
    layouts = [(row.policy, row.hosts, row.rtt_ms) for row in rows]
    assert layouts == [
        ("fcfs", 1, 0.0), ("fcfs", 5, 0.0), ("fcfs", 5, 2.0),
        ("gittins", 1, 0.0), ("gittins", 5, 0.0), ("gittins", 5, 2.0),
    ]  # fmt: skip
    assert [row.mean_change for row in rows if row.rtt_ms == 0] == [0.0] * 4
    assert all(row.pooled.act_s.size == 30 for row in rows)


def test_the_command_prints_the_comparison_and_writes_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "hosts.json"
    flags = ["--policies", "gittins", "--apps", "20", "--seeds", "1", "--json", str(out)]
    assert main(["bench", *flags, "--hosts", "8", "--coordinator-rtt-ms", "0.1,20"]) == 0
    printed = capsys.readouterr().out
    assert "ordering across hosts" in printed
    assert "vs single" in printed
    runs = json.loads(out.read_text())["runs"]
    assert [(r["hosts"], r["coordinator_rtt_ms"]) for r in runs] == [(1, 0), (8, 0.1), (8, 20)]
    assert all(r["apps"] == 20 and r["policy"] == "gittins" for r in runs)


def test_one_flag_alone_takes_the_other_s_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--policies", "fcfs", "--apps", "5", "--seeds", "1",
                 "--coordinator-rtt-ms", "1"]) == 0  # fmt: skip
    assert "  100 " in capsys.readouterr().out  # 100 hosts by default


def test_bad_command_flags_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", "--apps", "5", "--hosts", "0"]) == 2
    assert "--hosts" in capsys.readouterr().err
    assert main(["bench", "--apps", "5", "--coordinator-rtt-ms", "fast"]) == 2
    assert "--coordinator-rtt-ms" in capsys.readouterr().err
    plot = str(tmp_path / "x.png")
    assert main(["bench", "--apps", "5", "--hosts", "3", "--plot", plot]) == 2
    assert "--plot" in capsys.readouterr().err
