"""The fakes themselves speak the real protocols (checked with a plain HTTP client)."""

from __future__ import annotations

import httpx
import pytest

from hermes_agents.backends.prometheus import parse_metrics, total
from hermes_agents.backends.testing import FakeOllama, FakeSGLang, FakeVLLM
from tests.backends.helpers import FakeClock


def _client(transport: httpx.MockTransport) -> httpx.Client:
    return httpx.Client(base_url="http://fake", transport=transport)


def test_vllm_sleep_endpoints_and_protected_routes() -> None:
    fake = FakeVLLM()
    with _client(fake.transport()) as client:
        assert client.get("/is_sleeping").json() == {"is_sleeping": False}
        assert client.post("/sleep", params={"level": 2}).status_code == 200
        assert client.get("/is_sleeping").json() == {"is_sleeping": True}
        body = {"model": fake.model, "prompt": "hi", "max_tokens": 1}
        assert client.post("/v1/completions", json=body).status_code == 503
        assert client.post("/wake_up", params={"tags": "weights"}).status_code == 200
        assert client.get("/is_sleeping").json() == {"is_sleeping": True}  # KV cache still off
        assert client.post("/wake_up").status_code == 200
        reply = client.post("/v1/completions", json=body).json()
        assert reply["usage"]["completion_tokens"] == 1
        assert client.get("/no/such/route").status_code == 404


def test_vllm_lora_errors_have_openai_shape() -> None:
    fake = FakeVLLM(dev_mode=False)
    with _client(fake.transport()) as client:
        assert client.post("/sleep").status_code == 404  # no VLLM_SERVER_DEV_MODE
        missing = client.post("/v1/load_lora_adapter", json={"lora_name": "a"})
        assert missing.status_code == 400
        assert missing.json()["error"]["type"] == "InvalidUserInput"
        ok = client.post("/v1/load_lora_adapter", json={"lora_name": "a", "lora_path": "/a"})
        assert ok.text == "Success: LoRA adapter 'a' added successfully."
        cards = client.get("/v1/models").json()["data"]
        assert [(c["id"], c["parent"]) for c in cards] == [(fake.model, None), ("a", fake.model)]


def test_vllm_metrics_are_prometheus_text() -> None:
    fake = FakeVLLM(engines=2, waiting=1, running=2, kv_usage=0.5)
    with _client(fake.transport()) as client:
        text = client.get("/metrics").text
    assert "# TYPE vllm:num_requests_waiting gauge" in text
    assert 'vllm:num_requests_running{engine="1",model_name="' in text
    assert total(parse_metrics(text), "vllm:num_requests_waiting") == 2.0


def test_sglang_dies_on_a_resume_of_memory_it_did_not_release() -> None:
    fake = FakeSGLang()
    with _client(fake.transport()) as client:
        assert client.post("/resume_memory_occupation", json={"tags": None}).status_code == 500
        assert fake.crashed
        with pytest.raises(httpx.ConnectError):
            client.get("/health")


def test_ollama_load_ps_and_unload(clock: FakeClock) -> None:
    fake = FakeOllama(clock=clock)
    with _client(fake.transport()) as client:
        loaded = client.post("/api/generate", json={"model": "llama3.2", "keep_alive": "10m"})
        assert loaded.json()["done_reason"] == "load"
        (card,) = client.get("/api/ps").json()["models"]
        assert card["name"] == "llama3.2:latest"
        assert card["expires_at"].endswith("Z")
        unloaded = client.post("/api/generate", json={"model": "llama3.2", "keep_alive": 0})
        assert unloaded.json()["done_reason"] == "unload"
        assert client.get("/api/ps").json() == {"models": []}
        missing = client.post("/api/generate", json={"model": "nope"})
        assert (missing.status_code, missing.json()) == (404, {"error": "model 'nope' not found"})


def test_fail_status_breaks_every_route() -> None:
    fake = FakeOllama()
    fake.fail_status = 500
    with _client(fake.transport()) as client:
        assert client.get("/api/ps").status_code == 500
    assert fake.paths() == ["/api/ps"]
