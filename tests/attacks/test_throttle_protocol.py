"""The daemon's ``throttle`` op (a client's 429/503 for an ``auto`` window): every field is
checked at the boundary, a bad one is an answer naming the field, and a flood of good ones
cuts the window once per ``Retry-After`` with bounded memory (issue 18)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from hermes_agents.capacity import AutoBackend, Bounds, CapacityRuntime, GradientLimit
from hermes_agents.capacity.runtime import MAX_PENDING
from hermes_agents.scheduling import BackendLimits, SchedulerCore
from hermes_agents.scheduling.daemon.client import DaemonScheduler
from hermes_agents.scheduling.daemon.protocol import ProtocolError, decode, encode
from hermes_agents.scheduling.daemon.service import DaemonService
from hermes_agents.scheduling.policies import policy_named
from hermes_agents.scheduling.state import UNLIMITED
from tests.backends.helpers import FakeClock

BAD = [
    (b'{"op":"throttle","backend":"api","status":429,"retry_after_s":NaN}', "must be finite"),
    (b'{"op":"throttle","backend":"api","status":429,"retry_after_s":Infinity}', "finite"),
    (b'{"op":"throttle","backend":"api","status":429,"retry_after_s":-Infinity}', "finite"),
    (b'{"op":"throttle","backend":"api","status":429,"retry_after_s":1e308}', "<= 3600"),
    (b'{"op":"throttle","backend":"api","status":429,"retry_after_s":-1}', ">= 0.0"),
    (b'{"op":"throttle","backend":"api","status":429,"retry_after_s":"7"}', "int or float"),
    (b'{"op":"throttle","backend":"api","status":429,"retry_after_s":true}', "int or float"),
    (b'{"op":"throttle","backend":"api","status":500}', "must be 429 or 503"),
    (b'{"op":"throttle","backend":"api","status":200}', ">= 429"),
    (b'{"op":"throttle","backend":"api","status":1e308}', "must be int"),
    (b'{"op":"throttle","backend":"api","status":429.0}', "must be int"),
    (b'{"op":"throttle","backend":"api"}', "'status' is required"),
    (b'{"op":"throttle","status":429}', "'backend' is required"),
    (b'{"op":"throttle","backend":"\\u001b[2J","status":429}', "backend"),
    (b'{"op":"throttle","backend":"api","status":429,"task":1}', "unknown field"),
]


@pytest.mark.parametrize(("line", "problem"), BAD, ids=range(len(BAD)))
def test_bad_throttles_are_refused_naming_the_field(line: bytes, problem: str) -> None:
    with pytest.raises(ProtocolError, match="field") as caught:
        decode(line)
    assert problem in str(caught.value)


def _daemon(start: int = 8) -> tuple[DaemonService, CapacityRuntime, FakeClock]:
    clock = FakeClock()
    core = SchedulerCore(
        {"api": BackendLimits(start), "fixed": BackendLimits(2)},
        policy_named("gittins"),
        clock,
        default_limits=UNLIMITED,
    )
    runtime = CapacityRuntime(
        [AutoBackend("api", GradientLimit(Bounds(start=start), clock))], clock=clock
    )
    runtime.attach(core)
    runtime.apply = lambda backend, size, why: core.set_capacity(backend, size, why)
    service = DaemonService(core)
    service.capacity = runtime
    return service, runtime, clock


def _session(service: DaemonService, sent: list[bytes]) -> Any:
    session = service.open(sent.append, lambda: None, needs_token=False)
    service.receive(session, b'{"op":"hello","version":1}')
    service.flush()
    return session


def _answers(sent: list[bytes]) -> list[dict[str, Any]]:
    return [json.loads(line) for chunk in sent for line in chunk.splitlines()]


def test_a_bad_throttle_is_answered_and_moves_nothing() -> None:
    service, runtime, _ = _daemon()
    sent: list[bytes] = []
    session = _session(service, sent)
    for line, _problem in BAD:
        service.receive(session, line)
    service.flush()
    errors = [a for a in _answers(sent) if a["op"] == "error"]
    assert len(errors) == len(BAD)
    assert not any(error["fatal"] for error in errors)  # the session keeps working
    assert not runtime.backends["api"].pending
    assert service.core.backends["api"].limits.max_concurrency == 8


def test_a_flood_of_throttles_halves_once_per_retry_after_with_bounded_memory() -> None:
    service, runtime, clock = _daemon(start=64)
    sent: list[bytes] = []
    session = _session(service, sent)
    line = b'{"op":"throttle","backend":"api","status":429,"retry_after_s":2}'
    for _ in range(10 * MAX_PENDING):
        service.receive(session, line)
    service.receive(session, b'{"op":"throttle","backend":"fixed","status":503}')
    service.receive(session, b'{"op":"throttle","backend":"nowhere","status":503}')
    assert len(runtime.backends["api"].pending) == MAX_PENDING  # bounded between two polls
    runtime.poll()
    assert service.core.backends["api"].limits.max_concurrency == 32  # one episode: one cut
    clock.advance(2.5)  # the Retry-After period is over: the next episode cuts again
    service.receive(session, line)
    runtime.poll()
    assert service.core.backends["api"].limits.max_concurrency == 16
    assert service.core.backends["fixed"].limits.max_concurrency == 2  # a fixed cap stays
    service.flush()
    assert not [a for a in _answers(sent) if a["op"] == "error"]  # unknown backend: ignored


@pytest.mark.parametrize("retry_after_s", [float("nan"), float("inf"), -5.0, 1e308])
def test_the_client_sends_only_numbers_the_daemon_accepts(retry_after_s: float) -> None:
    lines: list[bytes] = []

    class Wire:
        alive = True
        pid = os.getpid()

        def send(self, message: dict[str, Any]) -> bool:
            lines.append(encode(message))
            return True

    scheduler = DaemonScheduler("unix:///nonexistent/hermes.sock")
    scheduler._connection = Wire()  # type: ignore[assignment]
    scheduler.throttled("api", 429, retry_after_s)
    scheduler.throttled("api", 500, 1.0)  # no throttle status: nothing sent
    (line,) = lines
    message = decode(line[:-1])  # accepted by the daemon's own decoder
    assert message["status"] == 429
    assert message.get("retry_after_s") in (None, 0.0, 3600.0)


def test_the_documented_example_is_a_valid_throttle() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "daemon.md").read_text("utf-8")
    (example,) = [line for line in docs.splitlines() if line.startswith('{"op": "throttle"')]
    assert decode(example.encode()) == json.loads(example)
