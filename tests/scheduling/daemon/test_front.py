"""The daemon in front of a public scheduler (``FrontService``), without sockets: each client's
calls go to the fronted scheduler, each gets exactly one answer, sessions that end give back
what they held. The fronted scheduler here is a real ``LocalScheduler`` (and a real
``DaemonScheduler`` whose daemon is gone, for fail-open); Redis itself: ``tests/scheduling/redis
/test_front_daemon.py``."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from hermes_agents.scheduling import BackendLimits, LocalScheduler
from hermes_agents.scheduling.daemon.client import DaemonScheduler
from hermes_agents.scheduling.daemon.front import FrontService
from hermes_agents.scheduling.daemon.metrics import render
from hermes_agents.scheduling.state import Usage
from hermes_agents.scheduling.ticket import Ticket
from tests.scheduling.daemon.test_service import Peer

LIMITS = {"llm": BackendLimits(1)}


@pytest.fixture
def local() -> LocalScheduler:
    return LocalScheduler.in_process(LIMITS, policy="fcfs")


@pytest.fixture
def front(local: LocalScheduler) -> FrontService:
    return FrontService(local, name="in-process", policy="fcfs", limits=LIMITS, lease_s=10.0)


def _peer(front: FrontService) -> Peer:
    peer = Peer(front)
    peer.hello()
    return peer


def _ops(messages: list[dict[str, Any]]) -> list[tuple[str, int | None]]:
    return [(m["op"], m.get("task")) for m in messages]


def test_calls_take_the_fronted_schedulers_slots_and_order(
    front: FrontService, local: LocalScheduler
) -> None:
    a, b = _peer(front), _peer(front)
    assert a.say(op="run", run="r", app="qa") == []
    assert _ops(a.say(op="submit", task=1, run="r", backend="llm")) == [("grant", 1)]
    assert b.say(op="submit", task=1, run=None, backend="llm") == []  # capacity 1: waits
    assert local.snapshot()["backends"][0]["waiting"] == 1  # queued in the fronted one
    usage = {"prompt_tokens": 3, "output_tokens": 4, "cached_tokens": 0, "seconds": 0.5}
    assert a.say(op="release", task=1, usage=usage) == []
    assert _ops(b.received) == [("grant", 1)]  # the release admitted b's call
    assert _ops(b.say(op="release", task=1)) == []
    assert a.say(op="end", run="r") == []
    state = front.snapshot()
    assert state["scheduler"] == "in-process"
    assert (
        state["backends"][0] | {"grants": 2, "running": 0, "max_concurrency": 1}
        == (state["backends"][0])
    )
    assert front.tickets == {}
    assert front.runs == {}
    assert "hermes_backend_grants_total" in render(state)


def test_a_session_that_ends_gives_back_its_slot_and_withdraws_its_calls(
    front: FrontService, local: LocalScheduler
) -> None:
    a, b = _peer(front), _peer(front)
    a.say(op="run", run="r", app="qa")
    assert _ops(a.say(op="submit", task=1, run="r", backend="llm")) == [("grant", 1)]
    assert a.say(op="submit", task=2, run="r", backend="llm") == []
    assert b.say(op="submit", task=7, run=None, backend="llm") == []
    front.end_session(a.session)  # the client was killed: its connection is gone
    front.flush()
    assert _ops(b.received) == [("grant", 7)]
    assert a.received == []  # nothing more for a dead client
    assert front.counters.slots_reclaimed == 1
    assert not local.has_run("1:r")
    b.say(op="release", task=7)
    assert local.snapshot()["backends"][0]["running"] == 0


def test_a_run_that_ends_withdraws_its_waiting_call_once(front: FrontService) -> None:
    a, b = _peer(front), _peer(front)
    assert _ops(b.say(op="submit", task=1, run=None, backend="llm")) == [("grant", 1)]
    a.say(op="run", run="r", app="qa")
    assert a.say(op="submit", task=1, run="r", backend="llm") == []
    withdrawn = a.say(op="end", run="r")
    assert _ops(withdrawn) == [("withdrawn", 1)]
    assert withdrawn[0]["reason"]
    assert a.say(op="release", task=1) == []  # late: harmless
    b.say(op="release", task=1)
    assert a.received == []  # never granted after being withdrawn


def test_releasing_a_waiting_call_withdraws_it(front: FrontService, local: LocalScheduler) -> None:
    a, b = _peer(front), _peer(front)
    assert _ops(a.say(op="submit", task=1, run=None, backend="llm")) == [("grant", 1)]
    assert b.say(op="submit", task=1, run=None, backend="llm") == []
    assert b.say(op="release", task=1) == []  # it timed out waiting
    assert local.snapshot()["backends"][0]["waiting"] == 0
    a.say(op="release", task=1)
    assert b.received == []
    assert front.tickets == {}


def test_answers_given_off_the_loop_wake_it(front: FrontService, local: LocalScheduler) -> None:
    woken: list[int] = []
    front.serving(lambda: woken.append(1))
    direct = Ticket("llm")  # a process using the scheduler directly holds the slot
    local.submit(direct)
    a = _peer(front)
    assert a.say(op="submit", task=1, run=None, backend="llm") == []
    thread = threading.Thread(target=local.release, args=(direct, Usage(seconds=0.1)))
    thread.start()
    thread.join()
    assert woken == [1]  # once, however many answers came
    front.flush()
    assert _ops(a.received) == [("grant", 1)]


def test_a_scheduler_that_fails_open_tells_the_client_to_run_unscheduled(tmp_path: Path) -> None:
    gone = DaemonScheduler(f"unix://{tmp_path / 'nobody.sock'}")
    front = FrontService(gone, name="unix://nobody", policy="gittins")
    a = _peer(front)
    a.say(op="run", run="r", app="qa")
    answer = a.say(op="submit", task=3, run="r", backend="llm")
    assert _ops(answer) == [("error", 3)]
    assert "unscheduled" in answer[0]["error"]
    assert not answer[0]["fatal"]
    assert front.tickets == {}
    assert front.snapshot()["counters"]["scheduler_unscheduled_calls"] == 1
    gone.close()


def test_refused_messages_leave_nothing_behind(front: FrontService) -> None:
    a = _peer(front)
    refused = a.say(op="submit", task=1, run="never-started", backend="llm")
    assert _ops(refused) == [("error", 1)]
    assert front.tickets == {}
    assert _ops(a.say(op="submit", task=2, run=None, backend="llm")) == [("grant", 2)]
    assert _ops(a.say(op="submit", task=2, run=None, backend="llm")) == [("error", 2)]
    assert len(front.tickets) == 1


def test_the_status_view_says_what_it_fronts(front: FrontService) -> None:
    pytest.importorskip("rich")
    from hermes_agents.commands.console import console
    from hermes_agents.commands.status import render as show

    a = _peer(front)
    a.say(op="run", run="r", app="qa")
    a.say(op="submit", task=1, run="r", backend="llm")
    state = front.snapshot()
    assert state["runs"][0]["app"] == "qa"
    assert state["apps"][0]["running"] == 1
    assert state["runs"][0]["rank"] is not None  # its rank at its grant
    out = console()
    with out.capture() as captured:
        show(out, state)
    assert "fronting in-process" in captured.get()


def test_a_throttle_reaches_the_fronted_scheduler(front: FrontService) -> None:
    heard: list[tuple[str, int, float | None]] = []

    class Listening(LocalScheduler):
        def throttled(self, backend: str, status: int, retry_after_s: float | None = None) -> None:
            heard.append((backend, status, retry_after_s))

    listening = Listening.in_process(LIMITS)
    a = _peer(FrontService(listening, name="in-process", policy="gittins"))
    assert a.say(op="throttle", backend="llm", status=429, retry_after_s=2.5) == []
    assert heard == [("llm", 429, 2.5)]
