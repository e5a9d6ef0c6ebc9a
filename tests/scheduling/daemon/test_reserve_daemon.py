"""The headroom higher tiers keep, through a real ``hermes serve`` (issue 17): with
``sheddable_share = 0.25`` on a 4-slot backend, sheddable calls hold one slot while a critical
run works, and a critical call that arrives after the burst still finds a free slot."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from hermes_agents.scheduling.daemon.client import DaemonScheduler
from hermes_agents.scheduling.interface import RunContext, current_run
from tests.scheduling.daemon.procs import Daemon, short_socket_dir
from tests.waiting import wait_for

pytestmark = pytest.mark.timeout(120)

WAIT_S = 10.0


@pytest.fixture
def daemon() -> Iterator[Daemon]:
    directory = short_socket_dir()
    running = Daemon(directory, "--policy", "fcfs+tiers", capacity=4)
    assert running.config is not None
    config = Path(running.config)  # the [backends.llm] table is the file's last table
    config.write_text(
        config.read_text() + 'sheddable_share = 0.25\n\n[apps.batch]\ntier = "sheddable"\n'
    )
    running.start()
    yield running
    running.stop()
    shutil.rmtree(directory, ignore_errors=True)


def _hold(scheduler: DaemonScheduler, run_id: str, release: threading.Event) -> threading.Thread:
    def call() -> None:
        current_run.set(RunContext(scheduler, run_id))
        with scheduler.slot("llm", stage="answer"):
            release.wait(WAIT_S)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread


def _llm(scheduler: DaemonScheduler) -> dict[str, int]:
    (backend,) = [b for b in scheduler.snapshot()["backends"] if b["backend"] == "llm"]
    return {"running": backend["running"], "waiting": backend["waiting"]}


def test_a_sheddable_burst_leaves_slots_for_critical_calls(daemon: Daemon) -> None:
    scheduler = DaemonScheduler(daemon.address)
    release = threading.Event()
    try:
        critical = scheduler.run("chat", tier="critical")
        batch = scheduler.run("batch")  # sheddable by the daemon's [apps.batch]
        critical.__enter__()
        batch.__enter__()
        threads = [_hold(scheduler, critical.run_id, release)]
        wait_for(lambda: _llm(scheduler)["running"] == 1, WAIT_S)
        threads += [_hold(scheduler, batch.run_id, release) for _ in range(3)]
        wait_for(lambda: sum(_llm(scheduler).values()) == 4, WAIT_S)
        assert _llm(scheduler) == {"running": 2, "waiting": 2}  # one sheddable call runs
        threads.append(_hold(scheduler, critical.run_id, release))
        wait_for(lambda: _llm(scheduler)["running"] == 3, WAIT_S)  # the headroom: it starts at once
        assert _llm(scheduler)["waiting"] == 2
        release.set()
        for thread in threads:
            thread.join(WAIT_S)
        wait_for(lambda: sum(_llm(scheduler).values()) == 0, WAIT_S)
        batch.__exit__(None, None, None)
        critical.__exit__(None, None, None)
    finally:
        release.set()
        scheduler.close()
