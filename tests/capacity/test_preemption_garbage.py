"""A metrics endpoint whose preemption counter is garbage never breaks ``auto``: the probe
still reads the engine's queue (a NaN, text, an overflowing sum), and the window moves only on
a counter that rose (not on a negative one, nor on one that went down); a flood of throttles
from one overload cuts the window once, whatever ``Retry-After`` they carry."""

from __future__ import annotations

import httpx
import pytest

from hermes_agents.capacity import Bounds, EngineSample, EngineWindow, Load, probe_for
from hermes_agents.capacity.gradient import GradientLimit
from hermes_agents.capacity.window import Throttle
from tests.backends.helpers import FakeClock

BUSY = Load(in_flight=16, queued=10)
QUEUE = 'vllm:num_requests_running{engine="0"} 12\nvllm:num_requests_waiting{engine="0"} 1\n'


def _probed(counter_lines: str) -> EngineSample:
    """What the vLLM probe reads from a ``/metrics`` with the engine's queue and these lines."""

    def metrics(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=QUEUE + counter_lines)

    probed = probe_for(
        "vllm", "http://engine:8000", name="vllm", transport=httpx.MockTransport(metrics)
    )
    assert probed is not None
    return probed[0]()


@pytest.mark.parametrize(
    "lines",
    [
        "vllm:num_preemptions_total NaN\n",
        "vllm:num_preemptions_total +Inf\n",
        "vllm:num_preemptions_total -Inf\n",
        "vllm:num_preemptions_total lots\n",
        "vllm:num_preemptions_total\n",
        'vllm:num_preemptions_total{engine="0"} 1e308\n'
        'vllm:num_preemptions_total{engine="1"} 1e308\n',
    ],
)
def test_a_garbage_counter_is_no_reading_and_the_queue_is_still_read(lines: str) -> None:
    sample = _probed(lines)
    assert (sample.running, sample.waiting, sample.preemptions) == (12, 1, None)


def test_a_huge_counter_is_a_count() -> None:
    assert _probed("vllm:num_preemptions_total 1e20\n").preemptions == 10**20


def _window(clock: FakeClock) -> EngineWindow:
    window = EngineWindow(Bounds(start=16), clock)
    window.ceiling = 16
    assert window.observe(EngineSample(16, 0, 0.9, preemptions=5), BUSY).size == 16
    return window


def test_a_negative_counter_is_ignored_and_moves_nothing() -> None:
    clock = FakeClock()
    window = _window(clock)
    for count in (-1, -(10**30), 5):  # back to the last good count: nothing happened
        clock.advance(1.0)
        assert window.observe(EngineSample(16, 0, 0.9, preemptions=count), BUSY).size == 16
    clock.advance(1.0)
    assert window.observe(EngineSample(15, 1, 0.9, preemptions=6), BUSY).size == 15  # one more


def test_a_counter_that_goes_down_is_a_restart_and_a_huge_jump_halves_at_most() -> None:
    clock = FakeClock()
    window = _window(clock)
    clock.advance(1.0)
    assert window.observe(EngineSample(16, 0, 0.9, preemptions=2), BUSY).size == 16
    clock.advance(1.0)
    jumped = window.observe(EngineSample(16, 0, 0.9, preemptions=10**20), BUSY)
    assert jumped.size == 8


@pytest.mark.parametrize("retry_after_s", [0.0, 0.001, None, 0.5])
def test_a_burst_of_throttles_cuts_the_window_once(retry_after_s: float | None) -> None:
    """Ten calls refused at the same moment (each 429 carrying ``Retry-After: 0``, say) are
    one overload: one halving, not ten (64 -> 1)."""
    clock = FakeClock()
    controllers = (EngineWindow(Bounds(start=64), clock), GradientLimit(Bounds(start=64), clock))
    for controller in controllers:
        for _ in range(10):
            clock.advance(0.01)
            window = controller.observe(Throttle(429, retry_after_s), BUSY)
        assert window.size == 32, type(controller).__name__
        clock.advance(2.0)  # a later overload is another episode: cut again
        assert controller.observe(Throttle(429, retry_after_s), BUSY).size == 16


@pytest.mark.parametrize(
    ("counter", "expected"),
    [("NaN", None), ("-Inf", None), ("1e308\nsglang:num_retracted_requests_total 1e308", None)],
)
def test_the_sglang_probe_reads_a_garbage_retraction_counter_as_none(
    counter: str, expected: int | None
) -> None:
    text = (
        "sglang:num_running_reqs 3\nsglang:num_queue_reqs 1\nsglang:token_usage 0.5\n"
        f"sglang:num_retracted_requests_total {counter}\n"
    )

    def metrics(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=text)

    probed = probe_for(
        "sglang", "http://engine:30000", name="llm", transport=httpx.MockTransport(metrics)
    )
    assert probed is not None
    sample = probed[0]()
    assert (sample.running, sample.waiting, sample.preemptions) == (3, 1, expected)


def test_a_metrics_body_of_garbage_reads_as_nothing_and_moves_nothing() -> None:
    def metrics(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>\x00\xff not metrics {{{ 1 2 3\n" * 100)

    probed = probe_for(
        "vllm", "http://engine:8000", name="vllm", transport=httpx.MockTransport(metrics)
    )
    assert probed is not None
    sample = probed[0]()
    assert (sample.running, sample.waiting, sample.kv_usage, sample.preemptions) == (None,) * 4
    window = _window(FakeClock())
    assert window.observe(sample, BUSY).size == 16
