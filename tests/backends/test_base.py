"""The adapter contract: fail-open warm/state, counters, one log line per outage, the registry."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pytest

from hermes_agents.backends import (
    AdapterRegistry,
    BackendState,
    FailOpenAdapter,
    LlamaCppAdapter,
    OllamaAdapter,
    ToolAdapter,
    VLLMAdapter,
    WarmResult,
    adapter_for,
    default_registry,
    hint_field,
)
from hermes_agents.backends.httpbase import pick_prefix, root_url
from hermes_agents.errors import ValidationError
from tests.backends.helpers import FakeClock

LOGGER = "hermes_agents.backends"


class Flaky(FailOpenAdapter):
    """Fails while ``broken`` is set; each warm takes 0.5 s of fake time."""

    kind = "flaky"

    def __init__(self, clock: FakeClock) -> None:
        super().__init__("gpu0", clock=clock)
        self.broken = True
        self.fake_clock = clock

    def _warm(self, hint: Any) -> None:
        self.fake_clock.advance(0.5)
        if self.broken:
            raise ConnectionRefusedError("[Errno 111] Connection refused")

    def _state(self) -> BackendState:
        if self.broken:
            raise TimeoutError("timed out")
        return BackendState(awake=True, running=1)


def test_warm_never_raises_and_reports_time_and_reason(clock: FakeClock) -> None:
    adapter = Flaky(clock)
    assert adapter.warm() == WarmResult(
        False, 0.5, "ConnectionRefusedError: [Errno 111] Connection refused"
    )
    adapter.broken = False
    assert adapter.warm() == WarmResult(True, 0.5, None)
    assert adapter.counters.warms == 2
    assert adapter.counters.warm_failures == 1


def test_state_failure_is_unknown_state_and_counted(clock: FakeClock) -> None:
    adapter = Flaky(clock)
    assert adapter.state() == BackendState()
    assert adapter.counters.state_failures == 1
    adapter.broken = False
    assert adapter.state() == BackendState(awake=True, running=1)


def test_one_warning_per_outage(clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    adapter = Flaky(clock)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        for _ in range(3):
            adapter.warm()
        adapter.broken = False
        adapter.warm()
        adapter.broken = True
        adapter.warm()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "'gpu0'" in warnings[0].getMessage()
    assert "works again" in " ".join(r.getMessage() for r in caplog.records)
    counters = adapter.counters
    assert (counters.warm_failures, counters.outages) == (4, 2)
    assert counters.last_error is not None
    assert "refused" in counters.last_error


@dataclass
class Hint:
    """A hint from some other planner version: only some fields."""

    app: str


def test_hint_fields_are_read_with_defaults() -> None:
    assert hint_field(None, "app", "x") == "x"
    assert hint_field(Hint("qa"), "app", None) == "qa"
    assert hint_field(Hint("qa"), "keep_s", 0.0) == 0.0


def test_root_url_accepts_root_and_v1() -> None:
    assert root_url("http://127.0.0.1:8000/v1/") == "http://127.0.0.1:8000"
    assert root_url("https://gpu.example/") == "https://gpu.example"
    with pytest.raises(ValidationError, match=r"field 'base_url'.*http"):
        root_url("localhost:8000")


def test_prefix_for_app_then_shared() -> None:
    assert pick_prefix("qa", "shared", {"qa": "qa prompt"}) == "qa prompt"
    assert pick_prefix("other", "shared", {"qa": "qa prompt"}) == "shared"
    assert pick_prefix(None, None, {}) is None


def test_adapter_for_builds_each_builtin() -> None:
    assert set(default_registry.kinds()) >= {
        "llamacpp", "vllm", "sglang", "ollama", "embeddings", "tools", "sandbox",
    }  # fmt: skip
    vllm = adapter_for("vllm", "http://127.0.0.1:8000/v1", lora={"qa": "/lora/qa"}, name="big")
    assert isinstance(vllm, VLLMAdapter)
    assert (vllm.name, vllm.url, vllm.lora) == ("big", "http://127.0.0.1:8000", {"qa": "/lora/qa"})
    llama = adapter_for("llamacpp", "http://127.0.0.1:8080")
    assert isinstance(llama, LlamaCppAdapter)
    assert llama.name == "llamacpp"
    assert isinstance(adapter_for("ollama", "http://h:11434", model="qwen3"), OllamaAdapter)
    assert isinstance(adapter_for("tools", warm=lambda hint: None), ToolAdapter)
    for adapter in (vllm, llama):
        adapter.close()


def test_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(ValidationError, match=r"unknown adapter 'vlm' \(did you mean 'vllm'\?\)"):
        adapter_for("vlm", "http://h")


def test_unknown_and_missing_options_name_the_field() -> None:
    with pytest.raises(ValidationError, match=r"field 'lorra'.*did you mean 'lora'"):
        adapter_for("vllm", "http://h", lorra={})
    with pytest.raises(ValidationError, match=r"field 'model'.*required"):
        adapter_for("ollama", "http://h")
    with pytest.raises(ValidationError, match="field 'base_url'"):
        adapter_for("vllm", "not a url")
    with pytest.raises(ValidationError, match="exactly one of base_url"):
        adapter_for("tools")


def test_registering_a_custom_adapter(clock: FakeClock) -> None:
    registry = AdapterRegistry()
    registry.register("flaky", lambda clock: Flaky(clock))
    adapter = registry.create("flaky", clock=clock)
    assert adapter.warm().ok is False
    assert registry.kinds() == ("flaky",)
