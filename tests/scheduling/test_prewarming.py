"""Prewarming at run time: hints reach adapters off the app's path, beliefs, the ledger, and
the real llama.cpp server that sleeps during a tool pause and is woken before the app returns."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hermes_agents.backends.base import BackendAdapter, WarmResult
from hermes_agents.backends.llamacpp import LlamaCppAdapter
from hermes_agents.backends.tools import ToolAdapter
from hermes_agents.cost import CostModel
from hermes_agents.errors import ValidationError
from hermes_agents.local import LlamaServer
from hermes_agents.pdgraph import StageKind
from hermes_agents.prewarm import WarmHint, WarmupSpec
from hermes_agents.scheduling import BackendLimits, LocalScheduler
from hermes_agents.scheduling.models import AppModels
from hermes_agents.scheduling.prewarming import Prewarmer, PrewarmSetup
from hermes_agents.store import ProfileStore
from tests.pause_app import APP, pause_app


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _hint(backend: str = "dnn", action: str = "wake") -> WarmHint:
    return WarmHint(backend, "app", "r1", 0.9, 3.0, 0.0, action)  # type: ignore[arg-type]


class _Recording(BackendAdapter):
    def __init__(self, name: str, *, ok: bool = True, raises: bool = False) -> None:
        self.name = name
        self.ok, self.raises = ok, raises
        self.calls: list[Any] = []
        self.done = threading.Event()

    def warm(self, hint: Any = None) -> WarmResult:
        self.calls.append(hint)
        self.done.set()
        if self.raises:
            raise RuntimeError("adapter bug")
        return WarmResult(self.ok, 0.0, None if self.ok else "down")


def _prewarmer(adapter: BackendAdapter, clock: _Clock) -> Prewarmer:
    spec = WarmupSpec(adapter.name, warmup_s=2.0, idle_sleep_s=10.0)
    return Prewarmer({adapter.name: adapter}, {adapter.name: spec}, clock=clock)


def _settle(prewarmer: Prewarmer, adapter: _Recording) -> None:
    assert adapter.done.wait(5.0)
    deadline = time.monotonic() + 5.0
    while prewarmer.awake().get(adapter.name) is None and time.monotonic() < deadline:
        time.sleep(0.01)  # the worker thread records the result just after warm() returns


def test_hint_warms_on_a_worker_and_the_ledger_counts_a_hit() -> None:
    clock, adapter = _Clock(), _Recording("dnn")
    prewarmer = _prewarmer(adapter, clock)
    assert prewarmer.awake() == {"dnn": None}  # never seen
    prewarmer.apply([_hint()])
    _settle(prewarmer, adapter)
    assert adapter.calls[0].backend == "dnn"
    clock.now = 3.0
    assert prewarmer.awake() == {"dnn": True}  # within idle_sleep_s of the warm-up
    prewarmer.arrived("dnn", "r1")
    prewarmer.released("dnn")
    totals = prewarmer.snapshot()["total"]
    assert totals["hits"] == 1
    assert totals["cold_wait_hidden_s"] == 2.0
    clock.now = 14.0
    assert prewarmer.awake() == {"dnn": False}  # idle past idle_sleep_s: asleep by itself
    prewarmer.close()


def test_unused_hint_is_counted_with_its_waste_and_failures_never_raise() -> None:
    clock, adapter = _Clock(), _Recording("dnn")
    prewarmer = _prewarmer(adapter, clock)
    prewarmer.apply([_hint()])
    _settle(prewarmer, adapter)
    clock.now = 20.0
    totals = prewarmer.snapshot()["total"]
    assert totals["unused"] == 1
    assert totals["hint_waste_s"] == pytest.approx(10.0)
    for broken in (_Recording("dnn", ok=False), _Recording("dnn", raises=True)):
        failing = _prewarmer(broken, _Clock())
        failing.apply([_hint()])
        assert broken.done.wait(5.0)
        deadline = time.monotonic() + 5.0
        while failing.snapshot()["total"]["warm_failures"] < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert failing.snapshot()["total"]["warm_failures"] == 1
        assert failing.awake() == {"dnn": None}
        failing.close()


def test_a_keep_awake_charges_its_waste_from_when_the_backend_would_have_slept() -> None:
    clock, adapter = _Clock(), _Recording("dnn")
    prewarmer = _prewarmer(adapter, clock)  # idle_sleep_s 10
    prewarmer.arrived("dnn", "r0")
    prewarmer.released("dnn")  # idle from 0: it would sleep at 10
    clock.now = 9.0
    prewarmer.apply([_hint(action="keep_awake")])
    prewarmer._pool.shutdown(wait=True)  # the keep-awake ran at 9
    clock.now = 12.0
    prewarmer.arrived("dnn", "r1")  # awake only because of the hint
    totals = prewarmer.snapshot()["total"]
    assert (totals["keep_hints"], totals["hits"]) == (1, 1)
    assert totals["hint_waste_s"] == pytest.approx(2.0)  # from 10, not from the ping at 9


def test_one_wake_in_flight_per_backend_and_unknown_backends_ignored() -> None:
    gate = threading.Event()
    calls: list[Any] = []

    def slow(hint: Any) -> None:
        calls.append(hint)
        gate.wait(5.0)

    adapter = ToolAdapter(warm=slow, name="dnn")
    prewarmer = _prewarmer(adapter, _Clock())
    prewarmer.apply([_hint(), _hint("elsewhere")])
    prewarmer.apply([_hint()])  # still waking: dropped
    assert prewarmer.snapshot()["total"]["hints"] == 1  # only the first was applied
    gate.set()
    prewarmer._pool.shutdown(wait=True)  # every submitted warm-up has run
    assert len(calls) == 1


def test_setup_needs_one_adapter_per_spec() -> None:
    with pytest.raises(ValidationError, match="one adapter and one warm-up spec"):
        PrewarmSetup({}, {"dnn": WarmupSpec("dnn", warmup_s=1.0)})


# --- the real server -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sleepy(model_path: Path) -> Iterator[LlamaServer]:
    with LlamaServer(model_path, slots=1, sleep_idle_s=1) as server:
        yield server


def _scheduler(server: LlamaServer, store: ProfileStore, *, prewarm: bool) -> LocalScheduler:
    cost = CostModel()
    setup = PrewarmSetup(
        {"llm": LlamaCppAdapter(server.url)},
        {"llm": WarmupSpec("llm", warmup_s=1.5, idle_sleep_s=1.0)},
    )
    return LocalScheduler.in_process(
        {"llm": BackendLimits(1), "tools": BackendLimits(4, kind=StageKind.TOOL)},
        models=AppModels(cost, refresh_every=1, min_refresh_s=0.0, store=store),
        cost=cost,
        prewarm=setup if prewarm else None,
    )


@pytest.mark.slow
@pytest.mark.parametrize("prewarm", [False, True])
def test_real_server_is_woken_before_the_app_returns(
    sleepy: LlamaServer, prewarm: bool, tmp_path: Path
) -> None:
    store = ProfileStore(tmp_path / "profiles.sqlite3")
    scheduler = _scheduler(sleepy, store, prewarm=prewarm)
    app = pause_app(sleepy, scheduler)
    try:
        app.invoke({"question": "tides"})  # learn: think -> look_up (4 s) -> answer
        # Four more runs like it, replayed from the store: the demand windows fill up (the
        # learner trusts a stage's own samples from 5 on) without 20 more seconds of server.
        learned = store.runs(APP)[-1]
        for _ in range(4):
            assert scheduler.core.models is not None
            scheduler.core.models.observe(APP, learned)
        started = time.monotonic()
        result = app.invoke({"question": "moons"})
        elapsed = time.monotonic() - started
    finally:
        scheduler.close()
    print(f"prewarm={prewarm}: run {elapsed:.2f} s")
    assert result["asleep_before_answer"] is (not prewarm)
    if prewarm:
        assert scheduler.prewarmer is not None
        totals = scheduler.prewarmer.snapshot()["total"]
        assert totals["hits"] >= 1
        assert totals["warm_failures"] == 0
