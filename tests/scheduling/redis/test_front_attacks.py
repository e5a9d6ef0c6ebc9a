"""Attacks on ``hermes serve --scheduler redis://...`` (a real redis-server, a real daemon
process fronting it, clients on raw sockets speaking the protocol line by line): a client
killed with -9 while its call waits in Redis has it withdrawn there at once, and one killed
holding a slot and waiting for another frees both (the slot goes to a live client); a client
that stalls holding a slot loses it after its lease; a run ended while its call waits has it
withdrawn once; a Redis stopped with ``SIGSTOP`` while the daemon has waiters leaves no waiter
unanswered and no client of the daemon unheard, every call is answered exactly once, and
scheduling resumes after ``SIGCONT``; a flood of throttles, good and bad, is answered only where
a line was bad."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from hermes_agents.scheduling.daemon.connection import query_status
from hermes_agents.scheduling.state import Usage
from hermes_agents.scheduling.ticket import Answer, Ticket
from tests.scheduling.daemon.procs import ROOT, Daemon
from tests.scheduling.redis.conftest import RedisServer
from tests.scheduling.redis.helpers import ONE, host, wait_for

pytestmark = pytest.mark.timeout(120)

QUEUE = "hermes:{llm}:queue"
"""The Redis sorted set of the calls waiting on ``llm``."""

ANSWERS = ("grant", "withdrawn", "error")
"""The ops that answer a submitted task (an ``error`` with its ``task``: run it unscheduled)."""


class RawClient:
    """A client of the daemon on a raw Unix socket: lines out, decoded lines in."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(str(path))
        self.buffer = b""
        self.seen: list[dict[str, Any]] = []
        """Every message read so far, in order."""

    def send(self, **message: Any) -> None:
        self.sock.sendall(json.dumps(message).encode() + b"\n")

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_until(self, done: Any, timeout_s: float = 20.0) -> list[dict[str, Any]]:
        """Read lines until ``done(self.seen)`` holds (fails the test after ``timeout_s``)."""
        deadline = time.monotonic() + timeout_s
        while not done(self.seen):
            left = deadline - time.monotonic()
            assert left > 0, f"no such answer in time; read {self.seen[-5:]}"
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            assert chunk, f"the daemon hung up; read {self.seen[-5:]}"
            self.buffer += chunk
            *lines, self.buffer = self.buffer.split(b"\n")
            self.seen += [json.loads(line) for line in lines if line]
        return self.seen

    def hello(self) -> None:
        self.send(op="hello", version=1, client="attacker")
        self.read_until(lambda seen: any(m["op"] == "welcome" for m in seen))

    def answers(self, task: int) -> list[dict[str, Any]]:
        """The answers read so far to ``task``."""
        return [m for m in self.seen if m.get("task") == task and m["op"] in ANSWERS]

    def answered(self, *tasks: int) -> bool:
        return all(self.answers(task) for task in tasks)

    def pong(self) -> None:
        count = sum(m["op"] == "pong" for m in self.seen)
        self.send(op="ping")
        self.read_until(lambda seen: sum(m["op"] == "pong" for m in seen) > count)

    def close(self) -> None:
        self.sock.close()


_WAITER = """
import json, socket, sys, time
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.connect(sys.argv[1])
lines = [{"op": "hello", "version": 1}, {"op": "run", "run": "r", "app": "killed"}]
lines += [{"op": "submit", "task": n, "run": "r", "backend": "llm"} for n in (1, 2)]
sock.sendall(b"".join(json.dumps(line).encode() + b"\\n" for line in lines))
print("waiting", flush=True)
time.sleep(3600)
"""


def test_a_client_killed_with_9_while_waiting_is_withdrawn_from_redis(
    daemon: Daemon, redis_server: RedisServer
) -> None:
    direct = host(redis_server.url, ONE)  # another host on Redis directly: holds the slot
    holder = Ticket("llm")
    direct.submit(holder)
    assert holder.answer is Answer.GRANTED
    waiter = subprocess.Popen(
        [sys.executable, "-c", _WAITER, str(daemon.socket)], cwd=ROOT, stdout=subprocess.PIPE
    )
    try:
        assert waiter.stdout is not None
        assert waiter.stdout.readline().strip() == b"waiting"
        wait_for(lambda: redis_server.client().zcard(QUEUE) == 2)
        waiter.send_signal(signal.SIGKILL)
        waiter.wait(10)
        wait_for(lambda: redis_server.client().zcard(QUEUE) == 0)  # withdrawn in Redis
        other = RawClient(daemon.socket)
        other.hello()
        other.send(op="submit", task=7, run=None, backend="llm")
        wait_for(lambda: redis_server.client().zcard(QUEUE) == 1)
        direct.release(holder, Usage(seconds=0.01))
        other.read_until(lambda seen: other.answered(7))  # next in line: the live client
        assert [m["op"] for m in other.answers(7)] == ["grant"]
        other.send(op="release", task=7, usage={"seconds": 0.01})
        other.pong()
        state = query_status(daemon.address)
        assert state["counters"]["slots_reclaimed"] == 0  # it held nothing
        assert state["backends"][0]["waiting"] == 0  # nothing of the dead client is left
        wait_for(lambda: redis_server.client().hget("hermes:{llm}:meta", "granted") == "2")
        other.close()
    finally:
        if waiter.poll() is None:
            waiter.kill()
            waiter.wait(10)
        direct.close()


