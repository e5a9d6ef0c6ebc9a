"""The daemon as users run it: a real ``hermes serve`` process and real client processes."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from hermes_agents.errors import ValidationError
from hermes_agents.scheduling import Answer, Ticket
from hermes_agents.scheduling.daemon.client import DaemonScheduler
from hermes_agents.scheduling.daemon.connection import (
    DaemonUnavailableError,
    open_connection,
    query_status,
    read_message,
)
from tests.scheduling.daemon.procs import ROOT, Daemon, client, short_socket_dir
from tests.waiting import wait_for

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def workdir() -> Iterator[Path]:
    directory = short_socket_dir()
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def daemon(workdir: Path) -> Iterator[Daemon]:
    running = Daemon(workdir).start()
    yield running
    running.stop()


def _status(daemon: Daemon) -> dict[str, object]:
    return query_status(daemon.address)


def _backend(daemon: Daemon, name: str = "llm") -> dict[str, int]:
    backends = _status(daemon)["backends"]
    assert isinstance(backends, list)
    return next(b for b in backends if b["backend"] == name)


def test_capacity_one_holds_across_three_processes(daemon: Daemon, workdir: Path) -> None:
    outputs = [workdir / f"client{i}.json" for i in range(3)]
    clients = [client("calls", daemon.address, str(out), "15", "0.01") for out in outputs]
    for process in clients:
        _, err = process.communicate(timeout=60)
        assert process.returncode == 0, err.decode()
    intervals = []
    for out in outputs:
        result = json.loads(out.read_text())
        assert result["unscheduled"] == 0
        intervals += result["intervals"]
    intervals.sort()
    assert len(intervals) == 45
    for (_, end), (start, _) in itertools.pairwise(intervals):
        assert start >= end, "two calls held the capacity-1 backend at once"
    assert _backend(daemon)["grants"] == 45


def test_killed_daemon_apps_finish_unscheduled_then_scheduling_resumes(
    daemon: Daemon, caplog: pytest.LogCaptureFixture
) -> None:
    scheduler = DaemonScheduler(daemon.address, retry_s=0.05)
    done: list[int] = []
    killed = threading.Event()

    def app(number: int) -> None:
        with scheduler.run("looper"):
            for step in range(40):
                with scheduler.slot("llm", stage="step"):
                    time.sleep(0.005)
                if step == 5 and number == 0:
                    killed.wait(30)
        done.append(number)

    with caplog.at_level(logging.INFO):
        threads = [threading.Thread(target=app, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        wait_for(lambda: _backend(daemon)["grants"] >= 10)
        daemon.kill()  # mid-run: one app holds the slot or is about to, others wait for it
        killed.set()
        for thread in threads:
            thread.join(60)
    assert sorted(done) == [0, 1, 2, 3], "an app was lost when the daemon died"
    assert scheduler.unscheduled_calls > 0
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]

    daemon.start()  # same socket path: the stale file is replaced
    before = scheduler.unscheduled_calls
    time.sleep(0.1)  # let the retry interval pass
    with caplog.at_level(logging.INFO), scheduler.run("after"):
        for _ in range(5):
            with scheduler.slot("llm"):
                pass
    assert scheduler.connected
    assert scheduler.unscheduled_calls == before
    assert _backend(daemon)["grants"] == 5
    assert any("scheduling resumed" in r.getMessage() for r in caplog.records)
    scheduler.close()


def test_a_killed_client_gives_its_slot_back(daemon: Daemon) -> None:
    holder = client("hold", daemon.address)
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == b"holding"
    scheduler = DaemonScheduler(daemon.address)
    granted = threading.Event()

    def wait_for_slot() -> None:
        with scheduler.slot("llm", timeout=30):
            granted.set()

    waiter = threading.Thread(target=wait_for_slot)
    waiter.start()
    wait_for(lambda: _backend(daemon)["waiting"] == 1)
    assert not granted.is_set()
    holder.send_signal(signal.SIGKILL)
    holder.wait(10)
    waiter.join(30)
    assert granted.is_set()
    assert _status(daemon)["counters"]["slots_reclaimed"] == 1  # type: ignore[index]
    scheduler.close()


def test_a_silent_client_loses_its_slot_when_the_lease_expires(workdir: Path) -> None:
    daemon = Daemon(workdir, "--lease-s", "1").start()
    holder = client("hold", daemon.address)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == b"holding"
        holder.send_signal(signal.SIGSTOP)  # alive, connected, but no heartbeat
        wait_for(lambda: _backend(daemon)["running"] == 0, timeout_s=15)
        assert _status(daemon)["counters"]["leases_expired"] == 1  # type: ignore[index]
    finally:
        holder.kill()
        holder.wait(10)
        daemon.stop()


def test_a_live_client_keeps_its_slot_past_the_lease(workdir: Path) -> None:
    daemon = Daemon(workdir, "--lease-s", "0.5").start()
    scheduler = DaemonScheduler(daemon.address)
    try:
        with scheduler.slot("llm"):
            time.sleep(1.5)  # three leases long: the heartbeat keeps it
            assert _backend(daemon)["running"] == 1
        assert _status(daemon)["counters"]["leases_expired"] == 0  # type: ignore[index]
    finally:
        scheduler.close()
        daemon.stop()


def _raw(daemon: Daemon) -> tuple[socket.socket, bytearray]:
    sock, welcome, rest = open_connection(daemon.address)
    assert welcome["version"] == 1
    sock.settimeout(10)
    return sock, rest


def test_malformed_messages_get_an_error_and_the_connection_keeps_working(
    daemon: Daemon,
) -> None:
    sock, buffer = _raw(daemon)
    with sock:
        for bad in (
            b"not json",
            b"[1, 2]",
            b'{"op": "fly"}',
            b'{"op": "submit", "task": -1, "run": null, "backend": "llm"}',
            b'{"op": "submit", "task": 1, "run": null, "backend": "llm", "extra": 1}',
            b'{"op": "submit", "task": true, "run": null, "backend": "llm"}',
            b'{"op": "release", "task": 1, "usage": {"seconds": NaN}}',
            b"\xff\xfe",
        ):
            sock.sendall(bad + b"\n")
            reply = read_message(sock, buffer)
            assert reply["op"] == "error"
            assert reply["fatal"] is False
        sock.sendall(b'{"op": "ping"}\n')
        assert read_message(sock, buffer)["op"] == "pong"
    assert _status(daemon)["counters"]["protocol_errors"] == 8  # type: ignore[index]


def test_oversized_and_truncated_messages_drop_only_that_connection(daemon: Daemon) -> None:
    big, buffer = _raw(daemon)
    with big:
        big.sendall(b'{"op": "ping", "pad": "' + b"x" * 70_000)
        reply = read_message(big, buffer)
        assert reply["fatal"] is True
        assert "longer than" in reply["error"]
        assert big.recv(1) == b""  # closed by the daemon
    cut, _ = _raw(daemon)
    with cut:
        cut.sendall(b'{"op": "submit", "task": 1, "run"')  # and hang up mid-message
    scheduler = DaemonScheduler(daemon.address)
    with scheduler.slot("llm"):
        pass
    assert scheduler.unscheduled_calls == 0
    assert _backend(daemon)["grants"] == 1
    scheduler.close()


def test_hello_must_come_first_and_versions_must_match(daemon: Daemon) -> None:
    for first, problem in (
        (b'{"op": "ping"}', "hello first"),
        (b'{"op": "hello", "version": 99}', "version 99"),
    ):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(10)
        sock.connect(str(daemon.socket))
        with sock:
            sock.sendall(first + b"\n")
            reply = read_message(sock, bytearray())
            assert reply["fatal"] is True
            assert problem in reply["error"]


def test_the_socket_is_private_and_not_taken_twice(daemon: Daemon, workdir: Path) -> None:
    assert stat.S_IMODE(daemon.socket.stat().st_mode) == 0o600
    second = subprocess.run(
        [sys.executable, "-m", "hermes_agents.cli", "serve", "--socket", str(daemon.socket)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert second.returncode == 2
    assert "already serving" in second.stderr


def test_tcp_needs_the_token(workdir: Path) -> None:
    token_file = workdir / "token"
    token_file.write_text("s3cret\n")
    token_file.chmod(0o600)
    daemon = Daemon(workdir, "--tcp-port", "0", "--token-file", str(token_file)).start()
    try:
        wait_for(lambda: "tcp://127.0.0.1:" in daemon.logged())
        port = int(daemon.logged().split("tcp://127.0.0.1:")[1].split()[0])
        with pytest.raises(DaemonUnavailableError, match="token"):
            open_connection(f"tcp://127.0.0.1:{port}", token="wrong")
        with pytest.raises(DaemonUnavailableError, match="token"):
            open_connection(f"tcp://127.0.0.1:{port}")
        scheduler = DaemonScheduler(f"tcp://127.0.0.1:{port}", token="s3cret")
        with scheduler.slot("llm"):
            pass
        assert scheduler.unscheduled_calls == 0
        scheduler.close()
    finally:
        daemon.stop()


def test_status_command_and_metrics_show_the_queues(workdir: Path) -> None:
    daemon = Daemon(workdir, "--metrics-port", "0").start()
    scheduler = DaemonScheduler(daemon.address)
    try:
        with scheduler.run("qa"), scheduler.slot("llm", stage="answer"):
            shown = subprocess.run(
                [sys.executable, "-m", "hermes_agents.cli", "status", "--json"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=30,
                env={**os.environ, "HERMES_SCHEDULER": daemon.address},
            )
            assert shown.returncode == 0, shown.stderr
            state = json.loads(shown.stdout)
            assert state["backends"][0]["running"] == 1
            assert state["apps"][0]["app"] == "qa"
            assert state["runs"][0]["stage"] == "answer"
            wait_for(lambda: "metrics at http://" in daemon.logged())
            url = daemon.logged().split("metrics at ")[1].split()[0]
            with urllib.request.urlopen(url, timeout=10) as response:
                metrics = response.read().decode()
            assert 'hermes_backend_running{backend="llm"} 1' in metrics
            assert 'hermes_app_runs{app="qa"} 1' in metrics
        table = subprocess.run(
            [sys.executable, "-m", "hermes_agents.cli", "status", "--address", daemon.address],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert table.returncode == 0
        assert "Backends" in table.stdout
    finally:
        scheduler.close()
        daemon.stop()


def test_status_without_a_daemon_says_how_to_start_one(workdir: Path) -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "hermes_agents.cli", "status"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "HERMES_SCHEDULER": f"unix://{workdir}/none.sock"},
    )
    assert shown.returncode == 1
    assert "hermes serve" in shown.stdout


def test_no_daemon_means_unscheduled_calls_and_one_warning(
    workdir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    scheduler = DaemonScheduler(f"unix://{workdir}/none.sock", retry_s=0.0)
    with caplog.at_level(logging.WARNING), scheduler.run("app"):
        results = []
        for n in range(5):
            with scheduler.slot("llm"):
                results.append(n)
    assert results == [0, 1, 2, 3, 4]
    assert scheduler.unscheduled_calls == 5
    assert len(caplog.records) == 1
    assert "unreachable" in caplog.records[0].getMessage()


def test_async_waiters_can_be_cancelled_and_time_out(daemon: Daemon) -> None:
    scheduler = DaemonScheduler(daemon.address)

    async def scenario() -> None:
        async with scheduler.slot("llm"):
            waiter = asyncio.create_task(scheduler.slot("llm").__aenter__())
            await asyncio.sleep(0.2)
            assert _backend(daemon)["waiting"] == 1
            waiter.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiter
            with pytest.raises(TimeoutError):
                async with scheduler.slot("llm", timeout=0.1):
                    pass
            wait_for(lambda: _backend(daemon)["waiting"] == 0)
        async with scheduler.slot("llm"):  # nothing leaked: the slot is free again
            pass

    asyncio.run(scenario())
    assert _backend(daemon)["running"] == 0
    assert scheduler.unscheduled_calls == 0
    scheduler.close()


def test_a_request_the_daemon_refuses_runs_unscheduled(daemon: Daemon) -> None:
    scheduler = DaemonScheduler(daemon.address)
    with pytest.raises(ValidationError, match="stage"):  # caught in process, before sending
        scheduler.slot("llm", stage="x" * 300)
    ticket = Ticket("llm", stage="x" * 300)  # what a client without that check would send
    scheduler.submit(ticket)
    assert ticket.wait(10) is Answer.UNSCHEDULED
    assert scheduler.unscheduled_calls == 1
    with scheduler.slot("llm", stage="fine"):
        pass
    assert scheduler.unscheduled_calls == 1
    assert _backend(daemon)["grants"] == 1
    scheduler.close()


def test_grants_carry_the_runs_rank_and_visits_reach_the_daemon(daemon: Daemon) -> None:
    scheduler = DaemonScheduler(daemon.address)
    with scheduler.run("qa"):
        scheduler.enter_stage("plan", visit="plan@1")
        with scheduler.slot("llm", stage="plan", visit="plan@1", estimate_s=1.5) as slot:
            assert slot.rank == 1.5  # no model yet: the call's estimate
            runs = _status(daemon)["runs"]
            assert isinstance(runs, list)
            assert [run["stage"] for run in runs] == ["plan"]
    scheduler.close()
