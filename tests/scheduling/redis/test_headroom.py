"""The headroom higher tiers keep (``scheduling.reserve``) enforced in Redis across hosts
(``redis.headroom``, ``lua/common.lua``): two or three schedulers ("hosts") on one real
``redis-server``, a backend of 4 slots, ``sheddable_share`` 0.25 (one slot), ``gittins+tiers``
with ``[apps]`` tiers: ``batch`` sheddable, ``chat`` critical."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis

from hermes_agents.config import parse_config
from hermes_agents.scheduling.redis.call import Call
from hermes_agents.scheduling.redis.factory import redis_scheduler
from hermes_agents.scheduling.redis.keys import BackendKeys
from hermes_agents.scheduling.redis.scheduler import RedisScheduler
from hermes_agents.scheduling.redis.scripts import RedisStateError, Scripts
from hermes_agents.scheduling.state import Usage
from hermes_agents.scheduling.ticket import Answer, Ticket
from tests.scheduling.redis.conftest import RedisServer
from tests.scheduling.redis.helpers import wait_for

KEYS = BackendKeys("llm")
APPS = {"batch": {"tier": "sheddable"}, "chat": {"tier": "critical"}}


def _hosts(
    url: str, count: int = 2, policy: str = "gittins+tiers", **backend: Any
) -> list[RedisScheduler]:
    llm = {"kind": "llm", "max_concurrency": 4, "sheddable_share": 0.25, **backend}
    data = {"scheduler": {"policy": policy}, "backends": {"llm": llm}, "apps": APPS}
    config = parse_config(data)
    return [redis_scheduler(url, config) for _ in range(count)]


def _calls(host: RedisScheduler, app: str, count: int) -> list[Ticket]:
    """``count`` calls of one run of ``app`` submitted on ``host`` (the run stays open)."""
    scope = host.run(app)
    scope.__enter__()
    tickets = [Ticket("llm", run_id=scope.run_id) for _ in range(count)]
    for ticket in tickets:
        host.submit(ticket)
    return tickets


def _granted(tickets: list[Ticket]) -> list[Ticket]:
    return [ticket for ticket in tickets if ticket.answer is Answer.GRANTED]


def _counts(client: redis.Redis) -> tuple[int, int, int]:
    """(running, running sheddable, waiting) in Redis."""
    return (
        int(client.zcard(KEYS.leases)),
        int(client.zcard(KEYS.shed)),
        int(client.zcard(KEYS.queue)),
    )


def _release(host: RedisScheduler, tickets: list[Ticket]) -> None:
    for ticket in tickets:
        host.release(ticket, Usage(seconds=0.01))


def test_sheddable_calls_keep_headroom_while_a_critical_run_on_another_host_is_about(
    redis_server: RedisServer,
) -> None:
    """Host B runs a critical call: host A's 4 sheddable calls get 1 slot, the rest wait; B's
    next critical calls start at once; with B's calls ended but submitted within the window,
    the headroom holds; a sheddable slot freed goes to the next sheddable call."""
    client = redis_server.client()
    a, b = _hosts(redis_server.url)
    chat = _calls(b, "chat", 1)
    assert _granted(chat) == chat
    batch = _calls(a, "batch", 4)
    assert len(_granted(batch)) == 1
    assert _counts(client) == (2, 1, 3)
    more = _calls(b, "chat", 2)
    assert _granted(more) == more  # the headroom: started at once, past the waiting ones
    assert _counts(client) == (4, 1, 3)
    wait_for(lambda: "llm" in a.snapshot()["backends"])  # listed by the link's thread
    assert a.snapshot()["backends"]["llm"]["sheddable_running"] == 1  # hermes status
    _release(b, chat + more)
    wait_for(lambda: _counts(client)[0] == 1)
    assert _counts(client) == (1, 1, 3)  # critical work was submitted within 30 s: still about
    assert len(_granted(batch)) == 1
    first = _granted(batch)
    _release(a, first)
    wait_for(lambda: len(_granted(batch)) == 2)
    assert _counts(client) == (1, 1, 2)
    assert a.unscheduled_calls == b.unscheduled_calls == 0
    a.close()
    b.close()


def test_without_higher_tier_work_sheddable_calls_take_every_slot(
    redis_server: RedisServer,
) -> None:
    client = redis_server.client()
    (a,) = _hosts(redis_server.url, count=1)
    batch = _calls(a, "batch", 5)
    assert len(_granted(batch)) == 4
    assert _counts(client) == (4, 4, 1)
    assert client.hget(KEYS.meta, "sheddable_share") == "0.25"
    _release(a, _granted(batch))
    wait_for(lambda: len(_granted(batch)) == 5)
    _release(a, batch[4:])
    wait_for(lambda: _counts(client) == (0, 0, 0))
    a.close()


def test_a_policy_without_tiers_writes_no_headroom(redis_server: RedisServer) -> None:
    """``gittins``: the share is written as 1, and sheddable calls take every slot while a
    critical call runs."""
    client = redis_server.client()
    a, b = _hosts(redis_server.url, policy="gittins")
    chat = _calls(b, "chat", 1)
    batch = _calls(a, "batch", 3)
    assert _granted(chat + batch) == chat + batch
    assert client.hget(KEYS.meta, "sheddable_share") == "1.0"
    assert _counts(client) == (4, 0, 0)  # no headroom: the shed set is not kept
    _release(b, chat)
    _release(a, batch)
    a.close()
    b.close()


def test_after_the_window_lapses_sheddable_calls_take_every_slot_at_the_next_release(
    redis_server: RedisServer,
) -> None:
    client = redis_server.client()
    a, b = _hosts(redis_server.url, reserve_window_s=2.0)
    chat = _calls(b, "chat", 1)
    _release(b, chat)  # critical work was about: submitted just now
    batch = _calls(a, "batch", 5)
    assert len(_granted(batch)) == 1
    seen_ms = float(client.hget(KEYS.meta, "higher_at") or 0)

    def lapsed() -> bool:
        seconds, micros = client.time()
        return seconds * 1000 + micros // 1000 - seen_ms >= 2000

    wait_for(lapsed, poll_s=0.05)  # on Redis's clock
    _release(a, _granted(batch))
    wait_for(lambda: len(_granted(batch)) == 5)
    assert _counts(client) == (4, 4, 0)
    _release(a, batch[1:])
    a.close()
    b.close()


def test_a_sheddable_ticket_killed_with_its_host_leaves_the_count_right(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Host A holds the one sheddable slot and dies (it stops renewing): when its lease
    expires its ticket leaves the shed set with its slot, and host C's sheddable call, kept
    back until then, gets the slot; the count is C's alone."""
    monkeypatch.setenv("HERMES_REDIS_LEASE_TTL_S", "1.5")
    client = redis_server.client()
    dead, b, c = _hosts(redis_server.url, count=3)
    chat = _calls(b, "chat", 1)
    (held,) = _calls(dead, "batch", 1)
    assert held.answer is Answer.GRANTED
    (kept,) = _calls(c, "batch", 1)
    assert kept.answer is None
    assert _counts(client) == (2, 1, 1)
    dead._links["llm"].close()  # it stops renewing, as if killed
    dead._listener.close()
    assert kept.wait(10) is Answer.GRANTED  # after the lease TTL and a renewal of C's
    assert int(client.hget(KEYS.meta, "expired") or 0) == 1
    assert isinstance(kept.handle, Call)
    assert client.zrange(KEYS.shed, 0, -1) == [kept.handle.member]
    _release(c, [kept])
    wait_for(lambda: _counts(client) == (1, 0, 0))
    again = _calls(c, "batch", 1)
    assert _granted(again) == again  # within the share: the dead host's slot counts no more
    _release(c, again)
    _release(b, chat)
    wait_for(lambda: _counts(client) == (0, 0, 0))
    for host in (dead, b, c):
        host.close()


