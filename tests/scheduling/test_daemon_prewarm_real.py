"""Prewarming in a real ``hermes serve`` process, configured from TOML, against a real llama.cpp
server that falls asleep during an app's tool pause: the daemon wakes it before the app returns.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hermes_agents.local import LlamaServer
from hermes_agents.scheduling.daemon.client import DaemonScheduler
from hermes_agents.scheduling.daemon.process import DaemonProcess
from hermes_agents.store import ProfileStore
from tests.pause_app import APP, PauseState, pause_app
from tests.scheduling.daemon.procs import ROOT, short_socket_dir

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


CONFIG = """\
[backends.llm]
kind = "llm"
max_concurrency = 1
base_url = "{url}"
cold_start_s = 1.5
idle_sleep_s = 1

[backends.llm.prewarm]
adapter = "llamacpp"

[backends.tools]
kind = "tool"
max_concurrency = 4
"""


@pytest.fixture(scope="module")
def sleepy(model_path: Path) -> Iterator[LlamaServer]:
    with LlamaServer(model_path, slots=1, sleep_idle_s=1, threads=1) as server:
        yield server


@pytest.fixture
def workdir() -> Iterator[Path]:
    directory = short_socket_dir()
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def _invoke(server: LlamaServer, daemon: DaemonProcess, question: str) -> PauseState:
    scheduler = DaemonScheduler(daemon.address)
    try:
        result: PauseState = pause_app(server, scheduler).invoke({"question": question})
    finally:
        scheduler.close()
    assert scheduler.unscheduled_calls == 0, daemon.log()
    return result


def _stored_runs(store: Path) -> list[Any]:
    with ProfileStore(store) as profiles:
        return list(profiles.runs(APP))


def _status(address: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "hermes_agents.cli", "status", "--json", "--address", address]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    state: dict[str, Any] = json.loads(done.stdout)
    return state


def test_the_daemon_wakes_the_sleeping_server_before_the_app_returns(
    sleepy: LlamaServer, workdir: Path
) -> None:
    config, store = workdir / "hermes.toml", workdir / "profiles.sqlite3"
    config.write_text(CONFIG.format(url=sleepy.url), encoding="utf-8")
    daemon = DaemonProcess(workdir / "hermes.sock", config=config, args=["--store", str(store)])
    try:
        daemon.start()
        first = _invoke(sleepy, daemon, "tides")  # the daemon learns the app's profile
        assert first["asleep_before_answer"] is True  # nothing to predict from yet
        deadline = time.monotonic() + 10
        while not _stored_runs(store) and time.monotonic() < deadline:
            time.sleep(0.05)  # the daemon stores the run after the client's "end"
        (learned,) = _stored_runs(store)
        # Four more runs like it, so the learner trusts the stages' own samples (from 5 on),
        # without 20 more seconds of server; a restarted daemon replays them from its store.
        with ProfileStore(store) as profiles:
            for _ in range(4):
                profiles.record_run(APP, learned)
        daemon.stop()
        daemon.start()
        started = time.monotonic()
        result = _invoke(sleepy, daemon, "moons")
        elapsed = time.monotonic() - started
        state = _status(daemon.address)
    finally:
        daemon.stop()
    print(f"prewarmed run {elapsed:.2f} s; prewarm {state['prewarm']}")
    assert result["asleep_before_answer"] is False, daemon.log()
    totals = state["prewarm"]["total"]
    assert totals["hints"] >= 1
    assert totals["hits"] >= 1
    assert totals["warm_failures"] == 0
    (llm,) = state["prewarm"]["backends"]
    assert llm["backend"] == "llm"
