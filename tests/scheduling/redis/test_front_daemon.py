"""``hermes serve --scheduler redis://...`` as users run it: a real redis-server, a real daemon
process fronting it, client processes through the daemon beside a process on Redis directly.
Capacity 1 holds across all of them (no two calls' intervals overlap), a client killed with -9
gives its slot back in Redis, a Redis killed and restarted loses no call and scheduling
resumes, ``hermes status`` says what the daemon fronts."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from hermes_agents.scheduling.daemon.client import DaemonScheduler
from hermes_agents.scheduling.daemon.connection import query_status
from hermes_agents.scheduling.interface import Scheduler
from hermes_agents.scheduling.redis.scheduler import RedisScheduler
from hermes_agents.scheduling.state import Usage
from hermes_agents.scheduling.ticket import Answer, Ticket
from tests.scheduling.daemon.procs import ROOT, Daemon, client
from tests.scheduling.redis.conftest import RedisServer
from tests.scheduling.redis.helpers import ONE, host, wait_for

pytestmark = pytest.mark.timeout(120)


def _direct(url: str, out: Path, count: int, hold_s: float) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "tests.scheduling.redis.front_procs", url, str(out)]
    command += [str(count), str(hold_s)]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finished(process: subprocess.Popen[bytes], out: Path) -> dict[str, Any]:
    """What a client process wrote: its calls' ``intervals`` and its ``unscheduled`` count."""
    _, stderr = process.communicate(timeout=90)
    assert process.returncode == 0, stderr.decode()
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return result


def test_clients_through_the_daemon_and_a_direct_process_share_one_slot(
    daemon: Daemon, redis_server: RedisServer, tmp_path: Path
) -> None:
    outs = [tmp_path / f"client{i}.json" for i in range(3)]
    processes = [client("calls", daemon.address, str(out), "5", "0.04") for out in outs[:2]]
    processes.append(_direct(redis_server.url, outs[2], 5, 0.04))
    results = [_finished(process, out) for process, out in zip(processes, outs, strict=True)]
    intervals = sorted(tuple(i) for result in results for i in result["intervals"])
    assert len(intervals) == 15
    assert all(r["unscheduled"] == 0 for r in results)
    for (_, end), (start, _) in itertools.pairwise(intervals):
        assert start >= end, "two calls ran at once on a backend of capacity 1"
    state = query_status(daemon.address)
    assert state["scheduler"] == redis_server.url
    assert state["backends"][0]["grants"] == 10  # the daemon's clients' calls, granted in Redis
    meta = redis_server.client().hgetall("hermes:{llm}:meta")
    assert meta["max_concurrency"] == "1"
    assert meta["granted"] == "15"


def test_the_daemons_runs_take_their_place_in_the_clusters_order(
    redis_server: RedisServer, workdir: Path
) -> None:
    daemon = Daemon(workdir, "--scheduler", redis_server.url, "--policy", "gittins+tiers").start()
    direct = host(redis_server.url, ONE)  # another host, on Redis directly
    clients = [DaemonScheduler(daemon.address) for _ in range(2)]
    try:
        holder = Ticket("llm")
        direct.submit(holder)
        assert holder.answer is Answer.GRANTED
        batch = _queue(clients[0], "batch", "sheddable")
        wait_for(lambda: redis_server.client().zcard("hermes:{llm}:queue") == 1)
        chat = _queue(clients[1], "chat", "critical")
        wait_for(lambda: redis_server.client().zcard("hermes:{llm}:queue") == 2)
        direct.release(holder, Usage(seconds=0.01))
        assert chat.wait(5) is Answer.GRANTED  # queued last, admitted first: its tier
        assert batch.answer is None
        clients[1].release(chat, Usage(seconds=0.01))
        assert batch.wait(5) is Answer.GRANTED
        clients[0].release(batch, Usage(seconds=0.01))
    finally:
        for scheduler in [*clients, direct]:
            scheduler.close()
        daemon.stop()


def _queue(scheduler: Scheduler, app: str, tier: str) -> Ticket:
    """A call of a new run of ``app`` in ``tier``, submitted to ``scheduler``."""
    scope = scheduler.run(app, tier=tier)
    scope.__enter__()
    ticket = Ticket("llm", run_id=scope.run_id)
    scheduler.submit(ticket)
    return ticket


def _waiting_behind_a_client(
    daemon: Daemon, redis_server: RedisServer
) -> tuple[subprocess.Popen[bytes], RedisScheduler, Ticket]:
    """A client process of ``daemon`` holding the one slot, and a process on another host,
    straight on Redis, whose call waits behind it."""
    holder = client("hold", daemon.address)
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == b"holding"
    other = host(redis_server.url, ONE)
    ticket = Ticket("llm")
    other.submit(ticket)
    return holder, other, ticket


