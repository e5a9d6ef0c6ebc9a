"""Prewarming in the daemon, without sockets: grants and releases reach the prewarmer, the
service plans after each flush and asks for a timer, and nothing a prewarmer does can break it.
Also the loop timer, the snapshot, the metrics and ``hermes status``."""

from __future__ import annotations

import asyncio
import io
import logging
import shutil
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from hermes_agents.backends.base import BackendAdapter, WarmResult
from hermes_agents.backends.tools import ToolAdapter
from hermes_agents.commands.status import render as render_status
from hermes_agents.pdgraph import Call, StageKind, Visit
from hermes_agents.prewarm import PlanStep, PrewarmPlanner, WarmHint, WarmupSpec
from hermes_agents.scheduling import BackendLimits, SchedulerCore, policy_named
from hermes_agents.scheduling.daemon.client import listening
from hermes_agents.scheduling.daemon.metrics import render as render_metrics
from hermes_agents.scheduling.daemon.server import Listen, WarmupTimer, serve_forever
from hermes_agents.scheduling.daemon.service import DaemonService
from hermes_agents.scheduling.daemon.snapshot import snapshot
from hermes_agents.scheduling.models import AppModels
from hermes_agents.scheduling.prewarming import Prewarmer, PrewarmSetup
from hermes_agents.store import ProfileStore
from tests.prewarm.graphs import ChainModels
from tests.scheduling.daemon.procs import short_socket_dir
from tests.scheduling.daemon.test_service import Peer

SPEC = WarmupSpec("gpu", warmup_s=3.0, idle_sleep_s=10.0)
"""``chain``'s ``infer`` stage runs on ``gpu`` 4 s after ``plan`` starts: wake it at 1 s."""


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    """The ``warm`` callable of a ``ToolAdapter``: keeps the hints it gets."""

    def __init__(self) -> None:
        self.hints: list[WarmHint | None] = []

    def __call__(self, hint: WarmHint | None) -> None:
        self.hints.append(hint)


class Raising(BackendAdapter):
    """An adapter that breaks the contract: its ``warm`` raises."""

    name = "gpu"

    def warm(self, hint: Any = None) -> WarmResult:
        raise RuntimeError("adapter bug")


def _service(
    clock: Clock, adapter: BackendAdapter, planner: PrewarmPlanner | None = None
) -> DaemonService:
    setup = PrewarmSetup({"gpu": adapter}, {"gpu": SPEC})
    core = SchedulerCore(
        {"cpu": BackendLimits(1), "gpu": BackendLimits(1)},
        policy_named("gittins"),
        clock,
        models=ChainModels(),
        planner=planner or setup.planner(),
    )
    return DaemonService(core, prewarmer=setup.prewarmer(clock))


def _prewarmer(service: DaemonService) -> Prewarmer:
    assert service.prewarmer is not None
    return service.prewarmer


def _settle(prewarmer: Prewarmer) -> None:
    """Wait until the warm-ups started so far are done (one worker: they run in order)."""
    prewarmer._pool.submit(lambda: None).result(timeout=5.0)


def _granted(messages: list[dict[str, Any]]) -> list[int]:
    return [m["task"] for m in messages if m["op"] == "grant"]


def _row(state: dict[str, Any], backend: str) -> dict[str, Any]:
    return next(row for row in state["prewarm"]["backends"] if row["backend"] == backend)


def _start_chain(service: DaemonService) -> Peer:
    """A client whose ``chain`` run is in ``plan`` on cpu (task 1 granted)."""
    peer = Peer(service)
    peer.hello()
    peer.say(op="run", run="r", app="chain")
    assert _granted(peer.say(op="submit", task=1, run="r", backend="cpu", stage="plan")) == [1]
    return peer


def _woken(service: DaemonService, clock: Clock) -> Peer:
    """``_start_chain``, then the clock at the check the service asked for, and that check."""
    checks: list[float] = []
    service.on_next_check = checks.append
    peer = _start_chain(service)
    assert checks, "the service asked for no prewarm check"
    clock.now = min(checks)
    service.flush()  # what the server's timer does then
    _settle(_prewarmer(service))
    assert snapshot(service)["prewarm"]["total"]["hints"] == 1
    return peer


