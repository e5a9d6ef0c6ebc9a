"""Redis orders each backend's queue by the configured policy, not only by Gittins rank:
tiers (``gittins+tiers``, ``[apps.NAME] tier``), deadlines (``edf``) and arrival (``fcfs``)
hold across hosts, on a clock the hosts share."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from hermes_agents.config import parse_config
from hermes_agents.scheduling.redis.clock import SharedClock
from hermes_agents.scheduling.redis.factory import redis_scheduler
from hermes_agents.scheduling.redis.scheduler import RedisScheduler
from hermes_agents.scheduling.state import Usage
from hermes_agents.scheduling.ticket import Answer, Ticket
from tests.scheduling.redis.conftest import RedisServer
from tests.scheduling.redis.helpers import wait_for

QUEUE = "hermes:{llm}:queue"


def _hosts(url: str, policy: str, apps: dict[str, Any] | None = None) -> list[RedisScheduler]:
    backends = {"llm": {"kind": "llm", "max_concurrency": 1}}
    data: dict[str, Any] = {"scheduler": {"policy": policy}, "backends": backends}
    if apps:
        data["apps"] = apps
    config = parse_config(data)
    return [redis_scheduler(url, config), redis_scheduler(url, config)]


def _queue_in_order(
    server: RedisServer, hosts: list[RedisScheduler], submits: list[Callable[[], Ticket]]
) -> list[Ticket]:
    """Hold the one slot from host 0, then queue each ticket (in this order) and wait until
    Redis has it; returns the holder and the queued tickets."""
    holder = Ticket("llm")
    hosts[0].submit(holder)
    assert holder.answer is Answer.GRANTED
    queued = [holder]
    for n, submit in enumerate(submits, start=1):
        queued.append(submit())
        wait_for(lambda n=n: server.client().zcard(QUEUE) >= n)  # type: ignore[misc]
    return queued


def _grant_order(owners: dict[int, RedisScheduler], tickets: list[Ticket]) -> list[Ticket]:
    """Release the holder (``tickets[0]``), then each granted ticket in turn; the order in
    which the queued ones were granted."""
    order: list[Ticket] = []
    current = tickets[0]
    for _ in tickets[1:]:
        owners[id(current)].release(current, Usage(seconds=0.01))
        wait_for(lambda: any(t.answer is Answer.GRANTED and t not in order for t in tickets[1:]))
        current = next(t for t in tickets[1:] if t.answer is Answer.GRANTED and t not in order)
        order.append(current)
    owners[id(current)].release(current, Usage(seconds=0.01))
    return order


def _call_in_run(
    host: RedisScheduler, app: str, owners: dict[int, RedisScheduler], **run: Any
) -> Callable[[], Ticket]:
    def submit() -> Ticket:
        scope = host.run(app, **run)
        scope.__enter__()
        ticket = Ticket("llm", run_id=scope.run_id)
        owners[id(ticket)] = host
        host.submit(ticket)
        return ticket

    return submit


def test_a_critical_app_on_one_host_overtakes_sheddable_calls_of_another(
    redis_server: RedisServer,
) -> None:
    apps = {"batch": {"tier": "sheddable"}, "chat": {"tier": "critical"}}
    a, b = _hosts(redis_server.url, "gittins+tiers", apps)
    owners: dict[int, RedisScheduler] = {}
    submits = [_call_in_run(a, "batch", owners), _call_in_run(a, "batch", owners)]
    submits.append(_call_in_run(b, "chat", owners))
    tickets = _queue_in_order(redis_server, [a, b], submits)
    owners[id(tickets[0])] = a
    order = _grant_order(owners, tickets)
    assert order == [tickets[3], tickets[1], tickets[2]]  # critical first, then by arrival
    a.close()
    b.close()


def test_the_nearer_deadline_goes_first_across_hosts(redis_server: RedisServer) -> None:
    a, b = _hosts(redis_server.url, "edf")
    owners: dict[int, RedisScheduler] = {}
    submits = [
        _call_in_run(a, "far", owners, deadline_s=600.0),
        _call_in_run(a, "none", owners),
        _call_in_run(b, "near", owners, deadline_s=60.0),
    ]
    tickets = _queue_in_order(redis_server, [a, b], submits)
    owners[id(tickets[0])] = a
    order = _grant_order(owners, tickets)
    assert order == [tickets[3], tickets[1], tickets[2]]  # near, far, then no deadline
    a.close()
    b.close()


def _one_call(
    host: RedisScheduler, estimate_s: float, owners: dict[int, RedisScheduler]
) -> Callable[[], Ticket]:
    def submit() -> Ticket:
        ticket = Ticket("llm", estimate_s=estimate_s)
        owners[id(ticket)] = host
        host.submit(ticket)
        return ticket

    return submit


def test_fcfs_across_hosts_is_arrival_order(redis_server: RedisServer) -> None:
    a, b = _hosts(redis_server.url, "fcfs")
    owners: dict[int, RedisScheduler] = {}
    # Gittins would take the short call first; arrival order keeps it last
    submits = [_one_call(b, 10.0, owners), _one_call(a, 10.0, owners), _one_call(b, 0.1, owners)]
    tickets = _queue_in_order(redis_server, [a, b], submits)
    owners[id(tickets[0])] = a
    assert _grant_order(owners, tickets) == tickets[1:]
    a.close()
    b.close()


def test_the_shared_clock_is_wall_time_and_never_steps_back() -> None:
    clock = SharedClock()
    readings = [clock() for _ in range(1000)]
    assert readings == sorted(readings)
    assert abs(readings[-1] - time.time()) < 1.0
