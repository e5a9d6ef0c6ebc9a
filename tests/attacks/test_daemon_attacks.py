"""The daemon against hostile peers, stalls and planted sockets (issue 13, items 3, 4 and 10):
real daemon processes on Unix sockets, every loop bounded in time."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hermes_agents.errors import HermesError
from hermes_agents.scheduling.core import SchedulerCore
from hermes_agents.scheduling.daemon import sessionservice as service_module
from hermes_agents.scheduling.daemon.client import DaemonScheduler
from hermes_agents.scheduling.daemon.connection import (
    DaemonUnavailableError,
    open_connection,
    query_status,
)
from hermes_agents.scheduling.daemon.server import private_directory
from hermes_agents.scheduling.daemon.service import DaemonService
from hermes_agents.scheduling.daemon.sessions import HELLO_TIMEOUT_S
from hermes_agents.scheduling.policies import policy_named
from hermes_agents.scheduling.state import UNLIMITED
from tests.scheduling.daemon.procs import Daemon, short_socket_dir
from tests.waiting import wait_for

pytestmark = pytest.mark.timeout(120)

NOBODY = 65534
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")


@pytest.fixture
def workdir() -> Iterator[Path]:
    directory = short_socket_dir()
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


# -- sockets --------------------------------------------------------------------------------


def test_a_world_writable_or_symlinked_socket_directory_is_refused(workdir: Path) -> None:
    open_dir = workdir / "open"
    open_dir.mkdir()
    open_dir.chmod(0o777)
    with pytest.raises(HermesError, match="can be written by others"):
        private_directory(open_dir)
    link = workdir / "link"
    link.symlink_to(workdir / "elsewhere", target_is_directory=True)
    (workdir / "elsewhere").mkdir(mode=0o700)
    with pytest.raises(HermesError, match="symlink"):
        private_directory(link)
    fresh = workdir / "new" / "hermes"
    private_directory(fresh)  # made, private
    assert (fresh.stat().st_mode & 0o777) == 0o700


@as_root
def test_a_directory_of_another_user_is_refused(workdir: Path) -> None:
    theirs = workdir / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, NOBODY, NOBODY)
    with pytest.raises(HermesError, match="not to you"):
        private_directory(theirs)


@as_root
def test_a_socket_served_by_another_user_is_refused(workdir: Path) -> None:
    path = workdir / "planted.sock"
    ready = workdir / "ready"
    child = os.fork()
    if child == 0:  # the other local user: plants a socket and listens
        try:
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            os.chdir("/")
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.bind(str(path))
            server.listen()
            ready.touch()
            server.settimeout(20)
            with server:
                connection, _ = server.accept()
                time.sleep(2)
                connection.close()
        finally:
            os._exit(0)
    try:
        workdir.chmod(0o777)  # so that the other user can bind there (the attack's premise)
        wait_for(path.exists, 15.0, poll_s=0.05)
        with pytest.raises(DaemonUnavailableError, match=f"uid {NOBODY}"):
            open_connection(f"unix://{path}", timeout_s=2)
        scheduler = DaemonScheduler(f"unix://{path}")
        with scheduler.slot("llm") as slot:  # fails open, loudly
            assert slot.ticket is None
        assert scheduler.unscheduled_calls == 1
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)


# -- connections ----------------------------------------------------------------------------


def _service() -> DaemonService:
    core = SchedulerCore({}, policy_named("fcfs"), time.monotonic, default_limits=UNLIMITED)
    return DaemonService(core)


def test_connections_past_the_cap_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service_module, "MAX_CONNECTIONS", 3)
    service = _service()
    closed: list[int] = []
    for index in range(5):

        def close(i: int = index) -> None:
            closed.append(i)

        service.open(lambda data: None, close, needs_token=False)
    assert closed == [3, 4]
    assert service.counters.refused == 2
    assert len(service.sessions) == 3


def test_tasks_past_the_per_client_cap_run_unscheduled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service_module, "MAX_TASKS_PER_CLIENT", 4)
    service = _service()
    sent: list[bytes] = []
    session = service.open(sent.append, lambda: None, needs_token=False)
    service.receive(session, b'{"op":"hello","version":1}')
    for task in range(1, 7):
        service.receive(session, b'{"op":"submit","task":%d,"run":null,"backend":"x"}' % task)
    service.flush()
    assert len(session.tasks) == 4
    assert b"too many tasks from one client" in b"".join(sent)
    assert service.counters.refused == 2


def test_runs_past_the_per_client_cap_are_refused_and_their_calls_run_unscheduled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A client registering run after run grew the daemon's memory without bound."""
    monkeypatch.setattr(service_module, "MAX_RUNS_PER_CLIENT", 3)
    service = _service()
    sent: list[bytes] = []
    session = service.open(sent.append, lambda: None, needs_token=False)
    service.receive(session, b'{"op":"hello","version":1}')
    for run in range(6):
        service.receive(session, b'{"op":"run","run":"r%d","app":"a"}' % run)
    service.receive(session, b'{"op":"run","run":"r0","app":"a"}')  # known: still fine
    service.receive(session, b'{"op":"submit","task":1,"run":"r5","backend":"x"}')
    service.flush()
    assert len(session.runs) == 3
    assert b"too many app runs from one client" in b"".join(sent)
    assert b"run 'r5' was not started" in b"".join(sent)  # its call: run unscheduled
    assert service.counters.refused == 3
    assert not session.closed  # refused, not hung up on


