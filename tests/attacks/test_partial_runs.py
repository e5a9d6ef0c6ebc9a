"""Learn only whole runs (issue 13, item 8): runs that raised, were cancelled, had calls run
unscheduled, or were cut by a daemon restart are counted and never learned."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hermes_agents.scheduling import BackendLimits, Usage
from hermes_agents.scheduling.daemon.client import DaemonScheduler
from hermes_agents.scheduling.models import AppModels
from hermes_agents.scheduling.runtime import LocalScheduler
from tests.scheduling.daemon.procs import Daemon, short_socket_dir


def _scheduler() -> tuple[LocalScheduler, AppModels]:
    models = AppModels()
    return LocalScheduler.in_process({"llm": BackendLimits(1)}, models=models), models


def _call(scheduler: Any, stage: str) -> None:
    scheduler.enter_stage(stage)
    with scheduler.slot("llm", stage=stage) as slot:
        slot.usage = Usage(prompt_tokens=30, output_tokens=5, seconds=0.01)


def test_a_run_that_raises_is_partial_and_not_learned() -> None:
    scheduler, models = _scheduler()

    def failing_app() -> None:
        with scheduler.run("qa"):
            _call(scheduler, "think")
            raise RuntimeError("the app failed")

    with pytest.raises(RuntimeError):
        failing_app()
    assert models.graph("qa") is None
    assert scheduler.snapshot()["counters"]["partial_runs"] == 1
    with scheduler.run("qa"):  # a whole run is learned
        _call(scheduler, "think")
    graph = models.graph("qa")
    assert graph is not None
    assert graph.successors("think") == {"END": 1.0}


def test_a_run_with_a_call_that_ran_unscheduled_is_not_learned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scheduler, models = _scheduler()
    real = scheduler.core.submit
    failures = iter([RuntimeError("a bug")])

    def flaky(*args: Any, **kwargs: Any) -> int:
        error = next(failures, None)
        if error is not None:
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(scheduler.core, "submit", flaky)
    with scheduler.run("qa"):
        _call(scheduler, "think")  # fails open
        _call(scheduler, "answer")
    assert scheduler.unscheduled_calls == 1
    assert models.graph("qa") is None
    assert scheduler.core.partial_runs == 1


@pytest.fixture
def workdir() -> Iterator[Path]:
    directory = short_socket_dir()
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.timeout(120)
def test_a_daemon_restarted_in_the_middle_of_a_run_does_not_learn_its_second_half(
    workdir: Path,
) -> None:
    daemon = Daemon(workdir, "--no-store").start()
    scheduler = DaemonScheduler(daemon.address, retry_s=0.1)
    try:
        with scheduler.run("chain"):
            _call(scheduler, "think")
            daemon.kill()
            daemon = Daemon(workdir, "--no-store").start()
            for stage in ("search", "search", "answer"):
                _call(scheduler, stage)  # the new daemon sees only this half
        status = scheduler.snapshot()
        assert status["counters"]["partial_runs"] == 1
        assert scheduler.learned_graph("chain") is None  # nothing learned from half a run
        with scheduler.run("chain"):  # a whole run afterwards is learned
            _call(scheduler, "think")
        _wait_learned(scheduler, "chain")
    finally:
        scheduler.close()
        daemon.stop()


def _wait_learned(scheduler: DaemonScheduler, app: str) -> None:
    import time

    deadline = time.monotonic() + 10
    while scheduler.learned_graph(app) is None:
        assert time.monotonic() < deadline, "the whole run was never learned"
        time.sleep(0.05)
    graph = scheduler.learned_graph(app)
    assert graph is not None
    assert graph.entry == "think"
