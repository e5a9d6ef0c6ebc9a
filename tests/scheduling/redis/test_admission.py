"""Admission through a real redis-server, with several schedulers as several hosts: capacity
enforced across them, the Gittins order across them (ties by arrival), a release admits the
next call in the same step, token budgets, ranks refreshed in place, runs that end withdraw
their waiting calls."""

from __future__ import annotations

import itertools
import threading
import time

import pytest

from hermes_agents.errors import RunEndedError
from hermes_agents.pdgraph import PDGraph
from hermes_agents.scheduling.redis.scheduler import RedisScheduler
from hermes_agents.scheduling.state import BackendLimits, Usage
from hermes_agents.scheduling.ticket import Answer, Ticket
from tests.scheduling.redis.conftest import RedisServer
from tests.scheduling.redis.helpers import ONE, host, wait_for


def _queued(scheduler: RedisScheduler, ticket: Ticket, waiting: int, server: RedisServer) -> None:
    """Submit ``ticket`` and wait until Redis holds ``waiting`` waiting tickets."""
    scheduler.submit(ticket)
    deadline = time.monotonic() + 5
    while server.client().zcard("hermes:{llm}:queue") < waiting:
        assert time.monotonic() < deadline, "the ticket never reached the queue"
        time.sleep(0.01)


