"""``HERMES_SCHEDULER=redis://...`` and ``rediss://``: checked when it is read (a bad URL or
lease TTL is a ``ValidationError`` naming the variable, with no password in it), credentials
from the URL or the environment, and the default scheduler is a ``RedisScheduler``."""

from __future__ import annotations

import pytest

from hermes_agents.errors import ValidationError
from hermes_agents.scheduling import default
from hermes_agents.scheduling.redis import RedisAddress
from hermes_agents.scheduling.redis.scheduler import RedisScheduler


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://localhost", ("localhost", 6379, 0, False, None, None)),
        ("redis://h:6380/3", ("h", 6380, 3, False, None, None)),
        ("rediss://user:s%40cret@h:6390/1", ("h", 6390, 1, True, "user", "s@cret")),
        ("redis://:pw@[::1]:7000", ("::1", 7000, 0, False, None, "pw")),
    ],
)
def test_good_urls(url: str, expected: tuple[object, ...]) -> None:
    a = RedisAddress.parse(url)
    assert (a.host, a.port, a.db, a.tls, a.username, a.password) == expected


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("redis://", "needs a host"),
        ("redis://h:99999", "unreadable"),
        ("redis://h/x", "must be a number"),
        ("redis://h/0?timeout=1", "nothing after the database"),
    ],
)
def test_bad_urls_name_the_variable(url: str, problem: str) -> None:
    with pytest.raises(ValidationError, match=problem) as caught:
        RedisAddress.parse(url)
    assert "HERMES_SCHEDULER" in str(caught.value)


def test_credentials_come_from_the_environment_when_the_url_has_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HERMES_REDIS_USERNAME", "hermes")
    monkeypatch.setenv("HERMES_REDIS_PASSWORD", "pw")
    address = RedisAddress.parse("redis://h")
    assert (address.username, address.password) == ("hermes", "pw")
    assert "pw" not in repr(address)
    assert address.display == "redis://h:6379/0"
    assert RedisAddress.parse("redis://u:x@h").password == "x"  # the URL wins


def test_a_bad_address_fails_at_load_without_printing_the_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HERMES_SCHEDULER", "redis://u:topsecret@h/notadb")
    with pytest.raises(ValidationError, match="HERMES_SCHEDULER") as caught:
        default.check_environment()
    assert "topsecret" not in str(caught.value)


def test_a_bad_lease_ttl_fails_at_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HERMES_SCHEDULER", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("HERMES_REDIS_LEASE_TTL_S", "0")
    with pytest.raises(ValidationError, match="HERMES_REDIS_LEASE_TTL_S"):
        default.check_environment()


def test_the_default_scheduler_is_redis_and_fails_open_without_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HERMES_SCHEDULER", "redis://127.0.0.1:1/0")
    monkeypatch.delenv("HERMES_CONFIG", raising=False)
    default.set_scheduler(None)
    try:
        scheduler = default.get_scheduler()
        assert isinstance(scheduler, RedisScheduler)
        with scheduler.slot("llm", timeout=1):
            pass
        assert scheduler.unscheduled_calls == 1
    finally:
        default.set_scheduler(None)