def test_the_wait_bound_neither_lifts_the_headroom_nor_blocks_critical_calls(
    redis_server: RedisServer,
) -> None:
    """A sheddable call waiting past ``max_wait_s`` is the oldest, but the headroom keeps it
    back: the critical calls behind it take the free slots."""
    client = redis_server.client()
    a, b = _hosts(redis_server.url, max_wait_s=0.2)
    chat = _calls(b, "chat", 1)
    batch = _calls(a, "batch", 2)
    assert len(_granted(batch)) == 1
    time.sleep(0.3)  # the waiting sheddable call is past the wait bound
    more = _calls(b, "chat", 2)
    assert _granted(more) == more
    assert _counts(client) == (4, 1, 1)
    assert int(client.hget(KEYS.meta, "promoted") or 0) == 0
    _release(b, chat + more)
    _release(a, batch)
    a.close()
    b.close()


def _args(share: str = "0.25", window_ms: str = "30000") -> list[str]:
    return ["p", "10000", "4", "0", "0", "0", share, window_ms, ""]


@pytest.mark.parametrize("tier", ["urgent", "", "Sheddable", "critical|x"])
def test_a_bad_tier_argument_is_refused_and_nothing_is_disturbed(
    redis_server: RedisServer, tier: str
) -> None:
    client = redis_server.client()
    scripts = Scripts(client)
    queued = scripts.submit(KEYS.script_keys, [*_args(), "1.0", "0", "sheddable", "app"])
    before = {key: client.dump(key) for key in client.keys("hermes:*")}
    with pytest.raises(RedisStateError, match=f"tier {tier} is not one of critical, standard"):
        scripts.submit(KEYS.script_keys, [*_args(), "1.0", "0", tier, "app"])
    assert {key: client.dump(key) for key in client.keys("hermes:*")} == before
    assert scripts.release(KEYS.script_keys, [*_args(), queued.status]).status == 1


