"""``hermes serve``: the socket path it listens on is absolute, and it prints the exact
``export HERMES_SCHEDULER=...`` line that clients accept."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hermes_agents import settings
from hermes_agents.cli import main
from hermes_agents.commands.serve import export_lines, socket_path
from hermes_agents.scheduling.daemon.server import Listen

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A fresh directory with a path short enough for a Unix socket."""
    with tempfile.TemporaryDirectory(prefix="hermes-", dir="/tmp") as name:
        yield Path(name)


def test_a_relative_socket_is_taken_from_the_current_directory(
    short_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(short_dir)
    assert socket_path(Path("relative.sock")) == short_dir / "relative.sock"
    assert socket_path(Path("a/../b.sock")) == short_dir / "b.sock"
    assert socket_path(None) == settings.default_socket_path()
    monkeypatch.setenv("HOME", str(short_dir))
    assert socket_path(Path("~/h.sock")) == short_dir / "h.sock"


def test_the_export_line_is_a_valid_address(monkeypatch: pytest.MonkeyPatch) -> None:
    listen = Listen(socket_path=Path("/tmp/x/hermes.sock"))
    (line,) = export_lines(listen).splitlines()
    assert line == "export HERMES_SCHEDULER=unix:///tmp/x/hermes.sock"
    monkeypatch.setenv("HERMES_SCHEDULER", line.split("=", 1)[1])
    assert settings.scheduler_address() == "unix:///tmp/x/hermes.sock"
    with_tcp = export_lines(Listen(socket_path=Path("/tmp/x/hermes.sock"), tcp_port=7461))
    assert with_tcp.splitlines()[1] == ("# or by TCP: export HERMES_SCHEDULER=tcp://127.0.0.1:7461")
    assert len(export_lines(Listen(Path("/tmp/x/h.sock"), tcp_port=0)).splitlines()) == 1


def _serve(directory: Path, *flags: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "hermes_agents.cli", "serve", "--no-store", *flags]
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        command,
        cwd=directory,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_listening(path: Path, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(os.fspath(path))
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
        time.sleep(0.05)


def test_serve_on_a_relative_socket_prints_the_absolute_export_line(short_dir: Path) -> None:
    daemon = _serve(short_dir, "--socket", "relative.sock")
    try:
        assert daemon.stdout is not None
        line = daemon.stdout.readline().strip()
        assert line == f"export HERMES_SCHEDULER=unix://{short_dir / 'relative.sock'}"
        _wait_listening(short_dir / "relative.sock")
    finally:
        daemon.terminate()
        daemon.wait(timeout=20)
    assert not (short_dir / "relative.sock").exists()  # removed on a clean stop


def test_a_failed_start_leaves_no_socket_behind(short_dir: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        daemon = _serve(short_dir, "--socket", "h.sock", "--metrics-port", str(port))
        _, error = daemon.communicate(timeout=30)
    assert daemon.returncode == 2
    assert f"cannot serve metrics on 127.0.0.1:{port}" in error
    assert not (short_dir / "h.sock").exists()


def test_print_export_names_the_socket_without_serving(
    short_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(short_dir)
    assert main(["serve", "--print-export", "--socket", "h.sock"]) == 0
    assert capsys.readouterr().out == f"export HERMES_SCHEDULER=unix://{short_dir / 'h.sock'}\n"
    assert not (short_dir / "h.sock").exists()
    assert main(["serve", "--print-export"]) == 0
    default = settings.default_scheduler_address()
    assert capsys.readouterr().out == f"export HERMES_SCHEDULER={default}\n"
