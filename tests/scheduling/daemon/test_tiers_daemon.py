"""Tiers and deadlines through a real ``hermes serve`` (issue 17): a run's tier and deadline
cross the protocol, and the daemon's ``[apps.NAME]`` levels apply to runs that carry none."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hermes_agents.scheduling.daemon.client import DaemonScheduler
from hermes_agents.scheduling.interface import RunContext, current_run
from tests.scheduling.daemon.procs import Daemon, short_socket_dir

pytestmark = pytest.mark.timeout(120)

WAIT_S = 10.0


@pytest.fixture
def daemon() -> Iterator[Daemon]:
    directory = short_socket_dir()
    running = Daemon(directory, "--policy", "fcfs+tiers")
    assert running.config is not None
    config = Path(running.config)
    config.write_text(config.read_text() + '\n[apps.batch]\ntier = "sheddable"\n')
    running.start()
    yield running
    running.stop()
    shutil.rmtree(directory, ignore_errors=True)


def _queue(scheduler: DaemonScheduler, run_id: str, order: list[str]) -> threading.Thread:
    def call() -> None:
        current_run.set(RunContext(scheduler, run_id))
        with scheduler.slot("llm", stage="answer"):
            order.append(run_id)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread


def _waiting(scheduler: DaemonScheduler) -> int:
    backends = scheduler.snapshot()["backends"]
    return sum(b["waiting"] for b in backends if b["backend"] == "llm")


def test_tiers_cross_the_protocol_and_the_daemons_config(daemon: Daemon) -> None:
    scheduler = DaemonScheduler(daemon.address)
    try:
        holder = scheduler.slot("llm")
        holder.enter()
        order: list[str] = []
        scopes = [
            scheduler.run("batch"),  # sheddable by the daemon's [apps.batch]
            scheduler.run("qa"),  # standard
            scheduler.run("qa", tier="critical", deadline_s=60),
        ]
        threads = []
        for scope in scopes:
            scope.__enter__()
            threads.append(_queue(scheduler, scope.run_id, order))
            started = time.monotonic()
            while _waiting(scheduler) < len(threads):
                assert time.monotonic() - started < WAIT_S
                time.sleep(0.02)
        holder.release()
        for thread in threads:
            thread.join(WAIT_S)
        assert order == [scopes[2].run_id, scopes[1].run_id, scopes[0].run_id]
        for scope in scopes:
            scope.__exit__(None, None, None)
    finally:
        scheduler.close()
