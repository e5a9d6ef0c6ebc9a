"""Engine-side priority on the real path: config ``enforce``, the drop-ins putting the rank into
the request body, and the vLLM / SGLang fakes honouring it as the engines do today."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from langchain_openai import ChatOpenAI

from hermes_agents.backends.testing import FakeEngine, FakeServer, FakeSGLang, FakeVLLM
from hermes_agents.config import parse_config
from hermes_agents.config_enforce import client_priority
from hermes_agents.errors import ValidationError
from hermes_agents.langchain import HermesChatModel
from hermes_agents.openai import OpenAI
from hermes_agents.priority import MAX_BUCKET, rank_bucket
from hermes_agents.scheduling import LocalScheduler
from tests.doubles import RecordingModels, capacity_one_scheduler

MODEL = FakeVLLM().model


def bridge(fake: FakeServer) -> httpx2.MockTransport:
    """The fake (an ``httpx`` handler) behind the ``httpx2`` transport openai's clients use."""

    def handle(request: httpx2.Request) -> httpx2.Response:
        plain = httpx.Request(
            request.method, str(request.url), headers=dict(request.headers), content=request.read()
        )
        answer = fake.handle(plain)
        return httpx2.Response(answer.status_code, headers=answer.headers, content=answer.content)

    return httpx2.MockTransport(handle)


def async_bridge(fake: FakeServer) -> httpx2.MockTransport:
    """``bridge`` for openai's async clients."""
    sync = bridge(fake)

    async def handle(request: httpx2.Request) -> httpx2.Response:
        await request.aread()
        return sync.handle_request(request)

    return httpx2.MockTransport(handle)


def refusal_warnings(caplog: pytest.LogCaptureFixture) -> int:
    """How many times a drop-in warned that the engine refuses request priorities."""
    return sum("refuses request priorities" in r.getMessage() for r in caplog.records)


@pytest.fixture
def scheduler() -> LocalScheduler:
    return capacity_one_scheduler(RecordingModels())


def client(fake: FakeServer, scheduler: LocalScheduler, **hermes: Any) -> OpenAI:
    return OpenAI(
        api_key="-",
        base_url="http://engine/v1",
        max_retries=0,
        http_client=httpx2.Client(transport=bridge(fake)),
        hermes_scheduler=scheduler,
        **hermes,
    )


def chat_model(fake: FakeServer, scheduler: LocalScheduler, **openai: Any) -> HermesChatModel:
    """The LangChain drop-in (``priority="vllm"``) around a ``ChatOpenAI`` on ``fake``."""
    inner = ChatOpenAI(
        model=MODEL,
        api_key="-",  # type: ignore[arg-type]
        base_url="http://engine/v1",
        http_client=httpx2.Client(transport=bridge(fake)),
        max_retries=0,
        **openai,
    )
    return HermesChatModel(inner=inner, scheduler=scheduler, priority="vllm")


def backend(**fields: Any) -> dict[str, Any]:
    return {"backends": {"llm": {"kind": "llm", "base_url": "http://engine", **fields}}}


# -- config ---------------------------------------------------------------------------------------


def test_enforce_engine_sends_the_adapters_polarity_and_drops_the_window() -> None:
    config = parse_config(backend(adapter="vllm", enforce="engine"))
    llm = config.backends["llm"]
    assert (llm.enforce, llm.priority_polarity) == ("engine", "lower-first")
    assert llm.start_concurrency == 1_000_000
    sglang = parse_config(backend(adapter="sglang", enforce="both", max_concurrency=8))
    assert client_priority(sglang, "llm") == "higher-first"
    assert sglang.backends["llm"].start_concurrency == 8


def test_client_mode_sends_nothing_and_a_polarity_overrides_the_adapters() -> None:
    assert client_priority(parse_config(backend(adapter="vllm", max_concurrency=4)), "llm") is None
    flipped = backend(adapter="sglang", enforce="engine", priority_polarity="lower-first")
    assert client_priority(parse_config(flipped), "llm") == "lower-first"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"enforce": "engnie"}, "did you mean 'engine'"),
        ({"enforce": "engine"}, "set adapter"),
        (
            {"enforce": "client", "priority_polarity": "lower-first"},
            "applies when the rank is sent",
        ),
        ({"enforce": "engine", "priority_polarity": "up"}, "priority_polarity"),
    ],
)
def test_bad_enforce_settings_name_the_field_and_the_fix(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message) as raised:
        parse_config(backend(max_concurrency=4, **fields))
    assert "backends.llm" in str(raised.value)


def test_a_tool_cannot_enforce_in_an_engine() -> None:
    data = {"backends": {"search": {"kind": "tool", "enforce": "engine", "adapter": "vllm"}}}
    with pytest.raises(ValidationError, match="only llm engines"):
        parse_config(data)


# -- the drop-ins put the rank into the body ------------------------------------------------------


def test_the_openai_dropin_sends_the_rank_to_vllm_from_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scheduler: LocalScheduler
) -> None:
    path = tmp_path / "hermes.toml"
    path.write_text(
        '[backends.llm]\nkind = "llm"\nadapter = "vllm"\nbase_url = "http://engine"\n'
        'enforce = "engine"\n'
    )
    monkeypatch.setenv("HERMES_CONFIG", str(path))
    fake = FakeVLLM(scheduling_policy="priority")
    with scheduler.run("qa"):
        client(fake, scheduler).completions.create(model=MODEL, prompt="hi", max_tokens=500)
    body = fake.requests[-1].body
    # a one-call app without a model is ranked by its call's estimate (500 tokens: 30 s)
    assert body["priority"] == fake.priorities[0] == rank_bucket(30.0)


