"""``hermes check`` with ``HERMES_SCHEDULER=redis://...``: says which Redis, its lease TTL,
whether it answers, and never prints the password."""

from __future__ import annotations

import pytest

from hermes_agents.commands.check import check_scheduler, check_scheduler_variable
from tests.scheduling.redis.conftest import RedisServer


def test_a_live_redis_is_ok_and_the_password_is_never_shown(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = redis_server.url.replace("redis://", "redis://:hunter2@")
    redis_server.client().config_set("requirepass", "hunter2")
    monkeypatch.setenv("HERMES_SCHEDULER", url)
    address, variable = check_scheduler_variable()
    findings = [variable, *check_scheduler(address, 2.0)]
    assert [f.level for f in findings] == ["ok", "ok", "ok", "ok"]
    assert "hunter2" not in " ".join(f.line() for f in findings)
    assert findings[-1].message.endswith("answers")


def test_a_silent_redis_is_an_error_naming_it(redis_server: RedisServer) -> None:
    redis_server.kill()
    findings = check_scheduler(redis_server.url, 1.0)
    assert findings[-1].level == "error"
    assert redis_server.url in findings[-1].message
