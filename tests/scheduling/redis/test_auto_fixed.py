"""``auto`` with Redis: the window stays at its start across hosts (one warning says so), and a
throttle changes nothing (``Scheduler.throttled`` is the interface's no-op)."""

from __future__ import annotations

import logging

import pytest

from hermes_agents.config import parse_config
from hermes_agents.scheduling.redis.factory import redis_scheduler
from tests.scheduling.redis.conftest import RedisServer
from tests.scheduling.redis.helpers import wait_for


def test_auto_keeps_its_start_window_with_one_warning(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    config = parse_config(
        {
            "backends": {
                "api": {"kind": "llm", "max_concurrency": "auto", "auto": {"start": 6}},
                "fixed": {"kind": "tool", "max_concurrency": 3},
            }
        }
    )
    with caplog.at_level(logging.WARNING, logger="hermes_agents.scheduling.redis.factory"):
        scheduler = redis_scheduler(redis_server.url, config)
    try:
        (warning,) = [r.getMessage() for r in caplog.records]
        assert "auto capacity is not followed across hosts: 'api' at 6" in warning
        scheduler.throttled("api", 429, 5.0)  # ignored: nothing moves, nothing raises
        with scheduler.slot("api"):
            pass
        # the backend is listed by its listener thread, off the call's path
        wait_for(lambda: "api" in scheduler.snapshot()["backends"])
        assert scheduler.snapshot()["backends"]["api"]["max_concurrency"] == 6
    finally:
        scheduler.close()