def test_a_client_killed_with_9_gives_its_slot_back_in_redis(
    daemon: Daemon, redis_server: RedisServer
) -> None:
    holder, other, ticket = _waiting_behind_a_client(daemon, redis_server)
    assert ticket.answer is None
    holder.send_signal(signal.SIGKILL)
    holder.wait(10)
    assert ticket.wait(5) is Answer.GRANTED  # the daemon ended the dead client's call in Redis
    assert query_status(daemon.address)["counters"]["slots_reclaimed"] == 1
    other.release(ticket, Usage(seconds=0.01))
    other.close()


def test_a_restarted_redis_loses_no_call_and_scheduling_resumes(
    daemon: Daemon, redis_server: RedisServer, tmp_path: Path
) -> None:
    outs = [tmp_path / f"calls{i}.json" for i in range(2)]
    calls = [client("calls", daemon.address, str(out), "15", "0.05") for out in outs]
    wait_for(lambda: int(redis_server.client().hget("hermes:{llm}:meta", "granted") or 0) >= 3)
    redis_server.kill()  # one client's call runs, the other's waits: both are answered
    time.sleep(0.3)
    redis_server.start()
    results = [_finished(process, out) for process, out in zip(calls, outs, strict=True)]
    assert [len(r["intervals"]) for r in results] == [15, 15]  # granted, or unscheduled
    assert sum(r["unscheduled"] for r in results) >= 1  # the outage's calls, counted
    probe = DaemonScheduler(daemon.address)  # a client of the daemon, in this process

    def granted_in_redis() -> bool:
        before = probe.unscheduled_calls
        with probe.slot("llm", timeout=10):
            pass
        return probe.unscheduled_calls == before

    wait_for(granted_in_redis, 15, poll_s=0.1)  # scheduling resumes by itself
    probe.close()
    meta = redis_server.client().hgetall("hermes:{llm}:meta")  # the restarted Redis's own
    assert int(meta["granted"]) >= 1
    assert "scheduling resumed" in daemon.logged()


def test_a_killed_daemon_gives_its_slots_back_within_the_lease_ttl(
    daemon: Daemon, redis_server: RedisServer
) -> None:
    holder, other, ticket = _waiting_behind_a_client(daemon, redis_server)
    daemon.kill()  # the whole host's scheduler is gone: its lease in Redis expires (3 s)
    assert ticket.wait(10) is Answer.GRANTED
    other.release(ticket, Usage(seconds=0.01))
    other.close()
    holder.kill()
    holder.wait(10)


def test_hermes_status_says_the_daemon_fronts_redis(
    redis_server: RedisServer, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("rich")
    monkeypatch.setenv("HERMES_SCHEDULER", redis_server.url)  # the daemon's environment
    daemon = Daemon(workdir).start()
    monkeypatch.delenv("HERMES_SCHEDULER")
    try:
        command = [sys.executable, "-m", "hermes_agents.cli", "status"]
        command += ["--address", daemon.address]
        shown = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    finally:
        daemon.stop()
    assert shown.returncode == 0, shown.stderr
    assert f"fronting {redis_server.url}" in shown.stdout.replace("\n", " ")


def test_a_daemon_whose_redis_is_down_lets_its_clients_run_unscheduled(
    workdir: Path, tmp_path: Path
) -> None:
    daemon = Daemon(workdir, "--scheduler", "redis://127.0.0.1:1/0").start()  # nobody there
    try:
        out = tmp_path / "calls.json"
        result = _finished(client("calls", daemon.address, str(out), "3", "0.01"), out)
        state = query_status(daemon.address)
    finally:
        daemon.stop()
    assert len(result["intervals"]) == 3
    assert result["unscheduled"] == 3  # each told at once, none waited
    assert state["counters"]["scheduler_unscheduled_calls"] == 3


def test_serve_refuses_a_bad_scheduler_and_a_local_store(tmp_path: Path) -> None:
    def serve(*flags: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "hermes_agents.cli", "serve", *flags]
        command += ["--socket", str(tmp_path / "s.sock")]
        env = {**os.environ, "HERMES_SCHEDULER": ""}
        return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env)

    bad = serve("--scheduler", "http://cache:6379/0")
    assert bad.returncode == 2
    assert "--scheduler" in bad.stderr
    assert "redis://" in bad.stderr
    store = serve("--scheduler", "redis://127.0.0.1:1/0", "--store", str(tmp_path / "p.db"))
    assert store.returncode == 2
    assert "--store" in store.stderr
