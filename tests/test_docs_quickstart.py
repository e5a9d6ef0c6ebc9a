"""docs/quickstart.md runs as written: its TOML is the config, its Python blocks run top to bottom
in one namespace against a fake OpenAI-compatible HTTP server, its ``hermes graph`` lines run."""

from __future__ import annotations

import json
import re
import shlex
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from hermes_agents.cli import main
from hermes_agents.scheduling import get_scheduler, set_scheduler

QUICKSTART = Path(__file__).resolve().parents[1] / "docs" / "quickstart.md"
ANSWER = "Hello from the fake server."
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


class _Chat(BaseHTTPRequestHandler):
    """Answers ``/v1/chat/completions`` with one fixed reply and usage (9 in, 12 out)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
        body = json.dumps(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": request.get("model", "any"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": ANSWER},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21},
            }
        ).encode()
        status = 200 if self.path == "/v1/chat/completions" else 404
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def fake_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Chat)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def _blocks(language: str) -> list[str]:
    text = QUICKSTART.read_text(encoding="utf-8")
    return [body for lang, body in BLOCK.findall(text) if lang == language]


def test_quickstart_runs_as_written(
    fake_server: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (config,) = _blocks("toml")
    (tmp_path / "hermes.toml").write_text(config, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HERMES_CONFIG", str(tmp_path / "hermes.toml"))
    monkeypatch.setenv("OPENAI_BASE_URL", fake_server)
    monkeypatch.setenv("OPENAI_API_KEY", "-")
    set_scheduler(None)  # the default scheduler is built from the variables above
    namespace: dict[str, Any] = {"__name__": "quickstart"}
    try:
        for index, block in enumerate(_blocks("python")):
            where = f"quickstart.md python block {index + 1}"
            exec(compile(block, where, "exec", dont_inherit=True), namespace)
        printed = capsys.readouterr().out
        assert get_scheduler().unscheduled_calls == 0  # every call went through the scheduler
        for line in _hermes_lines():
            assert main(shlex.split(line)[1:]) == 0, line
        shown = capsys.readouterr().out
    finally:
        set_scheduler(None)
    assert printed.count(ANSWER) == 2  # the research answer and the chat model's
    learned = namespace["app"].pdgraph
    assert learned.version == 31
    rounded = str({stage: round(p, 2) for stage, p in sorted(learned.successors("plan").items())})
    assert rounded in printed
    assert f"# {rounded}" in QUICKSTART.read_text(encoding="utf-8")  # what the doc shows
    assert "flowchart TD" in printed
    doc = QUICKSTART.read_text(encoding="utf-8")
    table = shown[shown.index("research: PDGraph") :].splitlines()[1:8]
    assert "\n".join(line.rstrip() for line in table) in doc  # the table the doc shows
    assert (tmp_path / "research.png").read_bytes().startswith(b"\x89PNG")


def _hermes_lines() -> list[str]:
    """The ``hermes graph`` commands of the bash blocks (not ``hermes serve``: no daemon here)."""
    lines = []
    for block in _blocks("bash"):
        for line in block.splitlines():
            command = line.split("#", 1)[0].strip()
            if command.startswith("hermes graph"):
                lines.append(command)
    return lines