def test_a_silent_redis_never_leaves_a_daemon_waiter_unanswered(
    daemon: Daemon, redis_server: RedisServer
) -> None:
    assert redis_server.process is not None
    direct = host(redis_server.url, ONE)
    holder = Ticket("llm")
    direct.submit(holder)
    assert holder.answer is Answer.GRANTED
    waiting = RawClient(daemon.socket)
    waiting.hello()
    for task in (1, 2, 3):
        waiting.send(op="submit", task=task, run=None, backend="llm")
    wait_for(lambda: redis_server.client().zcard(QUEUE) == 3)
    redis_server.process.send_signal(signal.SIGSTOP)
    try:
        late = RawClient(daemon.socket)  # the daemon still hears a new client...
        late.hello()
        late.pong()
        late.send(op="submit", task=1, run=None, backend="llm")  # ...and answers its call
        late.read_until(lambda seen: late.answered(1))
        waiting.read_until(lambda seen: waiting.answered(1, 2, 3))  # no waiter left hanging
        late.send(op="release", task=1)
        for task in (1, 2, 3):
            waiting.send(op="release", task=task)
        waiting.pong()
    finally:
        redis_server.process.send_signal(signal.SIGCONT)
    direct.release(holder, Usage(seconds=0.01))
    task = 10
    deadline = time.monotonic() + 30
    while True:  # scheduling resumes by itself: a call is granted in Redis again
        assert time.monotonic() < deadline, "scheduling never resumed"
        late.send(op="submit", task=task, run=None, backend="llm")
        late.read_until(lambda seen, task=task: late.answered(task))
        late.send(op="release", task=task, usage={"seconds": 0.01})
        if late.answers(task)[0]["op"] == "grant":
            break
        task += 1
        time.sleep(0.2)
    late.pong()
    waiting.pong()
    for client in (waiting, late):  # exactly one answer per call, whatever happened
        tasks = {m["task"] for m in client.seen if m["op"] in ANSWERS and "task" in m}
        assert all(len(client.answers(t)) == 1 for t in tasks), client.seen
    assert all(m.get("fatal") is not True for m in waiting.seen + late.seen)
    waiting.close()
    late.close()
    direct.close()


def test_a_flood_of_throttles_good_and_bad_is_answered_only_where_a_line_was_bad(
    daemon: Daemon,
) -> None:
    client = RawClient(daemon.socket)
    client.hello()
    good = b'{"op":"throttle","backend":"llm","status":429,"retry_after_s":0}\n'
    bad = [
        b'{"op":"throttle","backend":"llm","status":429,"retry_after_s":NaN}\n',
        b'{"op":"throttle","backend":"llm","status":429,"retry_after_s":Infinity}\n',
        b'{"op":"throttle","backend":"llm","status":429,"retry_after_s":1e999}\n',
        b'{"op":"throttle","backend":"llm","status":429,"retry_after_s":1e308}\n',
        b'{"op":"throttle","backend":"llm","status":429,"retry_after_s":-1}\n',
        b'{"op":"throttle","backend":"llm","status":429,"retry_after_s":true}\n',
        b'{"op":"throttle","backend":"llm","status":true}\n',
        b'{"op":"throttle","backend":"llm","status":430}\n',
        b'{"op":"throttle","backend":"llm","status":429.0}\n',
        b'{"op":"throttle","backend":"llm","status":100000000000000000000000000000}\n',
        b'{"op":"throttle","backend":"","status":429}\n',
        b'{"op":"throttle","backend":"llm"}\n',
        b'{"op":"throttle","backend":"llm","status":503,"extra":1}\n',
    ]
    client.send_raw(good * 5000 + b"".join(bad) + good * 5000)
    client.pong()  # the daemon read the whole flood and still answers
    errors = [m for m in client.seen if m["op"] == "error"]
    assert len(errors) == len(bad), errors
    assert all(m["op_failed"] == "throttle" and not m["fatal"] for m in errors)
    assert len(client.seen) == 1 + len(bad) + 1  # welcome, the errors, pong: nothing else
    client.send(op="submit", task=1, run=None, backend="llm")  # and still schedules
    client.read_until(lambda seen: client.answered(1))
    assert [m["op"] for m in client.answers(1)] == ["grant"]
    client.send(op="release", task=1)
    client.pong()
    client.close()


