"""``hermes status --scheduler redis://...`` shows the whole cluster: per backend running and
waiting across hosts and per host, apps with ranks, per-process fail-open counts; exit 1 when
Redis does not answer; unreadable records are counted, never shown as data."""

from __future__ import annotations

import json

import pytest

from hermes_agents.cli import main
from hermes_agents.scheduling.state import Usage
from hermes_agents.scheduling.ticket import Ticket
from tests.scheduling.redis.conftest import RedisServer
from tests.scheduling.redis.helpers import ONE, host


def test_the_snapshot_shows_every_host(
    redis_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = host(redis_server.url, ONE), host(redis_server.url, ONE)
    running, waiting = Ticket("llm", estimate_s=2.0), Ticket("llm", estimate_s=0.5)
    a.submit(running)
    b.submit(waiting)
    redis_server.client().hset("hermes:{llm}:tickets", "999999999999", "junk")
    redis_server.client().zadd("hermes:{llm}:leases", {"999999999999": 1e15})
    a.renewed()
    assert main(["status", "--scheduler", redis_server.url, "--json"]) == 0
    state = json.loads(capsys.readouterr().out)
    llm = state["backends"]["llm"]
    assert (llm["max_concurrency"], llm["waiting"], llm["grants"]) == (1, 1, 1)
    assert llm["running"] == 2
    assert llm["unreadable_tickets"] == 1
    assert llm["hosts"] == {
        a.process: {"running": 1, "waiting": 0},
        b.process: {"running": 0, "waiting": 1},
    }
    assert state["apps"]["call:llm"] == {"running": 1, "waiting": 1, "best_rank": 0.5}
    assert state["hosts"][a.process]["unscheduled_calls"] == 0
    assert state["counters"] == {"unscheduled_calls": 0, "expired_leases": 0}
    assert main(["status", "--scheduler", redis_server.url, "--metrics"]) == 0
    metrics = capsys.readouterr().out
    assert 'hermes_backend_capacity{backend="llm"} 1\n' in metrics
    assert f'hermes_host_waiting{{backend="llm",process="{b.process}"}} 1\n' in metrics
    assert 'hermes_app_best_rank{app="call:llm"} 0.5\n' in metrics
    assert "hermes_unscheduled_calls_total 0\n" in metrics
    assert main(["status", "--scheduler", redis_server.url]) == 0
    table = capsys.readouterr().out
    assert "Calls per host" in table
    assert b.process[:20] in table
    a.release(running, Usage())
    redis_server.client().zrem("hermes:{llm}:leases", "999999999999")
    b.withdraw(waiting)
    a.close()
    b.close()


def test_no_redis_is_exit_1_with_the_address(
    redis_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    redis_server.kill()
    assert main(["status", "--scheduler", redis_server.url, "--json"]) == 1
    assert f"no Redis answered at {redis_server.url}" in capsys.readouterr().err
