"""Bad deadlines and tiers at every boundary (issue 17): NaN, infinities, negatives, zero,
1e308, booleans and unknown tier names are refused where they enter, with the field named:
``Scheduler.run``, ``instrument``, LangGraph metadata, the daemon protocol, the TOML config and
the workload file. Nothing bad reaches a queue's order."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from hermes_agents.config import parse_config
from hermes_agents.errors import ValidationError
from hermes_agents.pdgraph import Workload
from hermes_agents.scheduling import BackendLimits, LocalScheduler, SchedulerCore
from hermes_agents.scheduling.daemon.protocol import ProtocolError, decode
from hermes_agents.scheduling.daemon.service import DaemonService
from hermes_agents.scheduling.policies import policy_named
from hermes_agents.scheduling.state import UNLIMITED
from hermes_agents.scheduling.tiers import Tier

BAD_SECONDS: list[Any] = [math.nan, math.inf, -math.inf, -1.0, 0.0, 1e308, True, "5", None]


@pytest.mark.parametrize("value", BAD_SECONDS[:-1], ids=repr)
def test_scheduler_run_refuses_bad_deadlines(value: Any) -> None:
    scheduler = LocalScheduler.in_process()
    with pytest.raises(ValidationError, match="field 'deadline_s'"):
        scheduler.run("qa", deadline_s=value)
    assert scheduler.core.runs == {}


@pytest.mark.parametrize("value", [math.nan, math.inf, True, "soon"], ids=repr)
def test_scheduler_run_refuses_bad_absolute_deadlines(value: Any) -> None:
    with pytest.raises(ValidationError, match="field 'deadline'"):
        LocalScheduler.in_process().run("qa", deadline=value)


def test_scheduler_run_refuses_two_deadlines_and_unknown_tiers() -> None:
    scheduler = LocalScheduler.in_process()
    with pytest.raises(ValidationError, match="not both"):
        scheduler.run("qa", deadline=1.0, deadline_s=1.0)
    with pytest.raises(ValidationError, match="unknown tier 'critcal' \\(did you mean 'critical'"):
        scheduler.run("qa", tier="critcal")
    with pytest.raises(ValidationError, match="unknown tier 3"):
        scheduler.run("qa", tier=3)  # type: ignore[arg-type]


def test_a_good_run_carries_its_deadline_and_tier_into_the_core() -> None:
    scheduler = LocalScheduler.in_process(policy="hermes-ddl+tiers")
    with scheduler.run("qa", deadline_s=5.0, tier="critical") as scope:
        run = scheduler.core.runs[scope.run_id]
        assert run.tier is Tier.CRITICAL
        assert run.deadline is not None
        assert 4.0 < run.deadline - scheduler.core.clock() <= 5.0


@pytest.mark.parametrize("value", [-1, 0, 1e308, "1", True, [1]], ids=repr)
def test_the_protocol_refuses_bad_relative_deadlines(value: Any) -> None:
    line = json.dumps({"op": "run", "run": "r", "app": "qa", "deadline_s": value}).encode()
    with pytest.raises(ProtocolError, match="deadline_s"):
        decode(line)


def test_the_protocol_refuses_nan_and_infinity() -> None:
    for token in (b"NaN", b"Infinity", b"-Infinity"):
        with pytest.raises(ProtocolError):
            decode(b'{"op":"run","run":"r","app":"qa","deadline_s":' + token + b"}")


def _service() -> tuple[DaemonService, list[bytes], Any]:
    core = SchedulerCore(
        {"llm": BackendLimits(1)},
        policy_named("hermes-ddl+tiers"),
        lambda: 100.0,
        default_limits=UNLIMITED,
    )
    service = DaemonService(core)
    sent: list[bytes] = []
    session = service.open(sent.append, lambda: None, needs_token=False)
    service.receive(session, b'{"op":"hello","version":1}')
    service.flush()
    return service, sent, session


def test_the_daemon_refuses_unknown_tiers_and_keeps_the_session() -> None:
    service, sent, session = _service()
    for tier in (b'"urgent"', b"7"):
        service.receive(session, b'{"op":"run","run":"r","app":"qa","tier":' + tier + b"}")
        service.flush()
        answer = json.loads(sent[-1])
        assert answer["op"] == "error"
        assert "tier" in answer["error"]
    assert service.core.runs == {}
    assert not session.closed
    service.receive(
        session, b'{"op":"run","run":"r","app":"qa","tier":"sheddable","deadline_s":30}'
    )
    service.flush()
    (run,) = service.core.runs.values()
    assert (run.tier, run.deadline) == (Tier.SHEDDABLE, 130.0)


@pytest.mark.parametrize(
    ("table", "fragment"),
    [
        ({"tier": "urgent"}, "field 'tier': unknown tier 'urgent'"),
        ({"slo_s": math.nan}, "field 'slo_s': must be a number of seconds > 0"),
        ({"slo_s": -5}, "field 'slo_s'"),
        ({"slo_s": 1e308}, "field 'slo_s'"),
        ({"slo_s": True}, "field 'slo_s'"),
        ({"deadline_s": 5}, "unknown key(s) 'deadline_s'"),
    ],
)
def test_the_config_refuses_bad_app_levels(table: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_config({"apps": {"chat": table}})
    assert str(caught.value).startswith("apps.chat")
    assert fragment in str(caught.value)


def _workload(app_fields: dict[str, Any]) -> dict[str, Any]:
    stage = {"kind": "tool", "backend": "pool", "seconds": {"const": 1.0}}
    return {
        "name": "w",
        "apps": {"qa": {"entry": "a", "stages": {"a": stage}, **app_fields}},
        "backends": {"pool": {"kind": "tool"}},
    }


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"tier": "gold"}, "app 'qa', field 'tier': unknown tier 'gold'"),
        ({"deadline": {"share": 1.5}}, "'share': must be a number from 0 to 1"),
        ({"deadline": {"share": math.nan}}, "'share'"),
        ({"deadline": {"factors": []}}, "'factors'"),
        ({"deadline": {"factors": [2, -1]}}, "'factors': must be a number > 0"),
        ({"deadline": {"scale": math.inf}}, "'scale'"),
        ({"deadline": {"base_s": 1e308}}, "'base_s'"),
        ({"deadline": {"shares": 1}}, "unknown key(s) ['shares']"),
        ({"deadline": 5}, "field 'deadline'"),
    ],
)
def test_the_workload_file_refuses_bad_service_levels(
    fields: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        Workload.from_dict(_workload(fields))
    assert fragment in str(caught.value)


def test_the_workload_file_round_trips_its_service_levels() -> None:
    fields = {"tier": "critical", "deadline": {"share": 0.5, "factors": [2.0], "base_s": 10.0}}
    workload = Workload.from_dict(_workload(fields))
    assert workload.level("qa").tier is Tier.CRITICAL
    again = Workload.from_json(workload.to_json())
    assert again.service == workload.service
