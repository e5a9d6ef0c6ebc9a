"""Attacks on the Redis scheduler, each one a problem the review found (real redis-server):
Redis losing its state under running calls (ticket names start over), hostile numbers under
its keys (NaN and infinite limits, a reap time far ahead, a NaN rank), waiters left behind by
``close``, threads and connections left over after many schedulers, a password in the logs, a
run that lost its slot learned as a whole one."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from hermes_agents.scheduling.redis.link import NO_RANK, _score
from hermes_agents.scheduling.state import BackendLimits, Usage
from hermes_agents.scheduling.ticket import Answer, Ticket
from tests.scheduling.redis.conftest import RedisServer
from tests.scheduling.redis.helpers import ONE, host, wait_for


def test_redis_losing_its_state_never_lets_two_calls_share_the_last_slot(
    redis_server: RedisServer,
) -> None:
    """A flush (or a restart the connections did not notice) starts ticket names over: the
    next ticket would take the name of a call still running, and that call's release would
    free the new one's slot. The epoch makes the process start over instead."""
    a = host(redis_server.url, ONE, lease_ttl_s=3.0)
    b = host(redis_server.url, ONE, lease_ttl_s=3.0)
    first = Ticket("llm")
    a.submit(first)
    assert first.answer is Answer.GRANTED
    redis_server.client().flushdb()  # every queue and lease is lost; no connection breaks
    second = Ticket("llm")
    a.submit(second)
    assert second.answer is not None  # no waiter is left hanging
    a.release(first, Usage())  # must not free whatever took first's name
    third = Ticket("llm")
    b.submit(third)
    if second.answer is Answer.GRANTED:
        assert third.wait(0.5) is not Answer.GRANTED, "two calls hold the one slot"
    else:
        assert second.answer is Answer.UNSCHEDULED
    for scheduler, ticket in ((a, second), (b, third)):
        if ticket.answer is Answer.GRANTED:
            scheduler.release(ticket, Usage())
        else:
            scheduler.withdraw(ticket)
    time.sleep(0.3)  # past the retry interval: scheduling resumes by itself
    again = Ticket("llm")
    a.submit(again)
    assert again.wait(5) is Answer.GRANTED
    a.release(again, Usage())
    a.close()
    b.close()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_concurrency", "nan"),
        ("max_concurrency", "inf"),
        ("token_budget", "nan"),
        ("max_wait_ms", "-inf"),
        ("tokens_running", "nan"),
        ("sheddable_share", "nan"),
        ("sheddable_share", "2"),
        ("reserve_window_ms", "inf"),
        ("reserve_window_ms", "-1"),
    ],
)
def test_non_finite_limits_fail_the_backend_open_with_a_clear_error(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture, field: str, value: str
) -> None:
    """``tonumber('nan')`` is a number in Lua: a NaN max_concurrency admitted nobody, ever
    (every waiter without a timeout hung)."""
    scheduler = host(redis_server.url, ONE)
    warm = Ticket("llm")
    scheduler.submit(warm)  # the backend's meta exists
    scheduler.release(warm, Usage())
    redis_server.client().hset("hermes:{llm}:meta", field, value)
    with caplog.at_level(logging.ERROR):
        ticket = Ticket("llm")
        scheduler.submit(ticket)
    assert ticket.answer is Answer.UNSCHEDULED
    assert "unreadable limits" in caplog.text
    scheduler.close()


def test_a_reap_time_far_ahead_does_not_stop_reaping(redis_server: RedisServer) -> None:
    """``reap_at`` in meta set far ahead (corrupt, or by a clock gone wrong) stopped every
    reaping: a dead host's slot never came back."""
    dead = host(redis_server.url, ONE, lease_ttl_s=0.6)
    held = Ticket("llm")
    dead.submit(held)
    assert held.answer is Answer.GRANTED
    dead._links["llm"].close()  # it stops renewing, as if killed
    dead._listener.close()
    redis_server.client().hset("hermes:{llm}:meta", "reap_at", "1e300")
    alive = host(redis_server.url, ONE, lease_ttl_s=0.6)
    waiter = Ticket("llm")
    alive.submit(waiter)
    assert waiter.wait(5) is Answer.GRANTED  # within the TTL and a renewal
    assert int(redis_server.client().hget("hermes:{llm}:meta", "expired") or 0) == 1
    alive.release(waiter, Usage())
    alive.close()
    dead.close()