def test_a_run_headed_for_the_sleepy_backend_gets_a_wake_hint_on_time() -> None:
    clock, recorder = Clock(), Recorder()
    service = _service(clock, ToolAdapter(warm=recorder, name="gpu"))
    checks: list[float] = []
    service.on_next_check = checks.append
    _start_chain(service)
    assert recorder.hints == []
    assert checks
    assert min(checks) == pytest.approx(1.0)  # 4 s of plan - 3 s of warm-up
    clock.now = min(checks)
    service.flush()  # what the server's timer does then
    _settle(_prewarmer(service))
    (hint,) = recorder.hints
    assert hint is not None
    assert (hint.backend, hint.action, hint.app, hint.run_id) == ("gpu", "wake", "chain", "1:r")
    assert snapshot(service)["prewarm"]["total"]["wake_hints"] == 1


def test_grants_and_releases_reach_the_ledger_and_the_beliefs() -> None:
    clock = Clock()
    service = _service(clock, ToolAdapter(warm=Recorder(), name="gpu"))
    prewarmer = _prewarmer(service)
    peer = _woken(service, clock)  # at 1 s
    clock.now = 4.0
    peer.say(op="release", task=1, usage={"seconds": 4.0})
    assert _granted(peer.say(op="submit", task=2, run="r", backend="gpu", stage="infer")) == [2]
    gpu = _row(snapshot(service), "gpu")
    assert (gpu["hits"], gpu["cold_wait_hidden_s"]) == (1, 3.0)
    # warm from 1 s, used at 4 s: at most 3 s wasted (a keep-awake at 4 s may restart the count)
    assert 0.0 <= gpu["hint_waste_s"] <= 3.0 + 1e-6
    clock.now = 30.0
    assert prewarmer.awake()["gpu"] is True  # still running: the grant was an arrival
    peer.say(op="release", task=2)
    clock.now = 30.0 + SPEC.idle_sleep_s + 1  # type: ignore[operator]
    assert prewarmer.awake()["gpu"] is False  # the release was seen: idle, then asleep


def test_a_running_task_reclaimed_from_a_vanished_client_is_released() -> None:
    clock = Clock()
    service = _service(clock, ToolAdapter(warm=Recorder(), name="gpu"))
    prewarmer = _prewarmer(service)
    holder, waiter = Peer(service), Peer(service)
    holder.hello()
    waiter.hello()
    assert _granted(holder.say(op="submit", task=1, run=None, backend="gpu")) == [1]
    waiter.say(op="submit", task=1, run=None, backend="gpu")  # waits: never arrived
    service.end_session(holder.session)
    service.end_session(waiter.session)
    service.flush()  # the freed slot reaches the prewarmer in the driver step
    assert service.counters.slots_reclaimed == 1
    assert prewarmer.awake()["gpu"] is True  # idle since now, not yet asleep
    clock.now = SPEC.idle_sleep_s + 1  # type: ignore[operator]
    assert prewarmer.awake()["gpu"] is False  # one arrival, one release: nothing running


def test_a_raising_adapter_is_counted_and_the_service_goes_on() -> None:
    clock = Clock()
    service = _service(clock, Raising())
    peer = _woken(service, clock)
    assert snapshot(service)["prewarm"]["total"]["warm_failures"] == 1
    clock.now = 4.0
    peer.say(op="release", task=1)
    assert _granted(peer.say(op="submit", task=2, run="r", backend="gpu", stage="infer")) == [2]


