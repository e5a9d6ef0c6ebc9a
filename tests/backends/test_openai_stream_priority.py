"""Streamed OpenAI drop-in calls with a priority: a vLLM without priority scheduling refuses it
inside the stream (a 200 whose first event is the error), and the call is sent again without
it, once, with one warning; a vLLM that takes priorities streams as if nothing had been read."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx
import httpx2
import pytest

from hermes_agents.backends.testing import FakeVLLM
from hermes_agents.openai import AsyncOpenAI, OpenAI
from hermes_agents.scheduling import LocalScheduler
from tests.backends.test_engine_priority import (
    MODEL,
    async_bridge,
    client,
    refusal_warnings,
)
from tests.capacity.local_http import serving
from tests.doubles import RecordingModels, capacity_one_scheduler

MESSAGES: Any = [{"role": "user", "content": "hi"}]


@pytest.fixture
def scheduler() -> LocalScheduler:
    return capacity_one_scheduler(RecordingModels())


def _bodies(fake: FakeVLLM) -> list[dict[str, Any]]:
    return [r.body for r in fake.requests if r.method == "POST"]


def test_a_stream_refused_inside_is_sent_again_without_priority(
    scheduler: LocalScheduler, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeVLLM()  # no --scheduling-policy priority
    hinted = client(fake, scheduler, hermes_priority="vllm")
    texts = []
    with scheduler.run("qa"):
        for _ in range(2):
            stream = hinted.chat.completions.create(
                model=MODEL, messages=MESSAGES, stream=True, max_tokens=500
            )
            texts.append("".join(c.choices[0].delta.content or "" for c in stream if c.choices))
        completion = hinted.completions.create(
            model=MODEL, prompt="hi", stream=True, max_tokens=500
        )
        assert [c.choices[0].text for c in completion] == [" ok"]
    assert texts == ["ok", "ok"]
    assert ["priority" in body for body in _bodies(fake)] == [True, False, False, False]
    assert hinted.hermes_priority is None
    assert refusal_warnings(caplog) == 1
    assert not scheduler.core.backends["llm"].running  # the refused response held no slot


def test_a_stream_that_takes_the_priority_reads_as_if_untouched(
    scheduler: LocalScheduler, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeVLLM(scheduling_policy="priority")
    hinted = client(fake, scheduler, hermes_priority="vllm")
    with scheduler.run("qa"):
        stream = hinted.chat.completions.create(
            model=MODEL,
            messages=MESSAGES,
            stream=True,
            max_tokens=500,
            stream_options={"include_usage": True},
        )
        chunks = list(stream)
    assert [c.choices[0].delta.role for c in chunks if c.choices][:1] == ["assistant"]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "ok"
    usage = chunks[-1].usage
    assert usage is not None
    assert usage.completion_tokens == 1
    assert len(_bodies(fake)) == 1
    assert fake.priorities[0] > 0  # the rank went to the engine
    assert hinted.hermes_priority == "vllm"
    assert refusal_warnings(caplog) == 0
    assert not scheduler.core.backends["llm"].running


def test_the_async_client_sends_a_refused_stream_again(
    scheduler: LocalScheduler, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeVLLM()
    hinted = AsyncOpenAI(
        api_key="-",
        base_url="http://engine/v1",
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=async_bridge(fake)),
        hermes_scheduler=scheduler,
        hermes_priority="vllm",
    )

    async def stream() -> str:
        chunks = await hinted.chat.completions.create(
            model=MODEL, messages=MESSAGES, stream=True, max_tokens=500
        )
        return "".join([c.choices[0].delta.content or "" async for c in chunks if c.choices])

    with scheduler.run("qa"):
        assert asyncio.run(stream()) == "ok"
    assert ["priority" in body for body in _bodies(fake)] == [True, False]
    assert hinted.hermes_priority is None
    assert refusal_warnings(caplog) == 1
    assert not scheduler.core.backends["llm"].running


@pytest.fixture
def served() -> Iterator[tuple[FakeVLLM, str]]:
    """The vLLM fake behind a real HTTP server on a local socket: bodies arrive as a stream,
    event by event (the path a real vLLM takes), not as one read answer."""
    fake = FakeVLLM()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            content = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            url = f"http://engine{self.path}"
            answer = fake.handle(httpx.Request("POST", url, content=content))
            self.send_response(answer.status_code)
            self.send_header("Content-Type", answer.headers["content-type"])
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for event in answer.content.split(b"\n\n")[:-1]:  # one chunk per event
                data = event + b"\n\n"
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with serving(Handler) as url:
        yield fake, f"{url}/v1"


def test_over_a_real_socket_the_first_event_is_read_and_put_back(
    served: tuple[FakeVLLM, str], scheduler: LocalScheduler, caplog: pytest.LogCaptureFixture
) -> None:
    fake, url = served
    hinted = OpenAI(
        api_key="-", base_url=url, max_retries=0, hermes_scheduler=scheduler, hermes_priority="vllm"
    )
    try:
        with scheduler.run("qa"):
            refused = hinted.chat.completions.create(
                model=MODEL, messages=MESSAGES, stream=True, max_tokens=500
            )
            assert [c.choices[0].delta.content for c in refused if c.choices] == ["", "ok", None]
            fake.scheduling_policy = "priority"  # restarted with priority scheduling
            hinted.hermes_priority = "vllm"
            taken = hinted.chat.completions.create(
                model=MODEL, messages=MESSAGES, stream=True, max_tokens=500
            )
            assert [c.choices[0].delta.content for c in taken if c.choices] == ["", "ok", None]
    finally:
        hinted.close()
    assert ["priority" in body for body in _bodies(fake)] == [True, False, True]
    assert refusal_warnings(caplog) == 1
    assert not scheduler.core.backends["llm"].running
