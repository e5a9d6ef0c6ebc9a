"""429 / 503 with ``Retry-After`` read from what calls raise, and carried by the drop-ins and
``Slot`` to an ``auto`` window."""

from __future__ import annotations

import email.utils
from typing import Any

import httpx
import httpx2
import openai
import pytest

from hermes_agents.backends.base import BackendError
from hermes_agents.capacity import AutoBackend, Bounds, CapacityRuntime, GradientLimit, Throttle
from hermes_agents.capacity.throttle import MAX_RETRY_AFTER_S, retry_after_s, throttle_of
from hermes_agents.openai import OpenAI
from hermes_agents.scheduling import BackendLimits, LocalScheduler
from tests.backends.helpers import FakeClock


def _refusal(status: int, headers: dict[str, str]) -> httpx2.Response:
    body = {"error": {"message": "slow down", "type": "rate_limit", "param": None, "code": None}}
    return httpx2.Response(status, json=body, headers=headers)


def test_openai_errors() -> None:
    request = httpx2.Request("POST", "http://api/v1/chat/completions")
    response = httpx2.Response(429, headers={"retry-after": "3"}, request=request)
    error = openai.RateLimitError("slow down", response=response, body=None)
    assert throttle_of(error) == Throttle(429, 3.0)
    response = httpx2.Response(400, request=request)
    assert throttle_of(openai.BadRequestError("no", response=response, body=None)) is None


def test_httpx_and_backend_errors() -> None:
    request = httpx.Request("GET", "http://vllm/metrics")
    response = httpx.Response(503, headers={"Retry-After": "12"}, request=request)
    error = httpx.HTTPStatusError("busy", request=request, response=response)
    assert throttle_of(error) == Throttle(503, 12.0)
    assert throttle_of(BackendError("busy", status=503)) == Throttle(503, None)
    assert throttle_of(ValueError("not an answer")) is None


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"retry-after": "0"}, 0.0),
        ({"retry-after": "-4"}, 0.0),
        ({"retry-after": "1e9"}, MAX_RETRY_AFTER_S),
        ({"retry-after": "nan"}, None),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_values(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_s(httpx.Headers(headers)) == expected


def test_retry_after_as_an_http_date() -> None:
    date = email.utils.formatdate(1_000_030.0, usegmt=True)
    assert retry_after_s(httpx.Headers({"Retry-After": date}), now=lambda: 1_000_000.0) == 30.0


@pytest.mark.parametrize("status", [429, 503])
def test_the_openai_drop_in_reports_a_refusal_to_the_window(status: int) -> None:
    clock = FakeClock()
    scheduler = LocalScheduler.in_process({"api": BackendLimits(8)})
    runtime = CapacityRuntime([AutoBackend("api", GradientLimit(Bounds(start=8), clock))])
    runtime.attach(scheduler.core)
    scheduler.capacity = runtime  # as run_in_process does, without its thread
    runtime.apply = lambda backend, size, why: scheduler.core.set_capacity(backend, size, why)

    def handler(request: httpx2.Request) -> httpx2.Response:
        return _refusal(status, {"retry-after": "4"})

    client = OpenAI(
        api_key="sk-test",
        base_url="http://api/v1",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
        hermes_scheduler=scheduler,
        hermes_backend="api",
    )
    try:
        with pytest.raises(openai.APIStatusError) as caught:  # the user's error, untouched
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
        assert caught.value.status_code == status
        runtime.poll()
        state = scheduler.core.backends["api"]
        assert state.limits.max_concurrency == 4
        assert state.capacity_reason is not None
        assert f"{status} from the backend (Retry-After 4 s)" in state.capacity_reason
        assert not state.running  # the slot came back
    finally:
        scheduler.close()


def test_a_slot_reports_what_its_block_raised() -> None:
    calls: list[tuple[str, int, float | None]] = []

    class Listening(LocalScheduler):
        def throttled(self, backend: str, status: int, retry_after_s: float | None = None) -> Any:
            calls.append((backend, status, retry_after_s))

    base = LocalScheduler.in_process({"tool": BackendLimits(1)})
    scheduler = Listening(base.core)
    with pytest.raises(BackendError), scheduler.slot("tool"):
        raise BackendError("busy", status=503)
    with pytest.raises(KeyError), scheduler.slot("tool"):
        raise KeyError("not a throttle")
    assert calls == [("tool", 503, None)]
    assert not scheduler.core.backends["tool"].running
