"""A 429 with ``Retry-After`` shrinks the ``auto`` window of a real ``hermes serve``: the
OpenAI drop-in of a process whose scheduler is the daemon calls a real HTTP server (a socket,
OpenAI's error body), the client forwards the throttle (protocol op ``throttle``), and the
daemon's window for that backend halves, as ``hermes status --json`` shows. A 503 that says the
model is asleep is a cold start and moves nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

import openai
import pytest

from hermes_agents.openai import OpenAI
from hermes_agents.scheduling.daemon.client import DaemonScheduler
from hermes_agents.scheduling.daemon.connection import query_status
from hermes_agents.scheduling.daemon.process import DaemonProcess
from tests.capacity.local_http import serving
from tests.scheduling.daemon.procs import short_socket_dir
from tests.waiting import wait_for

RATE_LIMITED = {
    "error": {
        "message": "Rate limit reached for requests. Please try again in 7s.",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }
}
"""OpenAI's 429 body (``{"error": {"message", "type", "param", "code"}}``)."""
SLEEPING = {
    "error": {
        "message": "Model is currently in sleep mode. Please wake it up first with a POST "
        "request to /wake_up",
        "type": "ModelSleepingError",
        "code": 503,
    }
}
"""vLLM's answer while asleep (docs/source/features/sleep_mode.md, "Protected Endpoints")."""


class _Refusing(BaseHTTPRequestHandler):
    answers: ClassVar[list[tuple[int, dict[str, Any], dict[str, str]]]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        status, body, headers = self.answers.pop(0)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def api() -> Iterator[str]:
    """A real HTTP server on a local socket that answers what ``_Refusing.answers`` holds."""
    try:
        with serving(_Refusing) as url:
            yield f"{url}/v1"
    finally:
        _Refusing.answers = []


def _call(client: OpenAI) -> openai.APIStatusError:
    with pytest.raises(openai.APIStatusError) as caught:  # the user's own error, untouched
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    return caught.value


def test_a_429_from_a_drop_in_shrinks_the_daemons_window(api: str, tmp_path: Path) -> None:
    config = tmp_path / "hermes.toml"
    config.write_text(
        f'[backends.api]\nkind = "llm"\nmax_concurrency = "auto"\nbase_url = "{api}"\n'
        "[backends.api.auto]\nstart = 8\n",
        encoding="utf-8",
    )
    daemon = DaemonProcess(short_socket_dir() / "hermes.sock", config=config, args=["--no-store"])
    scheduler = DaemonScheduler(daemon.address)
    client = OpenAI(
        api_key="-",
        base_url=api,
        max_retries=0,
        hermes_scheduler=scheduler,
        hermes_backend="api",
    )

    def row() -> dict[str, Any]:
        found: dict[str, Any] = query_status(daemon.address)["backends"][0]
        return found

    try:
        daemon.start()
        assert row()["max_concurrency"] == 8
        _Refusing.answers = [(503, SLEEPING, {}), (429, RATE_LIMITED, {"retry-after": "7"})]
        assert _call(client).status_code == 503  # asleep: a cold start, not overload
        assert _call(client).status_code == 429
        wait_for(lambda: row()["max_concurrency"] == 4, poll_s=0.05, detail=daemon.log)
        state = row()
        assert state["capacity_reason"] == (
            "auto (gradient): 429 from the backend (Retry-After 7 s): halve"
        )  # the 503 moved nothing: the 429 is what cut it
        assert state["running"] == 0  # both slots came back
        assert scheduler.unscheduled_calls == 0
    finally:
        client.close()
        scheduler.close()
        daemon.stop()
