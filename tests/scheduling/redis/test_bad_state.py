"""Bad state through Redis (a corrupt ticket, a foreign key layout, a wrong schema version,
a key of the wrong type): a clear error in the log, the affected call runs unscheduled,
nothing else is disturbed."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pytest
import redis

from hermes_agents.scheduling.redis.keys import SCHEMA
from hermes_agents.scheduling.state import BackendLimits, Usage
from hermes_agents.scheduling.ticket import Answer, Ticket
from tests.scheduling.redis.conftest import RedisServer
from tests.scheduling.redis.helpers import host

LIMITS = {"llm": BackendLimits(1), "other": BackendLimits(1)}


def test_a_corrupt_ticket_is_dropped_its_call_goes_ahead_the_rest_is_served(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    a = host(redis_server.url, LIMITS, lease_ttl_s=1.0)
    b = host(redis_server.url, LIMITS, lease_ttl_s=1.0)
    holder, victim, good = Ticket("llm"), Ticket("llm"), Ticket("llm")
    a.submit(holder)
    b.submit(victim)
    a.submit(good)
    client = redis_server.client()
    name = str(client.zrange("hermes:{llm}:queue", 0, 0)[0])
    client.hset("hermes:{llm}:tickets", name, "\x00garbage")
    with caplog.at_level(logging.ERROR):
        a.release(holder, Usage())
    assert "unreadable ticket" in caplog.text
    assert name in caplog.text
    assert good.wait(5) is Answer.GRANTED  # the next good ticket got the slot
    assert victim.wait(5) is Answer.UNSCHEDULED  # its owner found it gone at its renewal
    assert b.unscheduled_calls == 1
    assert int(client.hget("hermes:{llm}:meta", "corrupt") or 0) == 1
    a.release(good, Usage())
    a.close()
    b.close()


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (lambda c: c.set("hermes:{other}:queue", "not ours"), "foreign key layout"),
        (lambda c: c.hset("hermes:{other}:meta", "schema", "1"), "wrong schema version"),
        (lambda c: c.set("hermes:{other}:meta", "a string"), "another type"),
        (lambda c: c.hset("hermes:{other}:meta", mapping=_bad_limits()), "unreadable limits"),
    ],
    ids=["foreign-layout", "wrong-schema", "wrong-type", "bad-limits"],
)
def test_state_that_is_not_ours_fails_that_backend_open_only(
    redis_server: RedisServer,
    caplog: pytest.LogCaptureFixture,
    setup: Callable[[redis.Redis], object],
    expected: str,
) -> None:
    client = redis_server.client()
    setup(client)
    before = {key: client.dump(key) for key in client.keys("hermes:{other}:*")}
    scheduler = host(redis_server.url, LIMITS)
    with caplog.at_level(logging.ERROR):
        bad = Ticket("other")
        scheduler.submit(bad)
    assert bad.answer is Answer.UNSCHEDULED
    assert expected in caplog.text
    assert {key: client.dump(key) for key in client.keys("hermes:{other}:*")} == before
    first, second = Ticket("llm"), Ticket("llm")
    scheduler.submit(first)
    scheduler.submit(second)
    assert first.answer is Answer.GRANTED
    assert second.answer is None
    scheduler.release(first, Usage())
    assert second.wait(5) is Answer.GRANTED
    scheduler.release(second, Usage())
    assert scheduler.unscheduled_calls == 1
    time.sleep(0.05)
    scheduler.close()


def _bad_limits() -> dict[str, str]:
    return {"schema": SCHEMA, "max_concurrency": "many", "token_budget": "0", "max_wait_ms": "0"}


def test_the_error_is_logged_once_and_a_later_outage_still_warns(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    redis_server.client().set("hermes:{other}:queue", "not ours")
    scheduler = host(redis_server.url, LIMITS, retry_s=0.05)
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            with scheduler.slot("other", timeout=1):
                pass
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1
        assert scheduler.unscheduled_calls == 3
        redis_server.kill()
        with scheduler.slot("llm", timeout=1):
            pass
    assert "is unreachable" in caplog.text  # the outage's one warning
    assert scheduler.unscheduled_calls == 4
    scheduler.close()