_HOLDER_AND_WAITER = """
import json, socket, sys, time
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.connect(sys.argv[1])
lines = [{"op": "hello", "version": 1}, {"op": "submit", "task": 1, "run": None, "backend": "llm"}]
sock.sendall(b"".join(json.dumps(line).encode() + b"\\n" for line in lines))
data = b""
while b'"grant"' not in data:
    data += sock.recv(4096)
line = {"op": "submit", "task": 2, "run": None, "backend": "llm"}
sock.sendall(json.dumps(line).encode() + b"\\n")
print("holding and waiting", flush=True)
time.sleep(3600)
"""


def test_a_client_killed_holding_one_call_and_waiting_on_another_frees_both(
    daemon: Daemon, redis_server: RedisServer
) -> None:
    """Its waiting call is withdrawn before its slot is released, so the slot goes to the live
    client's call, not to the dead client's own queued one."""
    victim = subprocess.Popen(
        [sys.executable, "-c", _HOLDER_AND_WAITER, str(daemon.socket)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
    )
    other = RawClient(daemon.socket)
    try:
        assert victim.stdout is not None
        assert victim.stdout.readline().strip() == b"holding and waiting"
        wait_for(lambda: redis_server.client().zcard(QUEUE) == 1)
        other.hello()
        other.send(op="submit", task=7, run=None, backend="llm")
        wait_for(lambda: redis_server.client().zcard(QUEUE) == 2)
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        other.read_until(lambda seen: other.answered(7))
        assert [m["op"] for m in other.answers(7)] == ["grant"]
        assert redis_server.client().zcard(QUEUE) == 0  # the dead client's call left the queue
        other.send(op="release", task=7, usage={"seconds": 0.01})
        other.pong()
        state = query_status(daemon.address)
        assert state["counters"]["slots_reclaimed"] == 1
        assert (state["backends"][0]["running"], state["backends"][0]["waiting"]) == (0, 0)
        meta = redis_server.client().hgetall("hermes:{llm}:meta")
        assert meta["granted"] == "2"  # the victim's first call and the live client's
    finally:
        other.close()
        if victim.poll() is None:
            victim.kill()
            victim.wait(10)


def test_a_silent_client_holding_a_slot_through_the_daemon_loses_it_in_redis(
    redis_server: RedisServer, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that stalls (never pings again) while it holds a slot: after its lease the
    daemon closes it and releases the slot in Redis, where another host's call waits."""
    monkeypatch.setenv("HERMES_REDIS_LEASE_TTL_S", "30")  # Redis' own lease plays no part
    daemon = Daemon(workdir, "--scheduler", redis_server.url, "--lease-s", "1").start()
    direct = host(redis_server.url, ONE, lease_ttl_s=30.0)
    stalled = RawClient(daemon.socket)
    try:
        stalled.hello()
        stalled.send(op="submit", task=1, run=None, backend="llm")
        stalled.read_until(lambda seen: stalled.answered(1))
        assert [m["op"] for m in stalled.answers(1)] == ["grant"]
        waiting = Ticket("llm")
        direct.submit(waiting)
        assert waiting.answer is None
        assert waiting.wait(30) is Answer.GRANTED  # the stalled client's lease ran out
        state = query_status(daemon.address)
        assert state["counters"]["leases_expired"] == 1
        assert state["counters"]["slots_reclaimed"] == 1
        direct.release(waiting, Usage(seconds=0.01))
    finally:
        stalled.close()
        direct.close()
        daemon.stop()


def test_a_run_ended_while_its_call_waits_in_redis_has_it_withdrawn_once(
    daemon: Daemon, redis_server: RedisServer
) -> None:
    direct = host(redis_server.url, ONE)
    holder = Ticket("llm")
    direct.submit(holder)
    client = RawClient(daemon.socket)
    try:
        client.hello()
        client.send(op="run", run="r", app="ended")
        client.send(op="submit", task=1, run="r", backend="llm")
        wait_for(lambda: redis_server.client().zcard(QUEUE) == 1)
        client.send(op="end", run="r", partial=True)
        client.read_until(lambda seen: client.answered(1))
        wait_for(lambda: redis_server.client().zcard(QUEUE) == 0)
        direct.release(holder, Usage(seconds=0.01))
        client.send(op="release", task=1)  # a late release of it: harmless
        client.pong()
        assert [m["op"] for m in client.answers(1)] == ["withdrawn"]  # once, and only that
    finally:
        client.close()
        direct.close()
