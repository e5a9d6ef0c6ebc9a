"""``hermes check``: one line per check, exit status 1 on an error; a real daemon, and backends
that are local HTTP servers on 127.0.0.1 (one answering, one refusing connections)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from hermes_agents import settings
from hermes_agents.cli import main
from tests.scheduling.daemon.procs import Daemon, short_socket_dir

pytestmark = pytest.mark.timeout(120)


def _check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, str]]:
    """The exit status and each check's ``level: message``, from ``hermes check --json``."""
    status = main(["check", "--json", *argv])
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is (status == 0)
    return status, {c["check"]: f"{c['level']}: {c['message']}" for c in report["checks"]}


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hermes.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A loopback port bound but not listening: connecting is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def _serve(routes: Mapping[str, tuple[int, bytes]]) -> ThreadingHTTPServer:
    """A local HTTP server answering ``routes`` (path -> status, JSON body), 404 elsewhere."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = routes.get(self.path, (404, b"{}"))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_a_clean_environment_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("ok      HERMES_SCHEDULER: unset")
    assert any(line.startswith("ok      scheduler: in process") for line in lines)
    assert any("profile store" in line and "does not exist yet" in line for line in lines)
    assert lines[-1] == "hermes check: 0 errors, 0 warnings"
    assert not Path(settings.data_dir()).exists()  # checking made nothing


@pytest.mark.parametrize("address", ["http://127.0.0.1:7461", "unix://relative.sock", "tcp://h"])
def test_a_bad_scheduler_address_is_an_error_naming_the_variable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, address: str
) -> None:
    monkeypatch.setenv("HERMES_SCHEDULER", address)
    status, checks = _check(capsys)
    assert status == 1
    assert checks["HERMES_SCHEDULER"].startswith("error: environment variable 'HERMES_SCHEDULER'")
    assert "scheduler" not in checks  # none can be named until the variable is fixed


@pytest.mark.parametrize("via", ["HERMES_CONFIG", "--config"])
def test_a_bad_config_file_is_an_error_naming_file_table_and_field(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    via: str,
) -> None:
    path = _config(tmp_path, '[backends.llm]\nkind = "llm"\nmax_concurency = 2\n')
    if via == "HERMES_CONFIG":
        monkeypatch.setenv("HERMES_CONFIG", str(path))
        status, checks = _check(capsys)
    else:
        status, checks = _check(capsys, "--config", str(path))
    assert status == 1
    message = checks["config"]
    assert message.startswith(f"error: {path}, backends.llm: unknown key(s) 'max_concurency'")
    assert "(did you mean 'max_concurrency'?)" in message


def test_an_unknown_policy_is_an_error_and_the_backends_are_still_probed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, refused_port: int
) -> None:
    text = '[scheduler]\npolicy = "gitins"\n[backends.llm]\nkind = "llm"\n'
    text += f'base_url = "http://127.0.0.1:{refused_port}"\n'
    status, checks = _check(capsys, "--config", str(_config(tmp_path, text)))
    assert status == 1
    assert (
        "scheduler, 'policy': unknown policy 'gitins' (did you mean 'gittins'?)"
        in (checks["config"])
    )
    assert checks["backend llm"].startswith("warning: ")


def test_a_daemon_is_found_and_probed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = short_socket_dir()
    (runtime / "hermes").mkdir(mode=0o700)
    daemon = Daemon(runtime / "hermes").start()  # on the default socket of XDG_RUNTIME_DIR
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    try:
        assert settings.default_socket_path() == daemon.socket
        status, checks = _check(capsys)
        assert status == 0, checks
        assert checks["scheduler"] == f"ok: the daemon on the default socket {daemon.socket}"
        assert checks["daemon"].startswith("ok: hermes-agents ")
        assert "policy gittins" in checks["daemon"]
        monkeypatch.setenv("HERMES_SCHEDULER", daemon.address)
        status, checks = _check(capsys)
        assert status == 0, checks
        assert checks["scheduler"] == f"ok: the daemon at {daemon.address} (HERMES_SCHEDULER)"
        assert checks["daemon"].startswith("ok: ")
    finally:
        daemon.stop()
        shutil.rmtree(runtime, ignore_errors=True)


def test_a_daemon_that_does_not_answer_is_an_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HERMES_SCHEDULER", f"unix://{tmp_path}/none.sock")
    status, checks = _check(capsys)
    assert status == 1
    assert checks["daemon"].startswith(f"error: cannot connect to unix://{tmp_path}/none.sock")
    assert "calls run unscheduled" in checks["daemon"]


def test_a_tcp_daemon_needs_a_private_token_file(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, refused_port: int
) -> None:
    monkeypatch.delenv("HERMES_SCHEDULER_TOKEN", raising=False)
    monkeypatch.setenv("HERMES_SCHEDULER", f"tcp://127.0.0.1:{refused_port}")
    status, checks = _check(capsys)
    assert status == 1
    assert "does not exist" in checks["token"]
    token = settings.token_path()
    token.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    token.write_text("s3cret\n", encoding="utf-8")
    token.chmod(0o644)
    status, checks = _check(capsys)
    assert status == 1
    assert checks["token"].startswith("error: no token for the TCP daemon (the token file is ")
    assert f"chmod 600 {token}" in checks["token"]
    token.chmod(0o600)
    status, checks = _check(capsys)
    assert checks["token"] == f"ok: from {token}"
    assert checks["daemon"].startswith("error: cannot connect")  # nothing listens there


def test_a_broken_profile_store_is_an_error_naming_the_file(
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = settings.data_dir() / "profiles.sqlite3"
    store.parent.mkdir(parents=True)
    store.write_bytes(b"not a database")
    status, checks = _check(capsys)
    assert status == 1
    assert checks["profile store"].startswith(f"error: profile store '{store}': is not an SQLite")


def test_a_backend_that_refuses_connections_is_a_warning(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, refused_port: int
) -> None:
    url = f"http://127.0.0.1:{refused_port}"
    text = f'[backends.llm]\nkind = "llm"\nbase_url = "{url}"\nidle_sleep_s = 60\n'
    status, checks = _check(capsys, "--config", str(_config(tmp_path, text)))
    assert status == 0
    message = checks["backend llm"]
    assert message.startswith(f"warning: cannot reach {url}/health (")
    assert "fix base_url in [backends.llm]" in message
    assert "may be asleep" in message


def test_a_backend_served_locally_is_ok(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    models = json.dumps({"object": "list", "data": [{"id": "smol"}]}).encode()
    server = _serve({"/v1/models": (200, models)})
    loading = _serve({"/v1/health": (503, b'{"error": "loading model"}')})
    try:
        text = (
            f'[backends.llm]\nkind = "llm"\nbase_url = "http://127.0.0.1:{server.server_port}"\n'
            f'[backends.emb]\nkind = "embedding"\n'
            f'base_url = "http://127.0.0.1:{loading.server_port}/v1"\n'
        )
        status, checks = _check(capsys, "--config", str(_config(tmp_path, text)))
    finally:
        server.shutdown()
        loading.shutdown()
    assert status == 0
    url = f"http://127.0.0.1:{server.server_port}/v1/models"
    assert checks["backend llm"] == f"ok: {url} answers 200, models: smol"
    assert checks["backend emb"].startswith("warning: ")
    assert "(/v1/health 503, /v1/models 404)" in checks["backend emb"]


def test_the_text_lines_escape_control_characters(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, refused_port: int
) -> None:
    url = f"http://127.0.0.1:{refused_port}"
    text = f'[backends."evil\\u001b[2J"]\nkind = "llm"\nbase_url = "{url}"\n'
    assert main(["check", "--config", str(_config(tmp_path, text))]) == 0
    shown = capsys.readouterr().out
    assert "\x1b" not in shown
    assert "backend evil\\x1b[2J: " in shown


def test_it_needs_no_extra() -> None:
    code = (
        "import sys; sys.modules['rich'] = sys.modules['matplotlib'] = None; "
        "from hermes_agents.cli import main; sys.exit(main(['check']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "hermes check: 0 errors, 0 warnings"
