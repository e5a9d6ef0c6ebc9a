"""Calls made on an asyncio event loop's thread never wait on Redis (real redis-server): their
submits and releases are posted to go with the next script, sent by another thread; the
capacity holds across hosts, every call is answered once, and every slot comes back, also
when Redis stalls or the scheduler closes with calls not sent yet."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import threading
import weakref

import redis

from hermes_agents.scheduling.redis.scheduler import RedisScheduler
from hermes_agents.scheduling.state import BackendLimits, Usage
from hermes_agents.scheduling.ticket import Answer, Ticket
from tests.scheduling.redis.conftest import RedisServer
from tests.scheduling.redis.helpers import host, wait_for

THREE = {"llm": BackendLimits(3)}


def _signal(redis_server: RedisServer, number: signal.Signals) -> None:
    assert redis_server.process is not None
    redis_server.process.send_signal(number)


def _warm(scheduler: RedisScheduler) -> None:
    """One call from a plain thread: the link, its keys and its script exist."""
    with scheduler.slot("llm"):
        pass


def test_tasks_on_two_hosts_never_hold_more_than_the_capacity(redis_server: RedisServer) -> None:
    one, other = host(redis_server.url, THREE), host(redis_server.url, THREE)
    _warm(one)
    _warm(other)
    running, most = [0], [0]

    async def task(scheduler: RedisScheduler, calls: int) -> int:
        done = 0
        async with scheduler.run("app"):
            for _ in range(calls):
                async with scheduler.slot("llm", stage="step"):
                    running[0] += 1
                    most[0] = max(most[0], running[0])
                    await asyncio.sleep(0.001)
                    running[0] -= 1
                    done += 1
        return done

    async def main() -> list[int]:
        return await asyncio.gather(*(task(one if i % 2 else other, 15) for i in range(20)))

    assert sum(asyncio.run(main())) == 300
    assert most[0] <= 3
    client = redis_server.client()
    assert int(client.hget("hermes:{llm}:meta", "granted") or 0) == 302  # each granted once
    wait_for(lambda: client.zcard("hermes:{llm}:leases") == 0)  # every slot came back (posted)
    assert client.zcard("hermes:{llm}:queue") == 0
    assert one.unscheduled_calls == other.unscheduled_calls == 0
    for scheduler in (one, other):  # the loop's thread sent no script of its own
        link = scheduler._links["llm"]
        assert link._submits.calls == 1  # the warm-up's submit
        assert link._releases.calls == 1  # and its release
        assert link._submits.scripts > 1  # the rest went on other threads
    one.close()
    other.close()


def test_a_stalled_redis_never_stalls_the_event_loop(redis_server: RedisServer) -> None:
    """With Redis stopped (SIGSTOP), a submit and a release made on the loop return at once,
    unanswered and unsent (a blocking one would have waited out the command's timeout and
    failed the call open); once Redis goes on, the call is granted and its slot comes back."""
    scheduler = host(redis_server.url, THREE)
    _warm(scheduler)
    link = scheduler._links["llm"]
    client = redis_server.client()

    async def main() -> None:
        ticket = Ticket("llm")
        _signal(redis_server, signal.SIGSTOP)
        try:
            scheduler.submit(ticket)
            assert ticket.answer is None  # posted: the sender's thread waits on Redis
            assert link._submits.calls == 1  # (the warm-up's): nothing sent on this thread
        finally:
            _signal(redis_server, signal.SIGCONT)
        assert await ticket.wait_async(10) is Answer.GRANTED
        _signal(redis_server, signal.SIGSTOP)
        try:  # (a release waiting on Redis would be sent here, and wait up to 0.25 s)
            scheduler.release(ticket, Usage())
            assert link._releases.calls == 1  # posted, not sent by this thread
            assert link._submits._sending  # the sender's thread has it, waiting on Redis
        finally:
            _signal(redis_server, signal.SIGCONT)

    asyncio.run(main())
    wait_for(lambda: client.zcard("hermes:{llm}:leases") == 0)
    assert scheduler.unscheduled_calls == 0
    scheduler.close()


def test_calls_posted_and_not_sent_when_the_scheduler_closes_go_ahead(
    redis_server: RedisServer,
) -> None:
    """Redis stopped: the first posted submit waits in flight on the sender's thread, the
    second waits to be sent; closing the scheduler answers both (they go ahead unscheduled),
    and nothing hangs."""
    scheduler = host(redis_server.url, THREE)
    _warm(scheduler)
    link = scheduler._links["llm"]
    first, second = Ticket("llm"), Ticket("llm")
    closed = threading.Event()

    async def main() -> None:
        scheduler.submit(first)
        wait_for(lambda: link._submits._sending and not link._submits._riders)
        scheduler.submit(second)
        assert link._submits._riders  # waiting to be sent behind the first
        closing = asyncio.get_running_loop().run_in_executor(None, _close)
        answers = await asyncio.gather(first.wait_async(15), second.wait_async(15))
        assert list(answers) == [Answer.UNSCHEDULED, Answer.UNSCHEDULED]
        await closing

    def _close() -> None:
        scheduler.close()
        closed.set()

    _signal(redis_server, signal.SIGSTOP)
    timer = threading.Timer(3.0, _signal, (redis_server, signal.SIGCONT))
    timer.start()
    try:
        asyncio.run(main())
    finally:
        timer.cancel()
        _signal(redis_server, signal.SIGCONT)
    assert closed.is_set()
    assert not link._submits._riders


def test_a_call_cancelled_while_its_submit_is_on_its_way_leaves_no_slot_behind(
    redis_server: RedisServer,
) -> None:
    """Redis stopped: a task's submit is posted and on its way when the task is cancelled;
    once Redis answers, the ticket it queued (granted at once, or waiting) is ended there
    too, so no slot stays held for a call nobody runs."""
    scheduler = host(redis_server.url, THREE)
    _warm(scheduler)
    link = scheduler._links["llm"]
    client = redis_server.client()

    async def enter() -> None:
        async with scheduler.slot("llm"):
            raise AssertionError("it was cancelled before its grant")

    async def main() -> None:
        _signal(redis_server, signal.SIGSTOP)
        try:
            task = asyncio.create_task(enter())
            await asyncio.sleep(0)  # it posts its submit and waits for the grant
            assert link._submits._sending  # on its way, on the sender's thread
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        finally:
            _signal(redis_server, signal.SIGCONT)

    asyncio.run(main())
    wait_for(lambda: not link._submits._sending)
    wait_for(lambda: client.zcard("hermes:{llm}:leases") == 0)
    assert client.zcard("hermes:{llm}:queue") == 0
    assert not link.tickets.held
    assert not link.tickets.waiting
    scheduler.close()


def test_a_retired_link_stops_its_sender_thread(redis_server: RedisServer) -> None:
    """An outage retires the links (the process takes a new name): the sender thread of a link
    that had posted calls ends with it, so outages leave no thread behind."""
    scheduler = host(redis_server.url, THREE, lease_ttl_s=1.0, retry_s=0.05)

    async def one_call() -> None:
        async with scheduler.slot("llm"):
            pass

    def senders() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name.startswith("hermes-redis-sender")]

    before = len(senders())
    for _ in range(3):
        asyncio.run(one_call())
        assert len(senders()) == before + 1
        scheduler._failed(redis.ConnectionError("an outage"))  # as a failed command would
        wait_for(lambda: len(senders()) == before)
        wait_for(lambda: not scheduler.out)
    assert scheduler.unscheduled_calls == 0
    scheduler.close()


def test_an_event_loop_that_waited_on_tickets_is_freed_with_its_run() -> None:
    loops: list[weakref.ref[asyncio.AbstractEventLoop]] = []

    async def wait_once() -> None:
        loops.append(weakref.ref(asyncio.get_running_loop()))
        ticket = Ticket("llm")
        threading.Timer(0.01, ticket.grant).start()  # answered from another thread
        assert await ticket.wait_async(10) is Answer.GRANTED

    for _ in range(3):
        asyncio.run(wait_once())
    gc.collect()
    assert [loop() for loop in loops] == [None, None, None]