def test_a_raising_planner_or_prewarmer_never_reaches_a_client(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Broken(PrewarmPlanner):
        def plan(self, *args: object, **kwargs: object) -> PlanStep:
            raise RuntimeError("planner bug")

    clock = Clock()
    service = _service(clock, ToolAdapter(warm=Recorder(), name="gpu"), planner=Broken({}))
    peer = _start_chain(service)  # the planner raised on every flush: grants still came
    assert "prewarm planning failed" in caplog.text

    def broken(*args: object) -> None:
        raise RuntimeError("prewarmer bug")

    prewarmer = _prewarmer(service)
    monkeypatch.setattr(prewarmer, "awake", broken)
    monkeypatch.setattr(prewarmer, "arrived", broken)
    monkeypatch.setattr(prewarmer, "released", broken)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        peer.say(op="release", task=1)
        replies = peer.say(op="submit", task=2, run="r", backend="gpu", stage="infer")
        assert _granted(replies) == [2]
        assert peer.say(op="release", task=2) == []  # no error message either
    assert caplog.text.count("prewarming failed") == 1  # once for the whole streak of events
    assert not peer.closed


def test_the_snapshot_and_metrics_show_prewarming_only_when_it_is_on() -> None:
    plain = DaemonService(SchedulerCore({}, policy_named("fcfs"), Clock(), models=ChainModels()))
    assert snapshot(plain)["prewarm"] is None
    assert "hermes_prewarm" not in render_metrics(snapshot(plain))

    clock = Clock()
    service = _service(clock, ToolAdapter(warm=Recorder(), name="gpu"))
    peer = _woken(service, clock)
    clock.now = 4.0
    peer.say(op="release", task=1)
    peer.say(op="submit", task=2, run="r", backend="gpu", stage="infer")
    state = snapshot(service)
    assert state["prewarm"]["total"]["hits"] == 1
    text = render_metrics(state)
    assert 'hermes_prewarm_hits_total{backend="gpu"} 1\n' in text
    assert 'hermes_prewarm_hidden_seconds_total{backend="gpu"} 3.0\n' in text
    assert "# TYPE hermes_prewarm_hint_waste_seconds_total counter\n" in text
    assert "hermes_prewarm_warm_failures_total 0\n" in text

    out = io.StringIO()
    render_status(Console(file=out, width=200), {**state, "server": "hermes-agents test"})
    shown = out.getvalue()
    assert "Prewarming (failed warm-ups 0)" in shown
    assert "cold_wait_hidden_s" in shown
    quiet = io.StringIO()
    render_status(Console(file=quiet, width=200), {**snapshot(plain), "server": "x"})
    assert "Prewarming" not in quiet.getvalue()


def test_a_restarted_daemon_plans_an_apps_first_run_from_its_stored_profile(
    tmp_path: Path,
) -> None:
    with ProfileStore(tmp_path / "profiles.sqlite3") as store:
        run = [
            Visit("plan", StageKind.TOOL, "cpu", (Call(seconds=4.0),)),
            Visit("infer", StageKind.TOOL, "gpu", (Call(seconds=1.0),)),
        ]
        for _ in range(5):
            store.record_run("chain", run)
        clock = Clock()
        setup = PrewarmSetup({"gpu": ToolAdapter(warm=Recorder(), name="gpu")}, {"gpu": SPEC})
        core = SchedulerCore(
            {"cpu": BackendLimits(1, kind=StageKind.TOOL), "gpu": BackendLimits(1)},
            policy_named("gittins"),
            clock,
            models=AppModels(store=store),
            planner=setup.planner(),
        )
        service = DaemonService(core, prewarmer=setup.prewarmer(clock))
        checks: list[float] = []
        service.on_next_check = checks.append
        _start_chain(service)  # no run of "chain" has finished in this daemon yet
        assert service.learner is not None
        assert service.learner.drain()  # the profile is loaded off the loop
        service.flush()  # and given to the run in flight
        assert core.runs["1:r"].demand is not None
        assert checks
        assert min(checks) == pytest.approx(1.0, abs=0.05)


# --- the loop side ------------------------------------------------------------------------------


def test_the_timer_keeps_one_handle_and_rearms_only_for_earlier() -> None:
    async def main() -> tuple[list[float], float]:
        loop = asyncio.get_running_loop()
        fired: list[float] = []
        timer = WarmupTimer(loop, loop.time, lambda: fired.append(loop.time()))
        start = loop.time()
        timer.at(start + 0.3)
        timer.at(start + 5.0)  # later than armed: ignored
        assert timer.when_s == start + 0.3
        timer.at(start + 0.05)  # earlier: re-armed
        assert timer.when_s == start + 0.05
        await asyncio.sleep(0.5)
        assert timer.when_s is None
        timer.at(loop.time() + 0.05)
        timer.cancel()  # as on shutdown
        await asyncio.sleep(0.15)
        return fired, start

    fired, start = asyncio.run(main())
    assert len(fired) == 1
    assert fired[0] - start < 0.3


def test_a_failing_timer_action_does_not_stop_the_loop(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> None:
        raise RuntimeError("flush bug")

    async def main() -> bool:
        loop = asyncio.get_running_loop()
        WarmupTimer(loop, loop.time, broken).at(loop.time())
        await asyncio.sleep(0.05)
        return True

    assert asyncio.run(main())
    assert "the prewarm check failed" in caplog.text


def test_the_server_arms_the_services_timer_while_it_serves() -> None:
    directory = short_socket_dir()
    clock = Clock()
    service = _service(clock, ToolAdapter(warm=Recorder(), name="gpu"))

    async def main() -> None:
        stop = asyncio.Event()
        path = Path(directory, "hermes.sock")
        serving = asyncio.create_task(serve_forever(service, Listen(path), stop=stop))
        while not listening(path):
            await asyncio.sleep(0.01)
        assert service.on_next_check is not None
        _start_chain(service)  # asks for a check at 1 s on the core's clock: armed
        stop.set()
        await serving
        assert service.on_next_check is None

    try:
        asyncio.run(main())
    finally:
        shutil.rmtree(directory, ignore_errors=True)