def test_capacity_one_holds_across_hosts(redis_server: RedisServer) -> None:
    hosts = [host(redis_server.url, ONE) for _ in range(3)]
    spans: list[tuple[float, float]] = []
    lock = threading.Lock()

    def calls(scheduler: RedisScheduler) -> None:
        for _ in range(15):
            with scheduler.slot("llm", timeout=20):
                start = time.monotonic()
                time.sleep(0.002)
                with lock:
                    spans.append((start, time.monotonic()))

    threads = [threading.Thread(target=calls, args=(h,)) for h in hosts for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    spans.sort()
    assert len(spans) == 90
    assert all(end <= nxt for (_, end), (nxt, _) in itertools.pairwise(spans))
    assert sum(h.unscheduled_calls for h in hosts) == 0
    for h in hosts:
        h.close()


def test_a_short_call_from_another_host_overtakes_long_ones_ties_by_arrival(
    redis_server: RedisServer,
) -> None:
    a, b = host(redis_server.url, ONE), host(redis_server.url, ONE)
    holder = Ticket("llm", estimate_s=1.0)
    a.submit(holder)
    assert holder.answer is Answer.GRANTED
    long_1, long_2 = Ticket("llm", estimate_s=10.0), Ticket("llm", estimate_s=10.0)
    short = Ticket("llm", estimate_s=0.1)
    _queued(a, long_1, 1, redis_server)
    _queued(a, long_2, 2, redis_server)
    _queued(b, short, 3, redis_server)
    owner = {id(holder): a, id(long_1): a, id(long_2): a, id(short): b}
    order: list[Ticket] = []
    current = holder
    for _ in range(3):  # each release admits the next in the same script
        owner[id(current)].release(current, _usage())
        current = _next_granted([long_1, long_2, short], order)
        order.append(current)
    assert order == [short, long_1, long_2]  # rank first, then arrival
    owner[id(current)].release(current, _usage())
    a.close()
    b.close()


def test_a_token_budget_is_shared_across_hosts(redis_server: RedisServer) -> None:
    limits = {"llm": BackendLimits(4, token_budget=100)}
    a, b = host(redis_server.url, limits), host(redis_server.url, limits)
    first, second = Ticket("llm", tokens=60), Ticket("llm", tokens=60)
    a.submit(first)
    _queued(b, second, 1, redis_server)
    assert first.answer is Answer.GRANTED
    assert second.answer is None
    a.release(first, _usage())
    assert second.wait(5) is Answer.GRANTED
    b.release(second, _usage())
    a.close()
    b.close()


def test_a_run_that_moves_gets_its_new_rank_in_place(redis_server: RedisServer) -> None:
    a = host(redis_server.url, ONE)
    a.add_prior("chain", _chain())
    holder = Ticket("llm")
    a.submit(holder)
    with a.run("chain") as run:
        run.enter_stage("plan")
        waiting = Ticket("llm", run_id=run.run_id, stage="plan")
        _queued(a, waiting, 1, redis_server)
        before = _score(redis_server)
        run.enter_stage("finish")
        # one short stage left: more urgent, refreshed with ZADD XX (by the scheduler's own
        # thread, right after the move)
        wait_for(lambda: _score(redis_server) < before)
    assert waiting.answer is Answer.WITHDRAWN  # the run ended while its call waited
    assert redis_server.client().zcard("hermes:{llm}:queue") == 0
    a.release(holder, _usage())
    a.close()


def test_a_call_whose_run_ended_raises_and_leaves_no_ticket(redis_server: RedisServer) -> None:
    a = host(redis_server.url, ONE)
    holder = Ticket("llm")
    a.submit(holder)
    errors: list[BaseException] = []
    scope = a.run("qa")
    scope.__enter__()

    def call() -> None:
        try:
            with a.slot("llm", stage="answer", timeout=10):
                pass
        except RunEndedError as error:
            errors.append(error)

    from contextvars import copy_context

    thread = threading.Thread(target=copy_context().run, args=(call,))
    thread.start()
    deadline = time.monotonic() + 5
    while redis_server.client().zcard("hermes:{llm}:queue") < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    scope.__exit__(None, None, None)
    thread.join(10)
    assert len(errors) == 1
    a.release(holder, _usage())  # (it may ride with the withdrawal's script, sent meanwhile)
    wait_for(lambda: redis_server.client().zcard("hermes:{llm}:leases") == 0)
    a.close()


def test_a_timeout_withdraws_the_ticket(redis_server: RedisServer) -> None:
    a, b = host(redis_server.url, ONE), host(redis_server.url, ONE)
    holder = Ticket("llm")
    a.submit(holder)
    with pytest.raises(TimeoutError), b.slot("llm", timeout=0.2):
        pass
    assert redis_server.client().zcard("hermes:{llm}:queue") == 0
    a.release(holder, _usage())
    with b.slot("llm", timeout=5):
        pass
    assert b.unscheduled_calls == 0
    a.close()
    b.close()


def _score(server: RedisServer) -> float:
    """The rank of the first waiting ticket."""
    return float(server.client().zrange("hermes:{llm}:queue", 0, 0, withscores=True)[0][1])


def _next_granted(tickets: list[Ticket], seen: list[Ticket]) -> Ticket:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for ticket in tickets:
            if ticket not in seen and ticket.answer is Answer.GRANTED:
                return ticket
        time.sleep(0.005)
    raise AssertionError("no ticket was granted after a release")


def _usage() -> Usage:
    return Usage(seconds=0.01)


def _chain() -> PDGraph:
    def tool(seconds: float, nxt: dict[str, float] | None = None) -> dict[str, object]:
        stage: dict[str, object] = {"kind": "tool", "backend": "llm", "seconds": {"const": seconds}}
        if nxt:
            stage["next"] = nxt
        return stage

    stages = {"plan": tool(20.0, {"finish": 1.0}), "finish": tool(0.5)}
    return PDGraph.from_dict({"name": "chain", "entry": "plan", "stages": stages})


def test_the_wait_bound_promotes_the_oldest_across_hosts(redis_server: RedisServer) -> None:
    limits = {"llm": BackendLimits(1, max_wait_s=0.3)}
    a, b = host(redis_server.url, limits), host(redis_server.url, limits)
    holder, old, short = (
        Ticket("llm"),
        Ticket("llm", estimate_s=10.0),
        Ticket("llm", estimate_s=0.1),
    )
    a.submit(holder)
    _queued(a, old, 1, redis_server)
    time.sleep(0.35)
    _queued(b, short, 2, redis_server)
    a.release(holder, _usage())
    assert old.wait(5) is Answer.GRANTED  # it waited past the bound: ahead of a better rank
    assert short.answer is None
    assert redis_server.client().hget("hermes:{llm}:meta", "promoted") == "1"
    a.release(old, _usage())
    assert short.wait(5) is Answer.GRANTED
    b.release(short, _usage())
    a.close()
    b.close()


def test_the_hold_bound_takes_a_slot_back_and_counts_it(redis_server: RedisServer) -> None:
    limits = {"llm": BackendLimits(1, max_hold_s=0.3)}
    a, b = host(redis_server.url, limits, lease_ttl_s=1.5), host(redis_server.url, limits)
    holder, waiter = Ticket("llm"), Ticket("llm")
    a.submit(holder)
    _queued(b, waiter, 1, redis_server)
    assert waiter.wait(5) is Answer.GRANTED  # a's slot was held past 0.3 s: taken back
    assert redis_server.client().hget("hermes:{llm}:meta", "reclaimed") == "1"
    a.release(holder, _usage())
    assert a.unscheduled_calls == 1  # its call went on unscheduled, counted once
    b.release(waiter, _usage())
    a.close()
    b.close()
