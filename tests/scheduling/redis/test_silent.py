"""A silent Redis (SIGSTOP: connections hang, as on a cut link) never stalls the app's thread:
a release and a run's end return within a fraction of the command timeout, calls during the
outage run at once (the "is Redis back?" probe runs on its own thread), and nothing is lost:
the slot comes back, the call is counted once, the run's profile row is written once Redis
answers. The profile store's failure is one warning line (its traceback at DEBUG only)."""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

import pytest

from hermes_agents.pdgraph import Visit
from hermes_agents.pdgraph.learner import Call
from hermes_agents.scheduling.models import AppModels
from hermes_agents.scheduling.redis.address import COMMAND_TIMEOUT_S, RedisAddress
from hermes_agents.scheduling.redis.factory import OPEN
from hermes_agents.scheduling.redis.profilewrites import ProfileWrites
from hermes_agents.scheduling.redis.scheduler import RedisScheduler
from hermes_agents.scheduling.runtime import LocalScheduler
from hermes_agents.scheduling.state import Usage
from hermes_agents.scheduling.ticket import Answer, Ticket
from hermes_agents.store.redisprofiles import RedisProfileStore
from tests.scheduling.redis.conftest import RedisServer
from tests.scheduling.redis.helpers import ONE, assert_one_slot, wait_for

_wait_for = partial(wait_for, timeout_s=15.0, poll_s=0.02)
"""Longer than the default: the probe and the leases take seconds when Redis is silent."""


def _host(url: str, store: RedisProfileStore) -> RedisScheduler:
    """A host whose runs are learned into the Redis profile store, as ``redis_scheduler``."""
    made: list[RedisScheduler] = []
    writes = ProfileWrites(store, lambda: bool(made) and made[0].out)
    local = LocalScheduler.in_process({"llm": OPEN}, models=AppModels(store=writes))
    address = RedisAddress.parse(url)
    scheduler = RedisScheduler(address, local, ONE, lease_ttl_s=1.5, retry_s=0.2)
    scheduler.profile_writes = writes
    writes.learn_off_thread(local.driver)
    made.append(scheduler)
    return scheduler


@contextmanager
def _silent(redis_server: RedisServer) -> Iterator[None]:
    assert redis_server.process is not None
    redis_server.process.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        redis_server.process.send_signal(signal.SIGCONT)


def test_a_release_and_a_run_end_never_wait_on_a_silent_redis(redis_server: RedisServer) -> None:
    store = RedisProfileStore(RedisAddress.parse(redis_server.url).client())
    scheduler = _host(redis_server.url, store)
    scheduler.start_run("r1", "qa")
    ticket = Ticket("llm", run_id="r1", stage="answer")
    scheduler.submit(ticket)
    assert ticket.answer is Answer.GRANTED
    with _silent(redis_server):
        started = time.monotonic()
        scheduler.release(ticket, Usage())
        scheduler.finish_run("r1")
        took_s = time.monotonic() - started
        assert took_s < COMMAND_TIMEOUT_S / 2, f"release + end of run took {took_s:.2f} s"
        _wait_for(lambda: scheduler.out)  # the outbox's thread found Redis silent
    client = redis_server.client()
    _wait_for(lambda: client.zcard("hermes:{llm}:leases") == 0)  # the slot came back
    _wait_for(lambda: len(store.runs("qa")) == 1)  # the run's row, written once Redis answered
    _wait_for(lambda: scheduler.unscheduled_calls == 1)  # its lease expired: counted
    time.sleep(0.5)  # ... once, whoever finds out again (the orphaned release, a renewal)
    assert scheduler.unscheduled_calls == 1
    assert scheduler.profile_writes is not None
    assert scheduler.profile_writes.dropped == 0
    scheduler.close()


def test_calls_on_a_silent_redis_run_at_once_and_scheduling_resumes(
    redis_server: RedisServer,
) -> None:
    store = RedisProfileStore(RedisAddress.parse(redis_server.url).client())
    scheduler = _host(redis_server.url, store)
    with scheduler.slot("llm", timeout=5):
        pass
    with _silent(redis_server):
        with scheduler.slot("llm", timeout=30):  # believed up: pays the command timeout once
            pass
        assert scheduler.out
        waits_s = []
        for _ in range(12):  # several retry windows (0.2 s): the probe runs on its own thread
            started = time.monotonic()
            with scheduler.slot("llm", timeout=30):
                pass
            waits_s.append(time.monotonic() - started)
            time.sleep(0.1)
        assert max(waits_s) < COMMAND_TIMEOUT_S / 4, waits_s
    _wait_for(lambda: not scheduler.out)  # the probe saw Redis again
    holder = Ticket("llm")
    scheduler.submit(holder)  # (the timed-out submit's ticket may hold the slot until its TTL)
    assert holder.wait(5) is Answer.GRANTED
    assert_one_slot(scheduler, holder)
    assert scheduler.unscheduled_calls == 13
    scheduler.close()


def test_a_failing_profile_store_is_one_warning_line(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    store = RedisProfileStore(RedisAddress.parse(redis_server.url).client())
    redis_server.kill()
    models = AppModels(store=store)
    run = [Visit("answer", calls=(Call(100, 10),))]
    with caplog.at_level(logging.DEBUG, logger="hermes_agents.scheduling.models"):
        models.observe("qa", run)
        models.observe("qa", run)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].exc_info is None
    assert "could not" in warnings[0].getMessage()  # names the error
    assert any(r.levelno == logging.DEBUG and r.exc_info for r in caplog.records)
