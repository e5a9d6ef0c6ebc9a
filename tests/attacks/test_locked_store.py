"""A locked profile store delays learning, never admission (issue 13, item 7): another
process holds the store's write lock while apps run through a real daemon."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hermes_agents.scheduling import Usage
from hermes_agents.scheduling.daemon.client import DaemonScheduler
from hermes_agents.store import ProfileStore
from tests.scheduling.daemon.procs import Daemon, short_socket_dir

pytestmark = pytest.mark.timeout(120)

LOCK_S = 30.0
"""How long the other process holds the lock at most (the apps need well under a second)."""


@pytest.fixture
def workdir() -> Iterator[Path]:
    directory = short_socket_dir()
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def test_apps_are_admitted_while_another_process_holds_the_store(workdir: Path) -> None:
    store = workdir / "profiles.sqlite3"
    ProfileStore(store).close()  # the file exists, in WAL mode
    daemon = Daemon(workdir, "--store", str(store)).start()
    scheduler = DaemonScheduler(daemon.address)
    try:
        _admitted_while_locked(store, scheduler)
        deadline = time.monotonic() + 30
        while (graph := scheduler.learned_graph("qa")) is None or graph.version < 20:
            assert time.monotonic() < deadline, "learning never caught up after the lock"
            time.sleep(0.1)
    finally:  # whatever failed, no daemon is left behind
        scheduler.close()
        daemon.stop()
    with ProfileStore(store) as profiles:
        assert len(profiles.runs("qa")) == 20  # every run reached the store in the end


def _admitted_while_locked(store: Path, scheduler: DaemonScheduler) -> None:
    """Run 20 app runs while another connection holds the store's write lock."""
    locker = sqlite3.connect(store, isolation_level=None, timeout=1)
    try:
        locker.execute("BEGIN EXCLUSIVE")  # nobody else may write now
        done = threading.Event()

        def apps() -> None:
            for _ in range(20):
                with scheduler.run("qa"):
                    for stage in ("think", "answer"):
                        scheduler.enter_stage(stage)
                        with scheduler.slot("llm", stage=stage) as slot:
                            slot.usage = Usage(prompt_tokens=20, output_tokens=4, seconds=0.01)
            done.set()

        worker = threading.Thread(target=apps, daemon=True)
        started = time.monotonic()
        worker.start()
        assert done.wait(LOCK_S), "admission waited for the locked store"
        held_s = time.monotonic() - started
        assert scheduler.unscheduled_calls == 0
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    print(f"20 runs admitted in {held_s:.2f} s with the store locked")
