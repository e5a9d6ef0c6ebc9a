"""The vLLM adapter against the protocol-faithful fake: sleep/wake, LoRA, KV prefix, metrics."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from hermes_agents.backends import BackendError, BackendState, VLLMAdapter
from hermes_agents.backends.testing import FakeVLLM
from tests.backends.helpers import hint


@pytest.fixture
def fake() -> FakeVLLM:
    return FakeVLLM(model="meta-llama/Llama-3.2-1B")


def make(fake: FakeVLLM, **options: Any) -> VLLMAdapter:
    return VLLMAdapter("http://gpu:8000/v1", transport=fake.transport(), **options)


@pytest.fixture
def adapter(fake: FakeVLLM) -> Iterator[VLLMAdapter]:
    with make(fake) as adapter:
        assert isinstance(adapter, VLLMAdapter)
        yield adapter


def test_sleep_wake_cycles(fake: FakeVLLM, adapter: VLLMAdapter) -> None:
    for _ in range(2):
        adapter.sleep(level=1)
        assert fake.sleeping
        assert fake.sleep_level == 1
        assert adapter.state().awake is False
        result = adapter.warm()
        assert result.ok
        assert not fake.sleeping
        assert adapter.state().awake is True
    wakes = [r for r in fake.requests if r.path == "/wake_up"]
    assert len(wakes) == 2
    assert wakes[0].params == {}  # no tags: wake everything


def test_warm_on_an_awake_server_does_not_call_wake_up(
    fake: FakeVLLM, adapter: VLLMAdapter
) -> None:
    assert adapter.warm().ok
    assert fake.paths("POST") == []
    assert fake.paths("GET") == ["/is_sleeping"]


def test_wake_tags_are_repeated_query_parameters(fake: FakeVLLM) -> None:
    with make(fake, wake_tags=["weights"]) as adapter:
        fake.sleeping, fake.asleep_tags = True, {"weights", "kv_cache"}
        assert adapter.warm().ok
    (wake,) = [r for r in fake.requests if r.path == "/wake_up"]
    assert wake.params == {"tags": ["weights"]}
    assert fake.asleep_tags == {"kv_cache"}  # only the weights came back


def test_sleep_level_two(fake: FakeVLLM, adapter: VLLMAdapter) -> None:
    adapter.sleep(level=2)
    assert fake.requests[-1].params == {"level": ["2"]}
    assert fake.sleep_level == 2


def test_lora_for_the_hinted_app_is_loaded_once(fake: FakeVLLM) -> None:
    with make(fake, lora={"qa": "/adapters/qa"}) as adapter:
        assert adapter.warm(hint("qa")).ok
        assert adapter.warm(hint("qa")).ok
        assert adapter.warm(hint("other")).ok
    loads = [r for r in fake.requests if r.path == "/v1/load_lora_adapter"]
    assert [r.body for r in loads] == [{"lora_name": "qa", "lora_path": "/adapters/qa"}]
    assert fake.loras == {"qa": "/adapters/qa"}


def test_lora_already_loaded_by_someone_else_counts_as_loaded(fake: FakeVLLM) -> None:
    with make(fake) as adapter:
        adapter.load_lora("qa", "/adapters/qa")
        adapter.load_lora("qa", "/adapters/qa")  # 400 "has already been loaded": fine
        adapter.unload_lora("qa")
        assert fake.loras == {}
        with pytest.raises(BackendError, match=r"404.*cannot be found"):
            adapter.unload_lora("qa")


def test_missing_lora_path_fails_the_warm_without_raising(fake: FakeVLLM) -> None:
    fake.lora_paths = {"/adapters/real"}
    with make(fake, lora={"qa": "/adapters/typo"}) as adapter:
        result = adapter.warm(hint("qa"))
    assert not result.ok
    assert result.error is not None
    assert "404" in result.error
    assert "No adapter found" in result.error


def test_kv_warm_up_is_one_token_carrying_the_prefix(fake: FakeVLLM) -> None:
    prefixes = {"qa": "You answer questions about the Hermes paper."}
    with make(
        fake, lora={"qa": "/adapters/qa"}, prefix="shared system prompt", prefixes=prefixes
    ) as adapter:
        fake.sleep_level, fake.sleeping = 1, True
        assert adapter.warm(hint("qa")).ok
        assert adapter.warm(hint("search")).ok
    completions = [r.body for r in fake.requests if r.path == "/v1/completions"]
    assert completions == [
        {"model": "qa", "prompt": prefixes["qa"], "max_tokens": 1, "temperature": 0.0},
        {
            "model": "meta-llama/Llama-3.2-1B",  # discovered from /v1/models
            "prompt": "shared system prompt",
            "max_tokens": 1,
            "temperature": 0.0,
        },
    ]
    # order matters: wake first (a sleeping vLLM answers 503), then LoRA, then the prefix
    order = fake.paths("POST")
    assert order[:3] == ["/wake_up", "/v1/load_lora_adapter", "/v1/completions"]


def test_warm_priority_is_sent_only_when_configured(fake: FakeVLLM) -> None:
    with make(fake, prefix="p", warm_priority=10) as adapter:
        adapter.warm()
    assert fake.requests[-1].body["priority"] == 10


@pytest.mark.parametrize(
    ("kv_metrics", "engines"),
    [
        (("vllm:kv_cache_usage_perc",), 1),
        (("vllm:gpu_cache_usage_perc",), 1),  # before vLLM 0.9
        (("vllm:gpu_cache_usage_perc", "vllm:kv_cache_usage_perc"), 2),  # 0.9-0.10: both
    ],
)
def test_metrics_parse_both_kv_names(kv_metrics: tuple[str, ...], engines: int) -> None:
    fake = FakeVLLM(
        kv_metrics=kv_metrics, engines=engines, waiting=3, running=5, kv_usage=0.42, preemptions=2
    )
    with make(fake) as adapter:
        state = adapter.state()
    assert state == BackendState(
        awake=True, waiting=3 * engines, running=5 * engines, kv_usage=0.42, preemptions=2 * engines
    )


def test_server_without_dev_mode_is_never_asleep(fake: FakeVLLM) -> None:
    fake.dev_mode = False
    with make(fake, prefix="p") as adapter:
        assert adapter.warm().ok
        assert adapter.state().awake is True
        with pytest.raises(BackendError, match="404"):
            adapter.is_sleeping()


def test_sleep_mode_off_skips_the_sleep_endpoints(fake: FakeVLLM) -> None:
    with make(fake, sleep_mode=False) as adapter:
        assert adapter.warm().ok
        adapter.state()
    assert "/is_sleeping" not in fake.paths()


def test_api_key_is_sent(fake: FakeVLLM) -> None:
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization"))
        return fake.handle(request)

    transport = httpx.MockTransport(handler)
    with VLLMAdapter("http://gpu:8000", api_key="sk-1", transport=transport) as adapter:
        adapter.warm()
    assert seen == ["Bearer sk-1"]
