"""``InstrumentedGraph.pdgraph`` when the runs go to a real ``hermes serve`` daemon: the graph
the daemon learned (kept in the default profile store), not only the prior."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hermes_agents import settings
from hermes_agents.langgraph import instrument
from hermes_agents.scheduling import Usage
from hermes_agents.scheduling.daemon.client import DaemonScheduler
from hermes_agents.scheduling.interface import Scheduler
from hermes_agents.store import FILE_NAME, ProfileStore
from tests.branching import branching_graph, goes_left
from tests.scheduling.daemon.procs import Daemon, short_socket_dir

pytestmark = pytest.mark.timeout(120)

RUNS = 60
LEFT_SHARE = 0.25


def _goes_left(seed: int) -> bool:
    return goes_left(seed, LEFT_SHARE)


def _branching(scheduler: Scheduler) -> Any:
    return branching_graph(
        scheduler, share=LEFT_SHARE, usage=Usage(prompt_tokens=120, output_tokens=30)
    )


@pytest.fixture
def workdir() -> Iterator[Path]:
    directory = short_socket_dir()
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def _stored_runs(app: str) -> int:
    path = settings.data_dir() / FILE_NAME
    if not path.is_file():
        return 0
    with ProfileStore(path) as store:
        return sum(profile.runs for profile in store.apps() if profile.name == app)


def _wait_for_runs(app: str, count: int, timeout_s: float = 30.0) -> None:
    """The daemon stores a run after the client's ``end`` message: wait until all are in."""
    deadline = time.monotonic() + timeout_s
    while _stored_runs(app) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"the daemon stored {_stored_runs(app)} of {count} runs")
        time.sleep(0.05)


def test_pdgraph_shows_what_the_daemon_learned(workdir: Path) -> None:
    daemon = Daemon(workdir).start()  # inherits HERMES_DATA_DIR: it writes the default store
    scheduler = DaemonScheduler(daemon.address)
    try:
        app = instrument(_branching(scheduler), scheduler=scheduler)
        prior = app.pdgraph
        assert prior is not None
        assert prior.successors("route") == {"left": 0.5, "right": 0.5}
        for seed in range(RUNS):
            app.invoke({"seed": seed, "path": []})
        _wait_for_runs("branching", RUNS)
        learned = app.pdgraph
    finally:
        scheduler.close()
        daemon.stop()
    assert scheduler.unscheduled_calls == 0
    assert learned is not None
    assert learned.version == prior.version + RUNS
    # The prior's 0.5 counts as two pseudo-runs (Learner.prior_weight): the exact blend.
    lefts = sum(_goes_left(seed) for seed in range(RUNS))
    expected = (lefts + 2 * 0.5) / (RUNS + 2)
    assert learned.successors("route")["left"] == pytest.approx(expected)
    assert abs(learned.successors("route")["left"] - LEFT_SHARE) < 0.12
    assert learned.stages["left"].backend == "llm"
    assert learned.stages["left"].prompt_tokens is not None
    assert learned.stages["left"].prompt_tokens.mean == 120
    assert learned.stages["right"].backend == "local"


def test_pdgraph_is_the_prior_when_the_store_has_nothing(workdir: Path) -> None:
    scheduler = DaemonScheduler(f"unix://{workdir / 'nobody.sock'}")  # no daemon: fail open
    try:
        app = instrument(_branching(scheduler), scheduler=scheduler)
        assert app.pdgraph is app.prior
        app.invoke({"seed": 1, "path": []})  # runs unscheduled; nothing is learned or stored
        assert app.pdgraph is app.prior
        assert not (settings.data_dir() / FILE_NAME).exists()
    finally:
        scheduler.close()


def test_pdgraph_falls_back_to_the_prior_when_the_store_is_unreadable() -> None:
    path = settings.data_dir() / FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("not a profile store", encoding="utf-8")
    scheduler = DaemonScheduler("unix:///nonexistent/hermes.sock")
    try:
        app = instrument(_branching(scheduler), scheduler=scheduler)
        assert app.pdgraph is app.prior
    finally:
        scheduler.close()


def test_a_run_suspended_at_an_interrupt_resumes_and_is_stored_once(workdir: Path) -> None:
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph
    from langgraph.types import Command, interrupt

    daemon = Daemon(workdir).start()
    scheduler = DaemonScheduler(daemon.address)

    def draft(state: dict[str, Any]) -> dict[str, Any]:
        with scheduler.slot("llm") as slot:
            slot.usage = Usage(prompt_tokens=120, output_tokens=30)
        return {"answer": ""}

    builder: Any = StateGraph(dict)
    builder.add_node("draft", draft)
    builder.add_node("ask", lambda state: {"answer": interrupt("ok?")})
    builder.add_edge(START, "draft")
    builder.add_edge("draft", "ask")
    builder.add_edge("ask", END)
    try:
        app = instrument(
            builder.compile(checkpointer=InMemorySaver()), name="hitl", scheduler=scheduler
        )
        config: Any = {"configurable": {"thread_id": "t"}}
        app.invoke({"answer": ""}, config)
        app.invoke(Command(resume="yes"), config)
        _wait_for_runs("hitl", 1)
        learned = app.pdgraph
    finally:
        scheduler.close()
        daemon.stop()
    assert _stored_runs("hitl") == 1
    assert scheduler.unscheduled_calls == 0
    assert learned is not None
    assert learned.successors("draft") == {"ask": 1.0}
