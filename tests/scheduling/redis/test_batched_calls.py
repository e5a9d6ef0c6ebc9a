"""Calls of several threads of one process go to Redis together (real redis-server): one
``exchange`` script carries the submits (or the releases) that arrived while the previous one
was in flight; the capacity holds across them, every call is answered once, and a batch of
releases whose reply is late costs no thread more than ``RELEASE_WAIT_S``."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hermes_agents.scheduling.redis.call import Call
from hermes_agents.scheduling.redis.releases import RELEASE_WAIT_S
from hermes_agents.scheduling.redis.scheduler import RedisScheduler
from hermes_agents.scheduling.state import BackendLimits, Usage
from hermes_agents.scheduling.ticket import Answer, Ticket
from tests.scheduling.redis.conftest import REDIS_SERVER, RedisServer, _free_port
from tests.scheduling.redis.helpers import host, wait_for

THREE = {"llm": BackendLimits(3)}


def _stopped(redis_server: RedisServer) -> None:
    assert redis_server.process is not None
    redis_server.process.send_signal(signal.SIGSTOP)


def _continued(redis_server: RedisServer) -> None:
    assert redis_server.process is not None
    redis_server.process.send_signal(signal.SIGCONT)


def test_submits_queued_behind_a_script_in_flight_go_in_one_script(
    redis_server: RedisServer,
) -> None:
    scheduler = host(redis_server.url, THREE)
    warm = Ticket("llm")
    scheduler.submit(warm)  # the link and its keys exist
    scheduler.release(warm, Usage())
    link = scheduler._links["llm"]
    tickets = [Ticket("llm") for _ in range(6)]
    _stopped(redis_server)  # the first submit waits in flight; the other five queue behind it
    threads = [threading.Thread(target=scheduler.submit, args=(ticket,)) for ticket in tickets]
    try:
        threads[0].start()
        wait_for(lambda: link._submits._sending)
        for thread in threads[1:]:
            thread.start()
        wait_for(lambda: len(link._submits._queued) == 5)
    finally:
        _continued(redis_server)
    for thread in threads:
        thread.join(10)
    assert (link._submits.scripts, link._submits.calls) == (3, 7)  # warm-up, 1, then 5 in one
    granted = [ticket for ticket in tickets if ticket.answer is Answer.GRANTED]
    assert len(granted) == 3  # the capacity held within the batch
    client = redis_server.client()
    assert client.zcard("hermes:{llm}:leases") == 3
    assert client.zcard("hermes:{llm}:queue") == 3
    for ticket in granted:  # each release admits a waiting one
        scheduler.release(ticket, Usage())
    for ticket in tickets:
        assert ticket.wait(5) is Answer.GRANTED
        scheduler.release(ticket, Usage())
    assert client.zcard("hermes:{llm}:leases") == 0
    assert int(client.hget("hermes:{llm}:meta", "granted") or 0) == 7  # each granted once
    assert scheduler.unscheduled_calls == 0
    scheduler.close()


def test_many_threads_never_hold_more_than_the_capacity(redis_server: RedisServer) -> None:
    scheduler, other = host(redis_server.url, THREE), host(redis_server.url, THREE)
    running, most, lock = [0], [0], threading.Lock()

    def caller(scheduler_of_host: RedisScheduler, calls: int) -> None:
        for _ in range(calls):
            ticket = Ticket("llm")
            scheduler_of_host.submit(ticket)
            assert ticket.wait(10) is Answer.GRANTED
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            time.sleep(0.001)
            with lock:
                running[0] -= 1
            scheduler_of_host.release(ticket, Usage())

    threads = [
        threading.Thread(target=caller, args=(scheduler if i % 2 else other, 25)) for i in range(10)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert most[0] <= 3
    client = redis_server.client()
    assert int(client.hget("hermes:{llm}:meta", "granted") or 0) == 250
    wait_for(lambda: client.zcard("hermes:{llm}:leases") == 0)  # (the last may be riding)
    assert client.zcard("hermes:{llm}:queue") == 0
    assert scheduler.unscheduled_calls == other.unscheduled_calls == 0
    scheduler.close()
    other.close()


def test_a_late_batch_of_releases_costs_each_thread_at_most_the_release_wait(
    redis_server: RedisServer,
) -> None:
    holders, waiters = host(redis_server.url, THREE), host(redis_server.url, THREE)
    held = [Ticket("llm") for _ in range(3)]
    queued = [Ticket("llm") for _ in range(3)]
    for ticket in held:
        holders.submit(ticket)
        assert ticket.answer is Answer.GRANTED
    for ticket in queued:
        waiters.submit(ticket)
        assert ticket.answer is None
    took: list[float] = []

    def release(ticket: Ticket) -> None:
        started = time.monotonic()
        holders.release(ticket, Usage())
        took.append(time.monotonic() - started)

    _stopped(redis_server)
    timer = threading.Timer(3 * RELEASE_WAIT_S, _continued, (redis_server,))
    timer.start()
    threads = [threading.Thread(target=release, args=(ticket,)) for ticket in held]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    timer.join()
    assert len(took) == 3
    assert max(took) < RELEASE_WAIT_S + 0.2, f"releases took {took}"
    for ticket in queued:  # every late reply was read: each slot passed on, once
        assert ticket.wait(5) is Answer.GRANTED
        assert isinstance(ticket.handle, Call)
    wait_for(lambda: not holders._releases._outbox.stuck)
    for ticket in queued:
        waiters.release(ticket, Usage())
    client = redis_server.client()
    assert client.zcard("hermes:{llm}:leases") == 0
    assert int(client.hget("hermes:{llm}:meta", "granted") or 0) == 6
    assert holders.unscheduled_calls == waiters.unscheduled_calls == 0
    holders.close()
    waiters.close()


def test_batched_calls_through_a_kill_9_and_restart_of_redis_lose_nothing(
    redis_server: RedisServer,
) -> None:
    """Twelve threads loop on three slots while Redis is killed -9 and started again: every
    call returns (granted or unscheduled, never an error, never a hang), once Redis is back the
    threads' calls are scheduled again, and every slot comes back."""
    scheduler = host(redis_server.url, THREE, lease_ttl_s=1.0)
    stop = threading.Event()
    calls, errors = [0], []
    lock = threading.Lock()

    def caller() -> None:
        while not stop.is_set():
            try:
                with scheduler.slot("llm", timeout=20):
                    with lock:
                        calls[0] += 1
                    time.sleep(0.002)
            except Exception as error:  # the test fails on any
                errors.append(error)

    threads = [threading.Thread(target=caller, daemon=True) for _ in range(12)]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: calls[0] > 200)
        redis_server.kill()
        wait_for(lambda: scheduler.out)
        counted = calls[0]
        wait_for(lambda: calls[0] > counted + 200)  # calls go on, unscheduled
        redis_server.start()
        # scheduled again, on a new link (the process took a new name; a late failure of an
        # old connection may make it take one more)
        wait_for(lambda: not scheduler.out and _scheduled(scheduler) > 200, timeout_s=20)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert not any(thread.is_alive() for thread in threads)  # no caller hangs
    assert errors == []
    assert scheduler.unscheduled_calls > 0
    client = redis_server.client()
    wait_for(lambda: client.zcard("hermes:{llm}:leases") == 0)  # every slot came back
    assert client.zcard("hermes:{llm}:queue") == 0
    scheduler.close()


