"""The pure controllers on a fake clock: slots, engine metrics, latency gradient, throttles."""

from __future__ import annotations

import pytest

from hermes_agents.capacity import (
    Bounds,
    EngineSample,
    EngineWindow,
    GradientLimit,
    LatencySample,
    Load,
    SlotCount,
    Throttle,
    controller_for,
)
from hermes_agents.errors import ValidationError
from tests.backends.helpers import FakeClock

FULL = Load(in_flight=64, queued=50)  # every slot in use and calls waiting: the window binds


def test_bounds_clamp_and_start() -> None:
    assert Bounds().start == 4
    assert Bounds(min=8).start == 8
    assert Bounds(max=2).start == 2
    assert Bounds(min=2, max=10).clamp(0.5) == 2
    assert Bounds(min=2, max=10).clamp(float("nan")) == 2
    assert Bounds(min=2, max=10).clamp(float("inf")) == 10


@pytest.mark.parametrize(
    ("fields", "where", "says"),
    [
        ({"min": 0}, "field 'min'", ">= 1"),
        ({"max": True}, "field 'max'", ">= 1"),
        ({"min": 5, "max": 4}, "field 'max'", "raise max or lower min"),
        ({"min": 2, "max": 4, "start": 9}, "field 'start'", "[min, max] = [2, 4]"),
    ],
)
def test_bad_bounds_name_the_field(fields: dict[str, object], where: str, says: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Bounds(**fields)  # type: ignore[arg-type]
    assert caught.value.location == (where,)
    assert says in str(caught.value)


def test_slot_count_follows_the_server() -> None:
    clock = FakeClock()
    slots = SlotCount(Bounds(), clock)
    assert slots.observe(EngineSample(slots=2), Load()).size == 2
    clock.advance(5)
    window = slots.observe(EngineSample(slots=6), Load())
    assert (window.size, window.at_s) == (6, clock.now)
    assert "6 slots" in window.reason
    assert slots.observe(EngineSample(), Load()).size == 6  # nothing said: nothing moves
    assert slots.observe(Throttle(503, 10.0), Load()).size == 6  # a 503 says nothing of slots
    assert SlotCount(Bounds(max=4), clock).observe(EngineSample(slots=8), Load()).size == 4


def test_engine_window_finds_the_batch_and_keeps_the_engine_queue_empty() -> None:
    window = EngineWindow(Bounds(start=4), FakeClock())
    sizes = []
    capacity = 24
    for _ in range(30):  # an engine that runs 24 at once; all our calls are in the window
        size = window.window.size
        running, waiting = min(size, capacity), max(0, size - capacity)
        sizes.append(window.observe(EngineSample(running, waiting, 0.3), Load(size, 100)).size)
    assert sizes[:3] == [8, 16, 32]  # slow start
    assert capacity in sizes
    assert all(capacity <= size <= capacity + 1 for size in sizes[8:])  # probes one above
    assert window.ceiling == capacity


def test_engine_window_holds_on_kv_pressure_and_when_not_the_bottleneck() -> None:
    window = EngineWindow(Bounds(start=8), FakeClock())
    assert window.observe(EngineSample(8, 0, 0.95), Load(8, 10)).size == 8  # KV nearly full
    assert window.observe(EngineSample(3, 0, 0.1), Load(3, 0)).size == 8  # app-limited
    assert window.observe(EngineSample(None, None, None), FULL).size == 8  # no metrics
    assert window.observe(EngineSample(8, 0, 0.1), Load(8, 2)).size == 16


def test_one_queued_poll_is_not_a_queue() -> None:
    window = EngineWindow(Bounds(start=10), FakeClock())
    assert window.observe(EngineSample(9, 1, 0.4), Load(10, 5)).size == 10
    assert window.observe(EngineSample(10, 0, 0.4), Load(10, 5)).size == 20  # it drained
    assert window.observe(EngineSample(14, 6, 0.4), Load(20, 5)).size == 20
    assert window.observe(EngineSample(14, 6, 0.4), Load(20, 5)).size == 14


def _quiet_seconds(limit: GradientLimit, clock: FakeClock, latency_s: float, seconds: int) -> int:
    for _ in range(seconds):
        clock.advance(1.0)
        size = limit.window.size
        for _ in range(5):
            limit.observe(LatencySample(latency_s), Load(in_flight=size, queued=10))
    return limit.window.size


def test_gradient_grows_at_its_latency_floor() -> None:
    clock = FakeClock()
    limit = GradientLimit(Bounds(start=4, max=64), clock)
    sizes = [_quiet_seconds(limit, clock, 0.2, 1) for _ in range(20)]
    assert sizes == sorted(sizes)
    assert sizes[-1] > 16
    assert "floor" in limit.window.reason
    assert limit.floor == pytest.approx(0.2)


def test_gradient_backs_off_as_latency_rises() -> None:
    clock = FakeClock()
    limit = GradientLimit(Bounds(start=4, max=64), clock)
    grown = _quiet_seconds(limit, clock, 0.2, 12)
    slower = _quiet_seconds(limit, clock, 0.6, 3)  # 3x the floor: the backend queues
    assert slower < grown
    assert "its floor: back off" in limit.window.reason
    within = _quiet_seconds(limit, clock, 0.25, 3)  # within the tolerance: no queue
    assert within >= slower


def test_gradient_reads_latency_relative_to_the_call_size() -> None:
    clock = FakeClock()
    limit = GradientLimit(Bounds(start=4, max=64), clock)
    for second in range(8):  # long and short calls at the same speed: a flat floor
        clock.advance(1.0)
        for work_s in (0.1, 2.0, 0.5, 4.0):
            limit.observe(LatencySample(work_s * 1.1, work_s), Load(64, 10))
        assert limit.window.size >= 4 + second
    assert limit.floor == pytest.approx(1.1, rel=0.05)


def test_gradient_does_not_grow_when_the_limit_is_not_in_use() -> None:
    clock = FakeClock()
    limit = GradientLimit(Bounds(start=8), clock)
    for _ in range(10):
        clock.advance(1.0)
        for _ in range(5):
            limit.observe(LatencySample(0.1), Load(in_flight=2, queued=0))
    assert limit.window.size == 8


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("kind", ["gradient", "engine"])
def test_a_throttle_halves_once_per_retry_after_and_holds_growth(status: int, kind: str) -> None:
    clock = FakeClock()
    controller = controller_for("vllm" if kind == "engine" else None, Bounds(start=16), clock)
    window = controller.observe(Throttle(status, retry_after_s=5.0), FULL)
    assert window.size == 8
    assert f"{status} from the backend (Retry-After 5 s)" in window.reason
    clock.advance(1.0)
    assert controller.observe(Throttle(status, 5.0), FULL).size == 8  # the same episode
    assert controller.holding
    for _ in range(3):  # quiet while held: no growth
        clock.advance(1.0)
        _feed_quiet(controller)
        assert controller.window.size == 8
    clock.advance(10.0)
    assert not controller.holding
    for _ in range(6):
        clock.advance(1.0)
        _feed_quiet(controller)
    assert controller.window.size > 8
    clock.advance(1.0)
    assert controller.observe(Throttle(status, None), FULL).size < controller.bounds.max


def _feed_quiet(controller: object) -> None:
    assert isinstance(controller, GradientLimit | EngineWindow)
    size = controller.window.size
    if isinstance(controller, EngineWindow):
        controller.observe(EngineSample(size, 0, 0.1), Load(size, 10))
    else:
        for _ in range(5):
            controller.observe(LatencySample(0.1), Load(size, 10))


def test_bad_latencies_are_ignored() -> None:
    clock = FakeClock()
    limit = GradientLimit(Bounds(start=4), clock)
    for value in (float("nan"), -1.0, float("inf")):
        clock.advance(2.0)
        for _ in range(5):
            limit.observe(LatencySample(value), FULL)
    assert limit.window.size == 4
    assert limit.floor is None
