"""Failing open on a real redis-server: unreachable at start, kill -9 and restart with calls
waiting and running, a host killed or hung past its lease TTL; no waiter hangs, no call is
lost, scheduling resumes by itself."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from hermes_agents.scheduling.redis.scheduler import RedisScheduler
from hermes_agents.scheduling.state import Usage
from hermes_agents.scheduling.ticket import Answer, Ticket
from tests.scheduling.redis.conftest import RedisServer
from tests.scheduling.redis.helpers import ONE, assert_one_slot, host, wait_for

ROOT = Path(__file__).resolve().parents[3]


def test_unreachable_redis_runs_calls_unscheduled_then_resumes(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    redis_server.kill()
    scheduler = host(redis_server.url, ONE, retry_s=0.1)
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            with scheduler.slot("llm", timeout=1):
                pass
    assert scheduler.unscheduled_calls == 3
    assert len([r for r in caplog.records if "unscheduled" in r.getMessage()]) == 1
    redis_server.start()
    time.sleep(0.15)
    holder = Ticket("llm")
    scheduler.submit(holder)
    assert holder.answer is Answer.GRANTED
    assert "scheduling resumed" in caplog.text
    assert_one_slot(scheduler, holder)
    assert scheduler.unscheduled_calls == 3
    scheduler.close()


def test_kill_9_and_restart_of_redis_loses_no_call(redis_server: RedisServer) -> None:
    a, b = host(redis_server.url, ONE), host(redis_server.url, ONE)
    done: list[str] = []
    lock = threading.Lock()

    def call(scheduler: RedisScheduler, name: str) -> None:
        with scheduler.slot("llm", timeout=30):
            time.sleep(0.05)
        with lock:
            done.append(name)

    holder = Ticket("llm")
    a.submit(holder)
    waiters = [threading.Thread(target=call, args=(b, f"w{i}")) for i in range(4)]
    for thread in waiters:
        thread.start()
    wait_for(lambda: redis_server.client().zcard("hermes:{llm}:queue") == 4)
    started = time.monotonic()
    redis_server.kill()
    for thread in waiters:
        thread.join(15)
    assert sorted(done) == ["w0", "w1", "w2", "w3"]  # every waiter went ahead
    assert time.monotonic() - started < 10  # none waited out its 30 s timeout
    assert b.unscheduled_calls == 4
    redis_server.start()
    time.sleep(0.3)
    a.release(holder, Usage())  # its lease went with the restart: nothing breaks
    first, second = _granted(b), Ticket("llm")
    b.submit(second)
    assert second.answer is None  # scheduled again, capacity 1
    b.release(first, Usage())
    assert second.wait(5) is Answer.GRANTED
    b.release(second, Usage())
    a.close()
    b.close()


def test_a_killed_host_gives_its_slot_back_within_the_lease_ttl(
    redis_server: RedisServer,
) -> None:
    child = _child(redis_server.url, hold_s=60, ttl_s=1.0)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "held"
        scheduler = host(redis_server.url, ONE, lease_ttl_s=1.0)
        ticket = Ticket("llm")
        scheduler.submit(ticket)
        assert ticket.answer is None
        killed = time.monotonic()
        child.send_signal(signal.SIGKILL)
        assert ticket.wait(10) is Answer.GRANTED
        print(f"slot back {time.monotonic() - killed:.2f} s after kill -9 (TTL 1 s)")
        assert int(redis_server.client().hget("hermes:{llm}:meta", "expired") or 0) == 1
        scheduler.release(ticket, Usage())
        scheduler.close()
    finally:
        child.kill()
        child.wait(10)


def test_a_hung_host_loses_its_lease_and_counts_its_call_unscheduled(
    redis_server: RedisServer,
) -> None:
    child = _child(redis_server.url, hold_s=3.0, ttl_s=1.0)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "held"
        scheduler = host(redis_server.url, ONE, lease_ttl_s=1.0)
        ticket = Ticket("llm")
        os.kill(child.pid, signal.SIGSTOP)  # hung: no renewals
        scheduler.submit(ticket)
        assert ticket.wait(10) is Answer.GRANTED  # its slot was taken back
        os.kill(child.pid, signal.SIGCONT)
        out, _ = child.communicate(timeout=20)
        assert out.strip() == "unscheduled 1"  # it went on, unscheduled, and counted it
        scheduler.release(ticket, Usage())
        scheduler.close()
    finally:
        child.kill()
        child.wait(10)


def _granted(scheduler: RedisScheduler) -> Ticket:
    """A granted ticket, once the scheduler reaches Redis again (tickets before that run
    unscheduled)."""
    deadline = time.monotonic() + 5
    while True:
        ticket = Ticket("llm")
        scheduler.submit(ticket)
        if ticket.answer is not Answer.UNSCHEDULED:  # queued: granted once the slot is free
            assert ticket.wait(10) is Answer.GRANTED
            return ticket
        assert time.monotonic() < deadline, "scheduling did not resume"
        time.sleep(0.05)


def _child(url: str, *, hold_s: float, ttl_s: float) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "tests.scheduling.redis.child_host", url]
    command += [str(hold_s), str(ttl_s)]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)


def test_a_silent_redis_fails_calls_open_within_the_command_timeout(
    redis_server: RedisServer,
) -> None:
    """A Redis that stops answering (SIGSTOP: like a cut link, connections just hang)."""
    a, b = host(redis_server.url, ONE, lease_ttl_s=1.5), host(redis_server.url, ONE)
    holder, waiter = Ticket("llm"), Ticket("llm")
    a.submit(holder)
    b.submit(waiter)
    assert redis_server.process is not None
    redis_server.process.send_signal(signal.SIGSTOP)
    try:
        assert waiter.wait(10) is Answer.UNSCHEDULED  # its host's renewal timed out
        started = time.monotonic()
        with a.slot("llm", timeout=30):
            pass
        assert time.monotonic() - started < 5  # the command timeout (2 s), not the 30 s
        a.release(holder, Usage())  # returns at once: Redis is known to be out
    finally:
        redis_server.process.send_signal(signal.SIGCONT)
    ticket = _granted(a)
    a.release(ticket, Usage())
    assert redis_server.client().zcard("hermes:{llm}:leases") == 0
    a.close()
    b.close()
