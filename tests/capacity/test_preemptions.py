"""``auto`` reads the engine's preemption counter: the window shrinks when the engine preempts.

A KV snapshot counts the tokens the running sequences hold, not those they will still produce,
so a window that probes while KV usage looks low admits sequences that later outgrow the cache;
the engine then preempts (and recomputes) them. The preemption counter is the engine's own
verdict: one fewer per preempted request, at once, and no probing above that for a while.
"""

from __future__ import annotations

from typing import Any

import pytest

from hermes_agents.backends.testing import FakeEngine, FakeSGLang, FakeVLLM
from hermes_agents.capacity import (
    Bounds,
    EngineSample,
    EngineSettings,
    EngineWindow,
    Load,
    probe_for,
)
from hermes_agents.sim import simulator
from hermes_agents.sim.auto import AutoWindows
from hermes_agents.sim.enforce import Capacity
from hermes_agents.sim.simulator import SimConfig, simulate
from hermes_agents.workloads import builtin
from tests.backends.helpers import FakeClock

BUSY = Load(in_flight=24, queued=40)  # the window binds: every slot in use, calls waiting


def _at_ceiling(clock: FakeClock, size: int = 24) -> EngineWindow:
    window = EngineWindow(Bounds(start=size), clock)
    window.ceiling = size
    assert window.observe(EngineSample(size, 0, 0.5, preemptions=7), BUSY).size == size
    return window


def test_a_preemption_shrinks_the_window_at_once_one_per_preempted_request() -> None:
    clock = FakeClock()
    window = _at_ceiling(clock)
    clock.advance(1.0)
    moved = window.observe(EngineSample(22, 2, 0.99, preemptions=9), BUSY)
    assert moved.size == 22  # two preempted: two fewer, without waiting for `confirm` polls
    assert "preempted 2" in moved.reason
    assert window.ceiling == 22


def test_a_burst_of_preemptions_halves_the_window_at_most() -> None:
    window = _at_ceiling(FakeClock())
    assert window.observe(EngineSample(4, 20, 1.0, preemptions=37), BUSY).size == 12


def test_no_probe_above_the_ceiling_while_a_preemption_is_recent() -> None:
    clock = FakeClock()
    window = _at_ceiling(clock)
    window.observe(EngineSample(23, 1, 0.99, preemptions=8), BUSY)
    busy = Load(in_flight=23, queued=40)
    hold_s = EngineSettings().preempt_hold_s
    sizes = []
    for _ in range(int(hold_s) - 1):  # quiet polls, KV with room: it would probe every 3
        clock.advance(1.0)
        sizes.append(window.observe(EngineSample(23, 0, 0.5, preemptions=8), busy).size)
    assert set(sizes) == {23}
    for _ in range(EngineSettings().probe_polls + 1):
        clock.advance(1.0)
        size = window.observe(EngineSample(23, 0, 0.5, preemptions=8), busy).size
    assert size == 24  # the hold is over: it probes again


def test_the_first_read_and_an_engine_restart_are_not_preemptions() -> None:
    clock = FakeClock()
    window = EngineWindow(Bounds(start=16), clock)
    window.ceiling = 16
    busy = Load(in_flight=16, queued=10)  # KV at 90%: it would not grow either
    assert window.observe(EngineSample(16, 0, 0.9, preemptions=500), busy).size == 16
    assert window.observe(EngineSample(16, 0, 0.9, preemptions=3), busy).size == 16  # restarted
    assert window.observe(EngineSample(16, 0, 0.9, preemptions=None), busy).size == 16
    idle = Load(in_flight=0, queued=0)  # our calls are not in it: not ours to shrink for
    assert window.observe(EngineSample(0, 0, 0.1, preemptions=9), idle).size == 16


def test_the_window_stops_growing_at_80_percent_kv() -> None:
    window = EngineWindow(Bounds(start=8), FakeClock())
    assert window.observe(EngineSample(8, 0, 0.82), Load(8, 10)).size == 8
    assert window.observe(EngineSample(8, 0, 0.78), Load(8, 10)).size == 16


def test_no_growth_while_the_engine_sees_under_half_our_calls() -> None:
    """A vLLM waking from sleep inside its HTTP layer reports nothing running while our calls
    wait upstream of the engine: that is no evidence of room."""
    window = EngineWindow(Bounds(start=8), FakeClock())
    assert window.observe(EngineSample(0, 0, 0.0), Load(8, 10)).size == 8
    assert window.observe(EngineSample(3, 0, 0.0), Load(8, 10)).size == 8
    assert window.observe(EngineSample(4, 0, 0.0), Load(8, 10)).size == 16  # half: it sees them


def test_the_vllm_fake_serves_the_counter_and_the_probe_reads_it() -> None:
    engine = FakeEngine(max_num_seqs=8, kv_cache_tokens=1000, order="lower-first")
    probed = probe_for(
        "vllm", "http://engine:8000", name="vllm", transport=FakeVLLM(engine=engine).transport()
    )
    assert probed is not None
    probe, _ = probed
    for name in "abc":
        engine.add(name, tokens=300, work_s=5.0)
    assert probe().preemptions == 0
    engine.grow("a", 200)  # 1100 tokens do not fit: the worst running one is preempted
    sample = probe()
    assert (sample.preemptions, sample.running, sample.waiting) == (1, 2, 1)
    window = EngineWindow(Bounds(start=3), FakeClock())
    window.observe(EngineSample(3, 0, 0.9, preemptions=0), Load(3, 5))
    assert window.observe(sample, Load(3, 5)).size == 2


def test_the_sglang_probe_reads_the_retraction_counter_where_served() -> None:
    for retracted in (None, 4):
        fake = FakeSGLang(running=3, queued=1, token_usage=0.5, retracted=retracted)
        probed = probe_for("sglang", "http://engine:30000", name="llm", transport=fake.transport())
        assert probed is not None
        assert probed[0]().preemptions == retracted


def test_the_simulated_window_shrinks_on_the_engines_preemptions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """agents-kv (a KV-bound engine): the simulator hands ``auto`` the engine's counter."""
    made: list[AutoWindows] = []

    class Recorded(AutoWindows):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(simulator, "AutoWindows", Recorded)
    config = SimConfig(load=2.0, seed=0, apps=150, capacity=Capacity("client", "auto"))
    result = simulate(builtin("agents-kv"), config)
    assert result.engines["llm"]["preemptions"] > 0
    (windows,) = made
    shrunk = [move for move in windows.moves if "preempted" in move.reason]
    assert shrunk
    assert all(move.size < 32 for move in shrunk)  # the cache holds about 24 of its calls
