"""Tool adapters: a user callable or an HTTP hook receiving the hint."""

from __future__ import annotations

import json

import httpx

from hermes_agents.backends import BackendState, ToolAdapter
from tests.backends.helpers import hint


def test_callable_gets_the_hint_and_may_fail() -> None:
    seen: list[object] = []

    def warm(given: object) -> None:
        seen.append(given)
        if len(seen) == 2:
            raise RuntimeError("docker daemon not running")

    adapter = ToolAdapter(warm=warm, state=lambda: BackendState(awake=True), name="sandbox")
    first = hint("code_feedback")
    assert adapter.warm(first).ok
    result = adapter.warm()
    assert result.ok is False
    assert result.error == "RuntimeError: docker daemon not running"
    assert seen == [first, None]
    assert adapter.state().awake is True
    assert adapter.counters.warm_failures == 1


def test_hook_receives_the_hint_as_json() -> None:
    bodies: list[dict[str, object]] = []

    def hook(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/hooks/warm"
        bodies.append(json.loads(request.content))
        return httpx.Response(204 if len(bodies) == 1 else 503)

    transport = httpx.MockTransport(hook)
    with ToolAdapter("http://tools:9000/hooks/warm", name="search", transport=transport) as adapter:
        assert adapter.warm(hint("factool_kbqa", backend="search", keep_s=5.0)).ok
        failed = adapter.warm()
    assert bodies[0] == {
        "backend": "search",
        "app": "factool_kbqa",
        "run_id": "run-1",
        "probability": 0.9,
        "expected_in_s": 2.0,
        "issued_at_s": 0.0,
        "action": "wake",
        "keep_s": 5.0,
    }
    assert bodies[1]["backend"] == "search"  # no hint: the adapter's name, nulls elsewhere
    assert bodies[1]["app"] is None
    assert failed.ok is False
    assert failed.error is not None
    assert "503" in failed.error