def test_a_nan_rank_waits_last_and_fails_nothing_open(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis refuses a NaN score; the error failed every call of the process open."""
    assert _score(float("nan")) == _score(None) == _score(float("inf")) == repr(NO_RANK)
    assert _score(-1e300) == repr(-NO_RANK)
    scheduler = host(redis_server.url, {"llm": BackendLimits(1)})
    monkeypatch.setattr(scheduler.local, "queue_priority", lambda task_id: float("nan"))
    holder, waiter = Ticket("llm"), Ticket("llm")
    scheduler.submit(holder)
    scheduler.submit(waiter)
    assert holder.answer is Answer.GRANTED
    assert waiter.answer is None
    assert redis_server.client().zrange("hermes:{llm}:queue", 0, -1, withscores=True)[0][1] == (
        NO_RANK
    )
    scheduler.release(holder, Usage())
    assert waiter.wait(5) is Answer.GRANTED
    scheduler.release(waiter, Usage())
    assert scheduler.unscheduled_calls == 0
    scheduler.close()


def test_close_answers_its_waiters_and_withdraws_them(redis_server: RedisServer) -> None:
    """A caller blocked without a timeout while another thread closed the scheduler waited
    forever, and its ticket stayed queued in Redis."""
    holder_host = host(redis_server.url, ONE)
    holder = Ticket("llm")
    holder_host.submit(holder)
    closing = host(redis_server.url, ONE)
    waiter = Ticket("llm")
    closing.submit(waiter)
    answers: list[Answer] = []
    thread = threading.Thread(target=lambda: answers.append(waiter.wait()))
    thread.start()
    closing.close()
    thread.join(5)
    assert answers == [Answer.UNSCHEDULED]
    assert redis_server.client().zcard("hermes:{llm}:queue") == 0
    late = Ticket("llm")
    closing.submit(late)  # after close: runs unscheduled, never blocks
    assert late.answer is Answer.UNSCHEDULED
    holder_host.release(holder, Usage())
    holder_host.close()


def test_many_schedulers_closed_leave_no_thread_and_no_connection(
    redis_server: RedisServer,
) -> None:
    client = redis_server.client()
    threads_before = threading.active_count()
    clients_before = len(client.client_list())
    for _ in range(20):
        scheduler = host(redis_server.url, {"llm": BackendLimits(4), "b": BackendLimits(4)})
        for backend in ("llm", "b"):
            ticket = Ticket(backend)
            scheduler.submit(ticket)
            assert ticket.answer is Answer.GRANTED
            scheduler.release(ticket, Usage())
        scheduler.close()
    wait_for(lambda: threading.active_count() <= threads_before, 5)
    wait_for(lambda: len(client.client_list()) <= clients_before, 5)


def test_a_password_never_reaches_the_log(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "s3cret-Pa55"
    redis_server.client().config_set("requirepass", secret)
    port = redis_server.port
    wrong = host(f"redis://default:wrong-{secret}@127.0.0.1:{port}/0", ONE)
    right = host(f"redis://default:{secret}@127.0.0.1:{port}/0", ONE)
    with caplog.at_level(logging.DEBUG):
        refused = Ticket("llm")
        wrong.submit(refused)  # authentication fails: runs unscheduled, with a warning
        granted = Ticket("llm")
        right.submit(granted)
        right.release(granted, Usage())
        redis_server.kill()
        down = Ticket("llm")
        right.submit(down)
    assert refused.answer is Answer.UNSCHEDULED
    assert granted.answer is Answer.GRANTED
    assert down.answer is Answer.UNSCHEDULED
    assert "unscheduled" in caplog.text
    assert secret not in caplog.text
    assert secret not in repr(right.address) + right.address.display
    wrong.close()
    right.close()


def test_a_call_whose_lease_expired_unnoticed_makes_its_run_partial(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its release found the slot taken back: the call ran unscheduled, so its run was seen
    only in part and must not be learned as a whole one."""
    scheduler = host(redis_server.url, ONE)
    partial: list[str] = []
    monkeypatch.setattr(scheduler.local.core, "mark_partial", lambda run_id: partial.append(run_id))
    scheduler.start_run("r1", "app")
    ticket = Ticket("llm", run_id="r1")
    scheduler.submit(ticket)
    assert ticket.answer is Answer.GRANTED
    redis_server.client().zremrangebyrank("hermes:{llm}:leases", 0, -1)  # taken back
    scheduler.release(ticket, Usage())
    assert scheduler.unscheduled_calls == 1
    assert partial == ["r1"]
    scheduler.finish_run("r1")
    scheduler.close()


def test_a_dead_host_with_a_long_queue_is_reaped_in_bounded_steps(
    redis_server: RedisServer,
) -> None:
    """One script reaped a dead process's every ticket: 8,000 of them stalled Redis 42 ms
    (every backend on it waited). Now at most 256 per script; the rest go in the next ones."""
    dead = host(redis_server.url, ONE, lease_ttl_s=0.6)
    tickets = [Ticket("llm") for _ in range(600)]
    for ticket in tickets:
        dead.submit(ticket)
    assert tickets[0].answer is Answer.GRANTED
    dead._links["llm"].close()  # it stops renewing, as if killed
    dead._listener.close()
    alive = host(redis_server.url, ONE, lease_ttl_s=0.6)
    waiter = Ticket("llm")
    alive.submit(waiter)
    assert waiter.wait(10) is Answer.GRANTED
    client = redis_server.client()
    assert client.zcard("hermes:{llm}:queue") == 0
    assert client.hlen("hermes:{llm}:tickets") == 1  # the waiter's own
    assert int(client.hget("hermes:{llm}:meta", "expired") or 0) >= 1
    alive.release(waiter, Usage())
    alive.close()
    dead.close()


def test_a_call_whose_lease_expired_while_redis_was_out_is_counted(
    redis_server: RedisServer,
) -> None:
    """It went on unscheduled once its lease expired (nothing renewed it for a TTL), but only
    a release that reached Redis counted it: one during the outage never did."""
    scheduler = host(redis_server.url, ONE, lease_ttl_s=0.6, retry_s=5.0)
    ticket = Ticket("llm")
    scheduler.submit(ticket)
    assert ticket.answer is Answer.GRANTED
    redis_server.kill()
    time.sleep(0.8)  # past the TTL: the lease is surely gone
    scheduler.release(ticket, Usage())
    assert scheduler.unscheduled_calls == 1
    scheduler.close()


def test_backend_after_made_up_backend_does_not_grow_redis_without_bound(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each new backend name made keys in Redis that nothing ever removed: a client naming
    backend after backend grew Redis without bound. Past the cap, calls on more unconfigured
    backends run unscheduled and Redis is not touched; configured ones are still scheduled."""
    from hermes_agents.scheduling.redis import keys

    monkeypatch.setattr(keys, "MAX_UNCONFIGURED_BACKENDS", 3)
    scheduler = host(redis_server.url, ONE)
    tickets = [Ticket(f"made-up-{n}") for n in range(6)]
    for ticket in tickets:
        scheduler.submit(ticket)
    answers = [ticket.answer for ticket in tickets]
    assert answers == [Answer.GRANTED] * 3 + [Answer.UNSCHEDULED] * 3
    assert "unconfigured backends" in tickets[-1].reason
    keys_now = [str(key) for key in redis_server.client().keys("hermes:{*")]  # decoded: str
    names = {key.split("}")[0] for key in keys_now}
    assert names == {"hermes:{made-up-0", "hermes:{made-up-1", "hermes:{made-up-2"}
    configured = Ticket("llm")
    scheduler.submit(configured)
    assert configured.answer is Answer.GRANTED
    assert scheduler.unscheduled_calls == 3
    for ticket in [*tickets[:3], configured]:
        scheduler.release(ticket, Usage())
    scheduler.close()
