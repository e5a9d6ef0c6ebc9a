"""The fast path of a call through Redis (real redis-server): a release is one round trip on the
caller's thread, a reply that is late is read to the end by the outbox's thread on the same
connection (the release is neither lost nor sent twice, the caller never waits long), and a
process that dies loses its pushed grants with its lease (its grant list has no expiry)."""

from __future__ import annotations

import signal
import threading
import time

import pytest
import redis

from hermes_agents.scheduling.redis.call import Call
from hermes_agents.scheduling.redis.keys import BackendKeys
from hermes_agents.scheduling.redis.lane import Lane, Late
from hermes_agents.scheduling.redis.releases import RELEASE_WAIT_S
from hermes_agents.scheduling.redis.scripts import Scripts
from hermes_agents.scheduling.state import Usage
from hermes_agents.scheduling.ticket import Answer, Ticket
from tests.scheduling.redis.conftest import RedisServer
from tests.scheduling.redis.helpers import ONE, host, wait_for


def _stop_for(redis_server: RedisServer, seconds: float) -> threading.Timer:
    """SIGSTOP Redis now and SIGCONT it after ``seconds`` (its connections hang meanwhile)."""
    assert redis_server.process is not None
    process = redis_server.process
    process.send_signal(signal.SIGSTOP)
    timer = threading.Timer(seconds, process.send_signal, (signal.SIGCONT,))
    timer.start()
    return timer


def test_a_release_is_done_on_the_callers_thread(redis_server: RedisServer) -> None:
    a, b = host(redis_server.url, ONE), host(redis_server.url, ONE)
    holder, waiter = Ticket("llm"), Ticket("llm")
    a.submit(holder)
    b.submit(waiter)
    assert holder.answer is Answer.GRANTED
    assert waiter.answer is None
    assert isinstance(holder.handle, Call)
    member = holder.handle.member
    a.release(holder, Usage())
    # freed in Redis before release returned, with no thread between (the outbox never started)
    assert member not in redis_server.client().zrange("hermes:{llm}:leases", 0, -1)
    assert waiter.wait(5) is Answer.GRANTED
    assert a._releases._outbox._thread is None
    b.release(waiter, Usage())
    assert redis_server.client().zcard("hermes:{llm}:leases") == 0
    a.close()
    b.close()


def test_a_late_reply_is_read_by_the_outbox_and_the_caller_goes_on(
    redis_server: RedisServer,
) -> None:
    a, b = host(redis_server.url, ONE), host(redis_server.url, ONE)
    holder, waiter = Ticket("llm"), Ticket("llm")
    a.submit(holder)
    b.submit(waiter)
    timer = _stop_for(redis_server, 2 * RELEASE_WAIT_S)
    started = time.monotonic()
    a.release(holder, Usage())
    took_s = time.monotonic() - started
    assert took_s < RELEASE_WAIT_S + 0.2, f"the release took {took_s:.2f} s"
    timer.join()
    # the script ran once Redis went on; the outbox's thread read its reply: the slot passed on
    assert waiter.wait(5) is Answer.GRANTED
    wait_for(lambda: not a._releases._outbox.stuck)
    assert not a.out
    assert not b.out
    assert a.unscheduled_calls == 0
    assert b.unscheduled_calls == 0
    b.release(waiter, Usage())
    client = redis_server.client()
    assert client.zcard("hermes:{llm}:leases") == 0
    assert int(client.hget("hermes:{llm}:meta", "granted") or 0) == 2  # each granted once
    again = Ticket("llm")
    a.submit(again)  # the connection that waited is in use again, nothing left in it
    assert again.answer is Answer.GRANTED
    a.release(again, Usage())
    a.close()
    b.close()


def test_a_lane_reads_a_late_reply_to_the_end_on_the_same_connection(
    redis_server: RedisServer,
) -> None:
    lane = Lane(redis.Redis.from_url(redis_server.url, socket_timeout=5.0))
    assert lane.execute("PING") in (b"PONG", True, "PONG")
    timer = _stop_for(redis_server, 0.3)
    in_flight = lane.send("INCR", "counter")
    with pytest.raises(Late) as late:
        in_flight.reply(patience_s=0.05)
    timer.join()
    assert late.value.finish() == 1  # read where the first reader stopped; sent once
    assert lane.execute("INCR", "counter") == 2
    with pytest.raises(redis.ResponseError):  # an error reply leaves the connection usable
        lane.execute("INCR", "no", "such", "arity")
    assert lane.execute("INCR", "counter") == 3
    assert len(lane._idle) == 1  # one connection did all of it
    lane.close()


def test_a_dead_process_loses_its_pushed_grants_with_its_lease(
    redis_server: RedisServer,
) -> None:
    """Pushed grants carry no expiry (one command less per grant): the list goes when the
    process's lease expires and it is reaped, with the slot the grant gave it."""
    client = redis_server.client()
    scripts = Scripts(client)
    keys = BackendKeys("llm")

    def args(process: str, ttl_ms: int) -> list[str]:
        return [process, str(ttl_ms), "1", "0", "0", "0", "1.0", "30000", ""]

    live = scripts.submit(keys.script_keys, [*args("live", 10_000), "1.0", "0", "standard", "app"])
    dead = scripts.submit(keys.script_keys, [*args("dead", 300), "1.0", "0", "standard", "app"])
    assert live.mine == (live.status,)
    assert dead.mine == ()
    released = scripts.release(keys.script_keys, [*args("live", 10_000), live.status])
    assert released.status == 1
    assert client.lrange(keys.grants("dead"), 0, -1) == [dead.status]
    assert client.pttl(keys.grants("dead")) == -1  # no expiry of its own
    time.sleep(0.5)  # "dead" never renews: its lease (300 ms) runs out
    later = scripts.submit(keys.script_keys, [*args("live", 10_000), "1.0", "0", "standard", "app"])
    assert later.mine == (later.status,)  # the dead one's slot came back at once
    assert client.exists(keys.grants("dead"), keys.owned("dead")) == 0
    assert client.zscore(keys.procs, "dead") is None


def test_a_lane_without_hiredis_packs_with_redis_py(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("hermes_agents.scheduling.redis.lane._pack_command", None)
    lane = Lane(redis.Redis.from_url(redis_server.url))
    assert lane.execute("SET", "k", "v") in (b"OK", True, "OK")
    assert lane.send("GET", "k").reply() == b"v"
    lane.close()
