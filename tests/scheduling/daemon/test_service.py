"""The daemon's state machine without sockets: sessions, routing, leases, snapshots."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hermes_agents.errors import HermesError
from hermes_agents.scheduling import BackendLimits, SchedulerCore, policy_named
from hermes_agents.scheduling.daemon.metrics import render
from hermes_agents.scheduling.daemon.service import DaemonService
from hermes_agents.scheduling.daemon.sessions import Session
from hermes_agents.scheduling.daemon.sessionservice import SessionService
from hermes_agents.scheduling.daemon.snapshot import snapshot
from hermes_agents.scheduling.models import AppModels
from hermes_agents.scheduling.state import UNLIMITED


class Peer:
    """One fake connection: what the daemon sent it, and whether it hung up on it."""

    def __init__(self, service: SessionService, *, needs_token: bool = False) -> None:
        self.service = service
        self.received: list[dict[str, Any]] = []
        self.closed = False
        self.session: Session = service.open(self._got, self._close, needs_token=needs_token)

    def _got(self, data: bytes) -> None:
        self.received += [json.loads(line) for line in data.splitlines()]

    def _close(self) -> None:
        self.closed = True

    def say(self, **message: Any) -> list[dict[str, Any]]:
        self.received.clear()
        self.service.receive(self.session, json.dumps(message).encode())
        self.service.flush()
        return list(self.received)

    def hello(self, **extra: Any) -> None:
        assert self.say(op="hello", version=1, **extra)[0]["op"] == "welcome"


def _granted(messages: list[dict[str, Any]]) -> list[int]:
    """Task ids of the grants among ``messages`` (each also carries its run's rank)."""
    assert all(m["op"] == "grant" for m in messages), messages
    return [m["task"] for m in messages]


@pytest.fixture
def now() -> list[float]:
    return [0.0]


@pytest.fixture
def models() -> AppModels:
    return AppModels()


@pytest.fixture
def service(now: list[float], models: AppModels) -> DaemonService:
    core = SchedulerCore(
        {"llm": BackendLimits(1)},
        policy_named("fcfs"),
        lambda: now[0],
        models=models,
        default_limits=UNLIMITED,
    )
    return DaemonService(core, lease_s=10.0, token="t0k")


def test_grants_go_to_the_session_that_owns_the_task(service: DaemonService) -> None:
    a, b = Peer(service), Peer(service)
    a.hello()
    b.hello()
    assert _granted(a.say(op="submit", task=7, run=None, backend="llm")) == [7]
    assert b.say(op="submit", task=7, run=None, backend="llm") == []  # same id, other session
    assert a.say(op="release", task=7) == []
    assert _granted(b.received) == [7]


def test_runs_are_private_to_their_session(service: DaemonService) -> None:
    a, b = Peer(service), Peer(service)
    a.hello()
    b.hello()
    a.say(op="run", run="r", app="qa")
    a.say(op="run", run="r", app="qa")  # again after a reconnect: harmless
    (error,) = b.say(op="submit", task=1, run="r", backend="llm")
    assert error["op"] == "error"
    assert error["task"] == 1
    assert "not started" in error["error"]
    assert _granted(a.say(op="submit", task=1, run="r", backend="llm", stage="s")) == [1]
    assert service.core.runs["1:r"].stage == "s"


def test_a_session_that_ends_gives_back_slots_and_withdraws_tasks(
    service: DaemonService, models: AppModels
) -> None:
    a, b, c = Peer(service), Peer(service), Peer(service)
    for peer in (a, b, c):
        peer.hello()
    a.say(op="run", run="r", app="qa")
    a.say(op="submit", task=1, run="r", backend="llm")
    b.say(op="submit", task=1, run=None, backend="llm")  # waits behind a
    c.say(op="submit", task=1, run=None, backend="llm")  # waits behind b
    service.end_session(b.session)  # b vanishes while waiting
    service.end_session(a.session)  # a vanishes while holding the slot
    service.flush()
    assert _granted(c.received) == [1]
    assert service.counters.slots_reclaimed == 1
    assert service.core.runs.keys() == {"3:#1"}
    assert models.graph("qa") is None  # a run cut short teaches the learner nothing


def test_finished_runs_teach_the_learner(service: DaemonService, models: AppModels) -> None:
    peer = Peer(service)
    peer.hello()
    peer.say(op="run", run="r", app="qa")
    peer.say(op="submit", task=1, run="r", backend="llm", stage="answer")
    peer.say(op="release", task=1, usage={"seconds": 1.0})
    peer.say(op="end", run="r")
    assert service.learner is not None
    assert service.learner.drain()  # learned off the loop
    graph = models.graph("qa")
    assert graph is not None
    assert set(graph.stages) == {"answer"}


def test_silent_sessions_with_tasks_lose_them_after_the_lease(
    service: DaemonService, now: list[float]
) -> None:
    holder, idle, waiter = Peer(service), Peer(service), Peer(service)
    for peer in (holder, idle, waiter):
        peer.hello()
    holder.say(op="submit", task=1, run=None, backend="llm")
    now[0] = 9.0
    waiter.say(op="submit", task=1, run=None, backend="llm")
    assert service.expire_leases() == 0
    now[0] = 10.5
    assert service.expire_leases() == 1
    service.flush()
    assert holder.closed
    assert not idle.closed
    assert _granted(waiter.received) == [1]
    assert service.counters.leases_expired == 1


def test_tcp_sessions_need_the_token(service: DaemonService) -> None:
    wrong = Peer(service, needs_token=True)
    (error,) = wrong.say(op="hello", version=1, token="nope")
    assert error["fatal"]
    assert "token" in error["error"]
    assert wrong.closed
    right = Peer(service, needs_token=True)
    right.hello(token="t0k")


def test_errors_before_hello_are_fatal_and_after_it_are_not(service: DaemonService) -> None:
    early = Peer(service)
    (error,) = early.say(op="status")
    assert error["fatal"]
    assert early.closed
    assert early.session.session_id not in service.sessions
    late = Peer(service)
    late.hello()
    (error,) = late.say(op="hello", version=1)
    assert not error["fatal"]
    assert not late.closed
    (error,) = late.say(op="submit", task=3, run=None, backend="llm", tokens=-2)
    assert error["task"] == 3
    assert "tokens" in error["error"]


def test_release_with_usage_credits_the_run(service: DaemonService) -> None:
    peer = Peer(service)
    peer.hello()
    peer.say(op="run", run="r", app="qa")
    peer.say(op="submit", task=1, run="r", backend="tools")
    peer.say(op="release", task=1, usage={"seconds": 2.5})
    assert service.core.runs["1:r"].attained_s == pytest.approx(2.5)
    peer.say(op="release", task=1)  # twice: harmless
    peer.say(op="end", run="r")
    assert not service.core.runs


def test_snapshot_and_metrics_report_the_state(service: DaemonService) -> None:
    a, b = Peer(service), Peer(service)
    a.hello()
    b.hello(unscheduled=4)
    a.say(op="run", run="r", app='q"a')
    a.say(op="submit", task=1, run="r", backend="llm", stage="answer")
    b.say(op="submit", task=1, run=None, backend="llm")
    state = snapshot(service)
    assert state["clients"] == 2
    llm = next(row for row in state["backends"] if row["backend"] == "llm")
    assert (llm["running"], llm["waiting"], llm["grants"], llm["max_concurrency"]) == (1, 1, 1, 1)
    assert {app["app"] for app in state["apps"]} == {'q"a', "call:llm"}
    assert state["counters"]["unscheduled_calls"] == 4
    service.end_session(b.session)
    assert snapshot(service)["counters"]["unscheduled_calls"] == 4  # kept after it left
    text = render(snapshot(service))
    assert 'hermes_backend_waiting{backend="llm"} 0' in text
    assert 'hermes_app_runs{app="q\\"a"} 1' in text
    assert "hermes_unscheduled_calls_total 4" in text
    (reply,) = a.say(op="status")
    assert reply["op"] == "status"
    assert reply["clients"] == 1


def test_lease_must_be_positive() -> None:
    core = SchedulerCore({}, policy_named("fcfs"), lambda: 0.0)
    with pytest.raises(HermesError, match="lease_s"):
        DaemonService(core, lease_s=0)


def test_a_run_that_ends_under_a_queued_task_is_answered_withdrawn(
    service: DaemonService,
) -> None:
    holder, peer = Peer(service), Peer(service)
    holder.hello()
    peer.hello()
    holder.say(op="submit", task=1, run=None, backend="llm")
    peer.say(op="run", run="r", app="qa")
    assert peer.say(op="submit", task=7, run="r", backend="llm") == []  # queued
    (answer,) = peer.say(op="end", run="r")
    assert answer == {"op": "withdrawn", "task": 7, "reason": "its app run ended while it waited"}
    assert service.core.tasks.keys() == {next(iter(service.core.tasks))}  # the holder's only
    assert peer.say(op="release", task=7) == []  # releasing it afterwards is harmless


def test_a_core_that_raises_leaves_no_task_and_fails_each_waiter_open_once(
    service: DaemonService, monkeypatch: pytest.MonkeyPatch
) -> None:
    holder, peer = Peer(service), Peer(service)
    holder.hello()
    peer.hello()
    holder.say(op="submit", task=1, run=None, backend="llm")
    real_submit = service.core.submit
    monkeypatch.setattr(service.core, "submit", _raising)
    (refused,) = peer.say(op="submit", task=2, run=None, backend="llm")
    assert refused["op"] == "error"
    assert refused["task"] == 2  # the client runs that call unscheduled
    assert len(service.core.runs) == 1  # its one-call run did not stay behind
    monkeypatch.setattr(service.core, "submit", real_submit)
    assert peer.say(op="submit", task=3, run=None, backend="llm") == []  # queued
    monkeypatch.setattr(service.core, "step", _raising)
    replies = peer.say(op="ping")  # the step raises: every waiter is answered
    assert [(m["op"], m.get("task")) for m in replies] == [("pong", None), ("error", 3)]
    monkeypatch.undo()
    assert [t.task_id for s in service.core.backends.values() for t in s.waiting.values()] == []
    assert service.driver.failures == 1


def _raising(*args: object, **kwargs: object) -> object:
    raise RuntimeError("a bug in the core")


def test_a_suspended_run_holds_nothing_and_resumes_whole(
    service: DaemonService, models: AppModels
) -> None:
    peer = Peer(service)
    peer.hello()
    peer.say(op="run", run="r", app="hitl")
    peer.say(op="stage", run="r", stage="draft", visit="draft@1")
    peer.say(op="submit", task=1, run="r", backend="llm")
    peer.say(op="release", task=1, usage={"seconds": 1.0})
    peer.say(op="stage", run="r", stage="ask", visit="ask@2")
    assert peer.say(op="suspend", run="r") == []
    assert "1:r" not in service.core.runs  # no rank, no warm-up, no slot while a human thinks
    assert "1:r" in service.core.suspended
    peer.say(op="resume", run="r", app="hitl")
    peer.say(op="stage", run="r", stage="ask", visit="ask@2")  # the node runs again: same visit
    peer.say(op="stage", run="r", stage="publish", visit="publish@3")
    assert service.core.runs["1:r"].attained_s == 1.0
    peer.say(op="end", run="r")
    assert service.learner is not None
    assert service.learner.drain()
    graph = models.graph("hitl")
    assert graph is not None
    assert graph.successors("ask") == {"publish": 1.0}  # learned once, whole


def test_a_resume_the_daemon_cannot_continue_is_a_run_it_does_not_learn(
    service: DaemonService, models: AppModels
) -> None:
    peer = Peer(service)
    peer.hello()
    peer.say(op="resume", run="r", app="hitl")  # suspended by another process, or before a restart
    assert _granted(peer.say(op="submit", task=1, run="r", backend="llm", stage="publish")) == [1]
    peer.say(op="release", task=1, usage={"seconds": 1.0})
    peer.say(op="end", run="r")
    assert service.learner is not None
    assert service.learner.drain()
    assert models.graph("hitl") is None