def _scheduled(scheduler: RedisScheduler) -> int:
    """Calls sent to Redis on the scheduler's current link for ``llm``."""
    link = scheduler._links.get("llm")
    return 0 if link is None else link._submits.calls


@pytest.fixture
def redis_without_blmpop(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server without ``BLMPOP`` (renamed away), as Redis before 7 is."""
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (Debian/Ubuntu: apt-get install redis-server)")
    server = RedisServer(tmp_path, _free_port(), options=("--rename-command", "BLMPOP", ""))
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.mark.parametrize("old_redis", [False, True])
def test_grants_pushed_together_are_heard_with_or_without_blmpop(
    redis_server: RedisServer, redis_without_blmpop: RedisServer, old_redis: bool
) -> None:
    """Three calls of one host wait; the other host's three releases, sent in one exchange,
    push three grants at once: the waiting host hears all of them (``BLMPOP``, or one at a
    time with ``BLPOP`` on a Redis without it)."""
    server = redis_without_blmpop if old_redis else redis_server
    holders, waiters = host(server.url, THREE), host(server.url, THREE)
    held = [Ticket("llm") for _ in range(3)]
    queued = [Ticket("llm") for _ in range(3)]
    for ticket in held:
        holders.submit(ticket)
    for ticket in queued:
        waiters.submit(ticket)
        assert ticket.answer is None
    link = holders._links["llm"]
    done = link.scripts.exchange(
        link._script_keys,
        [*link._args, link.epoch],
        ends=[_member(ticket) for ticket in held],
    )
    assert done.statuses == (1, 1, 1)
    for ticket in queued:
        assert ticket.wait(5) is Answer.GRANTED
    assert waiters._links["llm"]._blmpop is not old_redis
    for ticket in queued:
        waiters.release(ticket, Usage())
    assert server.client().zcard("hermes:{llm}:leases") == 0
    assert waiters.unscheduled_calls == 0
    holders.close()
    waiters.close()


def _member(ticket: Ticket) -> str:
    """The name of ``ticket``'s call in Redis."""
    assert isinstance(ticket.handle, Call)
    assert ticket.handle.member is not None
    return ticket.handle.member


def test_a_release_interrupted_while_sending_is_ended_at_the_next_renewal(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ``KeyboardInterrupt`` while a release's script is sent reaches its caller; its slot
    is not kept: the call is an orphan, ended in Redis at the next renewal (while the process
    renews its lease for another call, so the lease would never free it)."""
    scheduler = host(redis_server.url, THREE, lease_ttl_s=0.6)
    kept, interrupted = Ticket("llm"), Ticket("llm")
    scheduler.submit(kept)
    scheduler.submit(interrupted)
    link = scheduler._links["llm"]
    exchange = link.scripts.exchange

    def broken(*args: object, **kwargs: object) -> object:
        if kwargs.get("ends"):
            monkeypatch.setattr(link.scripts, "exchange", exchange)  # once
            raise KeyboardInterrupt
        return exchange(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(link.scripts, "exchange", broken)
    with pytest.raises(KeyboardInterrupt):
        scheduler.release(interrupted, Usage())
    client = redis_server.client()
    wait_for(lambda: client.zcard("hermes:{llm}:leases") == 1)  # only ``kept`` holds one
    assert client.zscore("hermes:{llm}:leases", _member(kept)) is not None
    scheduler.release(kept, Usage())
    assert client.zcard("hermes:{llm}:leases") == 0
    scheduler.close()