@pytest.mark.parametrize(
    ("share", "window_ms"), [("nan", "1"), ("0", "1"), ("1.5", "1"), ("1", "-1")]
)
def test_bad_headroom_arguments_on_a_new_backend_write_nothing(
    redis_server: RedisServer, share: str, window_ms: str
) -> None:
    client = redis_server.client()
    with pytest.raises(RedisStateError, match="sheddable_share"):
        Scripts(client).submit(
            KEYS.script_keys, [*_args(share, window_ms), "1.0", "0", "critical", "a"]
        )
    assert client.keys("hermes:*") == []


def test_a_critical_call_without_a_finite_priority_waits_last_in_its_tier_not_behind_all(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behind every tier (the score of an unknown priority without tiers), it would wait
    behind the sheddable call the headroom keeps back, with two slots free."""
    client = redis_server.client()
    a, b = _hosts(redis_server.url)
    chat = _calls(b, "chat", 1)
    batch = _calls(a, "batch", 2)
    monkeypatch.setattr(b.local, "queue_priority", lambda task_id: None)
    late = _calls(b, "chat", 1)
    assert _granted(late) == late
    assert _counts(client) == (3, 1, 1)
    waiting = batch[1].handle
    assert isinstance(waiting, Call)
    assert float(client.zscore(KEYS.queue, str(waiting.member)) or 0) > 2**39  # sheddable's
    _release(b, chat + late)
    _release(a, batch)
    a.close()
    b.close()


@pytest.mark.parametrize("higher_at", ["nan", "1e300", "garbage"])
def test_an_unreadable_or_far_future_higher_at_keeps_no_headroom(
    redis_server: RedisServer, higher_at: str
) -> None:
    """``higher_at`` is state, not a limit: one that is not a time up to a window ahead (corrupt,
    a clock gone wrong) is ignored rather than keeping sheddable calls back for ever."""
    client = redis_server.client()
    (a,) = _hosts(redis_server.url, count=1)
    first = _calls(a, "batch", 1)
    client.hset(KEYS.meta, "higher_at", higher_at)
    batch = _calls(a, "batch", 3)
    assert _granted(first + batch) == first + batch
    _release(a, first + batch)
    a.close()


def _scheduled_again(host: RedisScheduler) -> bool:
    """Whether a call of ``host`` is admitted through Redis now (it is released at once)."""
    (probe,) = _calls(host, "chat", 1)
    _release(host, [probe])
    return probe.answer is Answer.GRANTED


def test_after_a_redis_restart_the_count_starts_again_from_what_runs(
    redis_server: RedisServer,
) -> None:
    """Redis killed with a sheddable call running and one waiting, started empty: the shed set
    went with the leases; once the hosts are scheduled again, a new burst of sheddable calls
    gets its one slot beside a critical call, not zero (no count left over)."""
    client = redis_server.client()
    a, b = _hosts(redis_server.url)
    chat = _calls(b, "chat", 1)
    batch = _calls(a, "batch", 2)
    assert _counts(client) == (2, 1, 1)
    redis_server.kill()
    redis_server.start()
    client = redis_server.client()
    wait_for(lambda: _scheduled_again(a) and _scheduled_again(b), timeout_s=20, poll_s=0.2)
    assert batch[1].answer is Answer.UNSCHEDULED  # it went ahead when Redis went
    held = _calls(b, "chat", 1)
    fresh = _calls(a, "batch", 4)
    assert _granted(held) == held
    assert len(_granted(fresh)) == 1
    assert _counts(client) == (2, 1, 3)
    _release(b, chat + held)
    _release(a, batch + fresh)
    a.close()
    b.close()


def test_hermes_ddl_keeps_headroom_for_runs_with_a_deadline_across_hosts(
    redis_server: RedisServer,
) -> None:
    """Under ``hermes-ddl`` the runs without a deadline are what the headroom holds back: with
    a run with a deadline running on host B, host A's calls of runs without one get 1 of the 4
    slots, and B's next deadline calls start at once, past them."""
    client = redis_server.client()
    a, b = _hosts(redis_server.url, policy="hermes-ddl")
    scope = b.run("chat", deadline_s=600.0)
    scope.__enter__()
    urgent = [Ticket("llm", run_id=scope.run_id) for _ in range(3)]
    b.submit(urgent[0])
    assert urgent[0].answer is Answer.GRANTED
    plain = _calls(a, "batch", 4)
    assert len(_granted(plain)) == 1
    assert _counts(client) == (2, 1, 3)
    for ticket in urgent[1:]:
        b.submit(ticket)
    assert _granted(urgent) == urgent  # the headroom: past the calls that wait
    _release(b, urgent)
    _release(a, _granted(plain))
    a.close()
    b.close()


def test_plain_gittins_keeps_no_headroom_in_redis(redis_server: RedisServer) -> None:
    """Without ``+tiers`` or a deadline policy nothing is held back: 4 slots, 4 calls."""
    a, b = _hosts(redis_server.url, policy="gittins")
    scope = b.run("chat", deadline_s=600.0)
    scope.__enter__()
    urgent = Ticket("llm", run_id=scope.run_id)
    b.submit(urgent)
    plain = _calls(a, "batch", 3)
    assert _granted(plain) == plain
    _release(a, plain)
    _release(b, [urgent])
    a.close()
    b.close()