def test_a_vllm_without_priority_scheduling_never_breaks_the_call(
    scheduler: LocalScheduler, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeVLLM()  # started without --scheduling-policy priority: 400 for a priority
    hinted = client(fake, scheduler, hermes_priority="vllm")
    with scheduler.run("qa"):
        for _ in range(2):
            reply = hinted.completions.create(model=MODEL, prompt="hi", max_tokens=500)
            assert reply.choices[0].text == " ok"
    bodies = [r.body for r in fake.requests if r.path == "/v1/completions"]
    assert ["priority" in body for body in bodies] == [True, False, False]
    assert hinted.hermes_priority is None  # it stopped sending one, and said why once
    assert sum("refuses request priorities" in r.message for r in caplog.records) == 1
    assert running(scheduler) == 0


def running(scheduler: LocalScheduler) -> int:
    return len(scheduler.core.backends["llm"].running)


def test_sglang_gets_the_higher_first_mirror(scheduler: LocalScheduler) -> None:
    vllm, sglang = FakeVLLM(scheduling_policy="priority"), FakeSGLang()
    messages: Any = [{"role": "user", "content": "hi"}]
    with scheduler.run("qa"):
        client(vllm, scheduler, hermes_priority="vllm").chat.completions.create(
            model=MODEL, messages=messages
        )
        client(sglang, scheduler, hermes_priority="sglang").chat.completions.create(
            model=MODEL, messages=messages
        )
    assert sglang.priorities[0] == MAX_BUCKET - vllm.priorities[0]


def test_the_langchain_dropin_puts_it_into_extra_body(scheduler: LocalScheduler) -> None:
    fake = FakeVLLM(scheduling_policy="priority")
    model = chat_model(fake, scheduler, extra_body={"top_k": 5})
    with scheduler.run("qa"):
        assert model.invoke("hi").content == "ok"
        model.invoke("hi", extra_body={"priority": 3})  # the caller's own wins
    body = next(r.body for r in fake.requests if r.path == "/v1/chat/completions")
    assert body["top_k"] == 5
    assert isinstance(body["priority"], int)
    assert fake.priorities[-1] == 3


# -- the fakes order and preempt as the engines do ------------------------------------------------


def test_vllm_orders_its_queue_lower_first_and_a_full_batch_never_preempts() -> None:
    engine = FakeEngine(max_num_seqs=1, order="lower-first")
    engine.add("long", tokens=10, work_s=5.0, priority=rank_bucket(600.0))
    engine.add("late", tokens=10, work_s=1.0, priority=rank_bucket(60.0))
    engine.add("short", tokens=10, work_s=1.0, priority=rank_bucket(1.0))
    assert engine.preempted == []
    assert [engine.advance(5.0), engine.advance(1.0), engine.advance(1.0)] == [
        ["long"],
        ["short"],
        ["late"],
    ]


def test_vllm_preempts_the_lowest_priority_under_kv_pressure_only() -> None:
    engine = FakeEngine(max_num_seqs=4, kv_cache_tokens=100, order="lower-first")
    engine.add("urgent", tokens=40, work_s=1.0, priority=1)
    engine.add("bulk", tokens=40, work_s=1.0, priority=9)
    engine.grow("urgent", 30)  # 110 tokens > 100: the worse one goes back to the queue
    assert engine.preempted == ["bulk"]
    assert (engine.running, engine.waiting) == (1, 1)


def test_fcfs_vllm_preempts_the_last_admitted_and_requeues_it_first() -> None:
    engine = FakeEngine(max_num_seqs=4, kv_cache_tokens=100)
    for name in ("first", "second"):
        engine.add(name, tokens=40, work_s=1.0)
    engine.add("third", tokens=70, work_s=1.0)  # waits: 150 tokens would not fit
    engine.grow("first", 25)
    assert engine.preempted == ["second"]
    assert engine.advance(1.0) == ["first"]
    assert engine.advance(1.0) == ["second"]  # from the front, before the older waiting one


def test_sglang_preempts_for_a_waiting_request_beyond_its_threshold() -> None:
    engine = FakeEngine(max_num_seqs=1, order="higher-first", preempt_threshold=10)
    engine.add("bulk", tokens=10, work_s=5.0, priority=MAX_BUCKET - rank_bucket(600.0))
    engine.add("close", tokens=10, work_s=1.0, priority=MAX_BUCKET - rank_bucket(500.0))
    assert engine.preempted == []  # 2 buckets better: within the threshold
    engine.add("urgent", tokens=10, work_s=1.0, priority=MAX_BUCKET - rank_bucket(1.0))
    assert engine.preempted == ["bulk"]
    assert engine.advance(1.0) == ["urgent"]


def test_the_langchain_dropin_fails_open_when_vllm_refuses_priorities(
    scheduler: LocalScheduler,
) -> None:
    fake = FakeVLLM()  # no --scheduling-policy priority
    model = chat_model(fake, scheduler)
    with scheduler.run("qa"):
        assert model.invoke("hi", max_tokens=500).content == "ok"
        assert model.invoke("hi", max_tokens=500).content == "ok"
    bodies = [r.body for r in fake.requests if r.path == "/v1/chat/completions"]
    assert ["priority" in body for body in bodies] == [True, False, False]
    assert model.priority is None
