"""A 503 from an engine that is asleep or loading is a cold start, not overload: the ``auto``
window stays where it is (vLLM's ``ModelSleepingError``, llama.cpp's ``Loading model``), while
a 503 for load still halves it."""

from __future__ import annotations

import httpx
import httpx2
import openai
import pytest

from hermes_agents.backends.base import BackendError
from hermes_agents.backends.testing import FakeVLLM
from hermes_agents.capacity import AutoBackend, Bounds, CapacityRuntime, EngineWindow, Throttle
from hermes_agents.capacity.throttle import cold_start, throttle_of
from hermes_agents.openai import OpenAI
from hermes_agents.scheduling import BackendLimits, LocalScheduler
from tests.backends.helpers import FakeClock
from tests.backends.test_engine_priority import bridge

LOADING = {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}
"""llama.cpp server's answer while its model loads (tools/server/utils.hpp, format_error)."""


def _openai_error(status: int, body: object) -> openai.APIStatusError:
    request = httpx2.Request("POST", "http://engine/v1/chat/completions")
    response = httpx2.Response(status, json=body, request=request)
    client = openai.OpenAI(api_key="-", base_url="http://engine/v1")
    return client._make_status_error_from_response(response)


def test_sleeping_and_loading_answers_are_no_throttle() -> None:
    fake = FakeVLLM(sleeping=True)
    asleep = fake.handle(httpx.Request("POST", "http://engine/v1/completions", json={}))
    assert asleep.status_code == 503
    sleeping = _openai_error(503, asleep.json())
    assert cold_start(sleeping)
    assert throttle_of(sleeping) is None
    assert throttle_of(_openai_error(503, LOADING)) is None
    request = httpx.Request("POST", "http://engine/v1/completions")
    plain = httpx.HTTPStatusError("503", request=request, response=asleep)
    assert throttle_of(plain) is None
    assert throttle_of(BackendError("503: ModelSleepingError", status=503)) is None


def test_overload_answers_are_still_throttles() -> None:
    busy = {"error": {"message": "server overloaded", "type": "overloaded", "code": 503}}
    assert throttle_of(_openai_error(503, busy)) == Throttle(503, None)
    # a 429 that mentions sleep is still a rate limit: only a 503 can be a cold start
    assert throttle_of(_openai_error(429, {"error": {"type": "ModelSleepingError"}})) is not None


@pytest.mark.parametrize(("sleeping", "window"), [(True, 8), (False, 4)])
def test_a_sleeping_vllm_leaves_the_window_and_an_overloaded_one_halves_it(
    sleeping: bool, window: int
) -> None:
    clock = FakeClock()
    scheduler = LocalScheduler.in_process({"vllm": BackendLimits(8)})
    runtime = CapacityRuntime([AutoBackend("vllm", EngineWindow(Bounds(start=8), clock))])
    runtime.attach(scheduler.core)
    scheduler.capacity = runtime  # as run_in_process does, without its thread
    runtime.apply = lambda backend, size, why: scheduler.core.set_capacity(backend, size, why)
    fake = FakeVLLM(sleeping=sleeping)
    if not sleeping:
        fake.fail_status = 503  # a server in trouble: every route answers 503
    client = OpenAI(
        api_key="-",
        base_url="http://engine/v1",
        max_retries=0,
        http_client=httpx2.Client(transport=bridge(fake)),
        hermes_scheduler=scheduler,
        hermes_backend="vllm",
    )
    try:
        with pytest.raises(openai.APIStatusError):
            client.completions.create(model=fake.model, prompt="hi", max_tokens=4)
        runtime.poll()
        assert scheduler.core.backends["vllm"].limits.max_concurrency == window
        assert not scheduler.core.backends["vllm"].running  # the slot came back
    finally:
        scheduler.close()
