"""``CapacityRuntime`` with real schedulers: the in-process one (its poller thread) and the
daemon (a real ``hermes serve`` reading a real HTTP server's ``/props`` over a socket)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from hermes_agents.capacity import (
    AutoBackend,
    Bounds,
    CapacityRuntime,
    EngineSample,
    GradientLimit,
    LatencySample,
    SlotCount,
)
from hermes_agents.capacity.build import run_in_process
from hermes_agents.config import parse_config
from hermes_agents.pdgraph import StageKind
from hermes_agents.scheduling import BackendLimits, LocalScheduler
from hermes_agents.scheduling.daemon.connection import query_status
from hermes_agents.scheduling.daemon.process import DaemonProcess
from hermes_agents.scheduling.default import scheduler_from_config
from hermes_agents.scheduling.state import Usage
from tests.backends.helpers import FakeClock
from tests.capacity.local_http import serving
from tests.waiting import wait_for


def _capacity(scheduler: LocalScheduler, backend: str) -> int:
    return scheduler.core.backends[backend].limits.max_concurrency


def test_the_poller_thread_moves_the_window_and_the_next_step_grants() -> None:
    slots = [1]
    scheduler = LocalScheduler.in_process({"llm": BackendLimits(1)})
    runtime = CapacityRuntime(
        [
            AutoBackend(
                "llm",
                SlotCount(Bounds(start=1), time.monotonic),
                lambda: EngineSample(slots=slots[0]),
                poll_s=0.05,
            )
        ]
    )
    run_in_process(scheduler, runtime)
    try:
        first = scheduler.slot("llm").enter()
        second = scheduler.slot("llm", timeout=0.05)
        with pytest.raises(TimeoutError):
            second.enter()  # one slot: the second call waits
        waiter = scheduler.slot("llm", timeout=10)
        entered = threading.Event()

        def enter() -> None:
            waiter.enter()
            entered.set()

        thread = threading.Thread(target=enter)
        thread.start()
        slots[0] = 2  # the server now has two slots: the waiting call is granted
        assert entered.wait(10)
        thread.join()
        assert _capacity(scheduler, "llm") == 2
        state = scheduler.snapshot()["backends"][0]
        assert state["capacity_reason"] == "auto (slots): the server has 2 slots"
        assert state["capacity_changes"] == 1
        first.release()
        waiter.release()
    finally:
        scheduler.close()
    assert runtime._thread is None  # close() stopped it


def test_releases_carry_latencies_priced_or_not() -> None:
    clock = FakeClock()
    scheduler = LocalScheduler.in_process(
        {"api": BackendLimits(4), "tool": BackendLimits(4, kind=StageKind.TOOL)}
    )
    limits = {name: GradientLimit(Bounds(), clock) for name in ("api", "tool")}
    runtime = CapacityRuntime([AutoBackend(n, c) for n, c in limits.items()], clock=clock)
    runtime.attach(scheduler.core)
    try:
        for backend, usage in (("api", Usage(500, 20, 0, 1.5)), ("tool", Usage(seconds=0.3))):
            slot = scheduler.slot(backend).enter()
            slot.usage = usage
            slot.release()
        (api,) = runtime.backends["api"].pending
        (tool,) = runtime.backends["tool"].pending
    finally:
        scheduler.close()
    assert isinstance(api, LatencySample)
    assert api.latency_s == 1.5
    assert api.work_s is not None
    assert api.work_s != 1.5
    assert tool == LatencySample(0.3, None)  # a tool's credit is its latency: unpriced


def test_a_throttle_reaches_the_window_through_the_scheduler() -> None:
    clock = FakeClock()
    scheduler = LocalScheduler.in_process({"api": BackendLimits(8)})
    runtime = CapacityRuntime([AutoBackend("api", GradientLimit(Bounds(start=8), clock))])
    run_in_process(scheduler, runtime)
    try:
        scheduler.throttled("api", 429, 2.0)
        scheduler.throttled("elsewhere", 429, 2.0)  # not auto: ignored
        wait_for(lambda: _capacity(scheduler, "api") == 4)
        reason = scheduler.core.backends["api"].capacity_reason
        assert reason == "auto (gradient): 429 from the backend (Retry-After 2 s): halve"
    finally:
        scheduler.close()


def test_a_probe_that_fails_leaves_the_window_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    answers: list[Any] = [OSError("refused"), OSError("refused"), EngineSample(slots=3)]

    def probe() -> EngineSample:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        assert isinstance(answer, EngineSample)
        return answer

    runtime = CapacityRuntime(
        [AutoBackend("llm", SlotCount(Bounds(start=2), clock), probe, poll_s=1.0)], clock=clock
    )
    moved = []
    runtime.apply = lambda backend, size, why: moved.append(size)
    with caplog.at_level(logging.INFO, logger="hermes_agents.capacity.runtime"):
        for _ in range(3):
            clock.advance(1.0)
            runtime.poll()
    assert moved == [2, 3]  # not attached: the start window is applied first
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "its window stays at 2" in warnings[0].getMessage()
    assert any("works again" in r.getMessage() for r in caplog.records)


def test_window_moves_are_logged_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    runtime = CapacityRuntime(
        [AutoBackend("llm", SlotCount(Bounds(), clock), lambda: EngineSample(slots=5))]
    )
    with caplog.at_level(logging.DEBUG, logger="hermes_agents.capacity.runtime"):
        runtime.poll()
    assert "backend 'llm': auto window None -> 5 (the server has 5 slots)" in caplog.text


def test_scheduler_from_config_runs_the_auto_windows() -> None:
    config = parse_config(
        {
            "backends": {
                "api": {"kind": "llm", "max_concurrency": "auto", "auto": {"start": 6}},
                "fixed": {"kind": "tool", "max_concurrency": 3},
            }
        }
    )
    scheduler = scheduler_from_config(config)
    try:
        assert scheduler.capacity is not None
        assert sorted(scheduler.capacity.backends) == ["api"]
        assert _capacity(scheduler, "api") == 6
        assert _capacity(scheduler, "fixed") == 3
        rows = {row["backend"]: row for row in scheduler.snapshot()["backends"]}
        assert rows["api"]["capacity_reason"] == "auto (gradient): start"
        assert rows["fixed"]["capacity_reason"] is None
    finally:
        scheduler.close()
    assert scheduler_from_config(config, auto=False).capacity is None


class _Props(BaseHTTPRequestHandler):
    slots = 3

    def do_GET(self) -> None:
        if self.path != "/props":
            self.send_error(404)
            return
        body = json.dumps({"total_slots": self.slots, "is_sleeping": False}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def props_server() -> Iterator[str]:
    """A real HTTP server answering llama.cpp's ``/props`` with ``total_slots``."""
    with serving(_Props) as url:
        yield url


def test_the_daemon_moves_the_window_on_its_loop(props_server: str, tmp_path: Path) -> None:
    config = tmp_path / "hermes.toml"
    config.write_text(
        f'[backends.llm]\nkind = "llm"\nbase_url = "{props_server}"\nadapter = "llamacpp"\n'
        "[backends.llm.auto]\npoll_s = 0.1\n",
        encoding="utf-8",
    )
    daemon = DaemonProcess(tmp_path / "run" / "hermes.sock", config=config, args=["--no-store"])
    try:
        daemon.start()

        def row() -> dict[str, Any]:
            state = query_status(daemon.address)
            found: dict[str, Any] = state["backends"][0]
            return found

        wait_for(lambda: row()["max_concurrency"] == 3, detail=daemon.log)
        assert row()["capacity_reason"] == "auto (slots): the server has 3 slots"
        _Props.slots = 5  # the server restarted with more slots: followed
        wait_for(lambda: row()["max_concurrency"] == 5, detail=daemon.log)
    finally:
        _Props.slots = 3
        daemon.stop()
    assert "auto capacity for llm" in daemon.log()