def test_a_connection_that_never_says_hello_is_closed(workdir: Path) -> None:
    daemon = Daemon(workdir).start()
    try:
        silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        silent.connect(str(daemon.socket))
        silent.settimeout(HELLO_TIMEOUT_S + 5)
        started = time.monotonic()
        assert silent.recv(100) == b""  # hung up on
        assert time.monotonic() - started < HELLO_TIMEOUT_S + 4
        counters = query_status(daemon.address)["counters"]
        assert counters["hello_timeouts"] == 1
    finally:
        daemon.stop()


def test_a_stopped_daemon_is_treated_as_down_and_resumes_after(workdir: Path) -> None:
    daemon = Daemon(workdir, "--lease-s", "1").start()
    scheduler = DaemonScheduler(daemon.address, retry_s=0.2)
    try:
        holder = scheduler.slot("llm")
        holder.enter()
        outcome: list[object] = []
        waiter = threading.Thread(target=lambda: outcome.append(scheduler.slot("llm").enter()))
        waiter.start()
        time.sleep(0.3)
        os.kill(daemon.pid, signal.SIGSTOP)
        waiter.join(15)
        assert not waiter.is_alive(), "a SIGSTOPped daemon blocked its caller"
        (slot,) = outcome
        assert getattr(slot, "ticket", "?") is None  # went ahead unscheduled
        os.kill(daemon.pid, signal.SIGCONT)
        holder.release()
        time.sleep(0.5)
        wait_for(lambda: _scheduled(scheduler), 15.0, poll_s=0.05)
    finally:
        os.kill(daemon.pid, signal.SIGCONT)
        scheduler.close()
        daemon.stop()


def test_a_daemon_stall_does_not_expire_its_live_clients(workdir: Path) -> None:
    daemon = Daemon(workdir, "--lease-s", "1").start()
    scheduler = DaemonScheduler(daemon.address)
    try:
        with scheduler.slot("llm"):
            os.kill(daemon.pid, signal.SIGSTOP)
            time.sleep(2.5)  # longer than the lease, shorter than the client's patience
            os.kill(daemon.pid, signal.SIGCONT)
            time.sleep(1.0)
            assert query_status(daemon.address)["counters"]["leases_expired"] == 0
        assert scheduler.unscheduled_calls == 0
    finally:
        os.kill(daemon.pid, signal.SIGCONT)
        scheduler.close()
        daemon.stop()


def _scheduled(scheduler: DaemonScheduler) -> bool:
    with scheduler.slot("llm") as slot:
        return slot.ticket is not None


def _metrics_url(daemon: Daemon) -> str:
    wait_for(lambda: "metrics at http://" in daemon.logged(), 15.0, poll_s=0.05)
    return daemon.logged().split("metrics at ")[1].split()[0]


def test_metrics_need_the_token_when_tcp_is_on_and_can_leave_app_names_out(
    workdir: Path,
) -> None:
    import urllib.error
    import urllib.request

    token = workdir / "token"
    token.write_text("s3cret\n")
    token.chmod(0o600)
    args = ("--tcp-port", "0", "--token-file", str(token), "--metrics-port", "0")
    daemon = Daemon(workdir, *args, "--metrics-no-app-names").start()
    scheduler = DaemonScheduler(daemon.address)
    try:
        with scheduler.run("secret-app"), scheduler.slot("llm"):
            url = _metrics_url(daemon)
            with pytest.raises(urllib.error.HTTPError, match="401"):
                urllib.request.urlopen(url, timeout=5)
            request = urllib.request.Request(url, headers={"Authorization": "Bearer s3cret"})
            with urllib.request.urlopen(request, timeout=5) as response:
                text = response.read().decode()
        assert "hermes_backend_running" in text
        assert "secret-app" not in text
    finally:
        scheduler.close()
        daemon.stop()
