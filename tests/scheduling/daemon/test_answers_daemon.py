"""Every waiter gets an answer through a real daemon: a run that ends under a queued call, a
daemon killed under waiters, a prior and a learned graph over the protocol."""

from __future__ import annotations

import math
import shutil
import threading
from collections.abc import Iterator

import pytest

from hermes_agents.errors import RunEndedError
from hermes_agents.pdgraph import PDGraph
from hermes_agents.scheduling import Answer, Ticket, Usage
from hermes_agents.scheduling.daemon.client import DaemonScheduler
from hermes_agents.scheduling.daemon.connection import query_status
from hermes_agents.scheduling.interface import RunContext, current_run
from tests.scheduling.daemon.procs import Daemon, short_socket_dir
from tests.waiting import wait_for

pytestmark = pytest.mark.timeout(120)

WAIT_S = 10.0


@pytest.fixture
def daemon() -> Iterator[Daemon]:
    directory = short_socket_dir()
    running = Daemon(directory).start()
    yield running
    running.stop()
    shutil.rmtree(directory, ignore_errors=True)


def _waiting(daemon: Daemon) -> int:
    backends = query_status(daemon.address)["backends"]
    return sum(b["waiting"] for b in backends if b["backend"] == "llm")


def _waiter(
    scheduler: DaemonScheduler, run_id: str | None
) -> tuple[threading.Thread, list[object]]:
    outcome: list[object] = []

    def call() -> None:
        try:
            slot = scheduler.slot("llm", stage="answer")
            if run_id is not None:  # the call belongs to that run (as if made inside it)
                current_run.set(RunContext(scheduler, run_id))
            slot.enter()
            outcome.append(slot)
            slot.release()
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread, outcome


def test_a_run_that_ends_under_a_queued_call_withdraws_it_through_the_daemon(
    daemon: Daemon,
) -> None:
    scheduler = DaemonScheduler(daemon.address)
    try:
        holder = scheduler.slot("llm")
        holder.enter()
        scheduler.start_run("qa-1", "qa")
        thread, outcome = _waiter(scheduler, "qa-1")
        wait_for(lambda: _waiting(daemon) == 1, WAIT_S)
        scheduler.finish_run("qa-1")  # the daemon hears `end` with the call still queued
        thread.join(WAIT_S)
        assert not thread.is_alive(), "the waiter was never answered"
        (error,) = outcome
        assert isinstance(error, RunEndedError)
        assert "its app run ended" in str(error)
        holder.release()
        wait_for(lambda: _waiting(daemon) == 0, WAIT_S)
        assert scheduler.unscheduled_calls == 0
    finally:
        scheduler.close()


def test_a_killed_daemon_answers_every_waiter_once(daemon: Daemon) -> None:
    scheduler = DaemonScheduler(daemon.address)
    try:
        holder = scheduler.slot("llm")
        holder.enter()
        waiters = [_waiter(scheduler, None) for _ in range(3)]
        wait_for(lambda: _waiting(daemon) == 3, WAIT_S)
        daemon.kill()
        for thread, outcome in waiters:
            thread.join(WAIT_S)
            assert not thread.is_alive(), "a waiter was never answered"
            (slot,) = outcome
            assert getattr(slot, "ticket", "?") is None  # went ahead unscheduled
        holder.release()
        assert scheduler.unscheduled_calls == 3  # each waiter once; the holder ran scheduled
    finally:
        scheduler.close()


def test_a_prior_reaches_the_daemon_and_its_learned_graph_comes_back(daemon: Daemon) -> None:
    llm = {"kind": "llm", "backend": "llm", "prompt_tokens": {"const": 40}}
    llm["output_tokens"] = {"const": 8}
    prior = PDGraph.from_dict(
        {
            "name": "qa",
            "entry": "plan",
            "stages": {"plan": {**llm, "next": {"answer": 1.0}}, "answer": llm},
        }
    )
    scheduler = DaemonScheduler(daemon.address)
    try:
        scheduler.add_prior("qa", prior)
        with scheduler.run("qa"):
            for stage in ("plan", "answer"):
                scheduler.enter_stage(stage)
                with scheduler.slot("llm", stage=stage) as slot:
                    slot.usage = Usage(prompt_tokens=40, output_tokens=8, seconds=0.2)
        wait_for(lambda: (scheduler.learned_graph("qa") or prior).version > prior.version, WAIT_S)
        learned = scheduler.learned_graph("qa")
        assert learned is not None
        assert set(learned.stages) == {"plan", "answer"}
        assert learned.successors("plan") == {"answer": 1.0}
        assert scheduler.learned_graph("nobody") is None
    finally:
        scheduler.close()


def test_a_ticket_the_client_cannot_encode_fails_open_instead_of_raising(daemon: Daemon) -> None:
    scheduler = DaemonScheduler(daemon.address)
    try:
        with scheduler.slot("llm"):  # connected
            pass
        ticket = Ticket("llm", estimate_s=math.nan)  # what no slot lets through
        scheduler.submit(ticket)
        assert ticket.answer is Answer.UNSCHEDULED
        assert scheduler.unscheduled_calls == 1
        with scheduler.slot("llm") as slot:  # and the connection is fine
            assert slot.ticket is not None
    finally:
        scheduler.close()
