"""LlamaServer's process handling: clear start errors, no leftover processes in any exit path."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hermes_agents.errors import HermesError
from hermes_agents.local import LlamaServer

pytestmark = pytest.mark.slow


def _gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (a zombie nobody reaped counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status


def _wait_gone(pid: int, timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _gone(pid):
            return True
        time.sleep(0.05)
    return False


def test_a_missing_model_file_fails_before_starting(tmp_path: Path) -> None:
    server = LlamaServer(tmp_path / "absent.gguf")
    with pytest.raises(HermesError, match="does not exist"):
        server.start()
    assert server.pid is None


def test_a_bad_model_fails_with_the_servers_log(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a gguf file" * 100)
    server = LlamaServer(bad)
    with pytest.raises(HermesError, match="exited with status 1") as caught:
        server.start()
    assert "failed to load model" in str(caught.value)
    assert server.pid is None
    assert server.log_path is None  # the temporary log went with the process


def test_the_process_group_is_killed_when_the_with_block_raises(model_path: Path) -> None:
    server = LlamaServer(model_path, slots=1, ctx_tokens=256)
    pids: list[int | None] = []

    def app() -> None:
        with server:
            pids.append(server.pid)
            raise RuntimeError("app failed")

    with pytest.raises(RuntimeError, match="app failed"):
        app()
    pid = pids[0]
    assert pid is not None
    assert server.pid is None
    assert not server.is_running()
    assert _gone(pid)
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)
    server.stop()  # idempotent


def test_a_killed_server_is_seen_and_stop_is_safe(model_path: Path) -> None:
    with LlamaServer(model_path, slots=1, ctx_tokens=256) as server:
        pid = server.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)  # a real crash
        deadline = time.monotonic() + 30
        while server.is_running() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not server.is_running()
    assert server.pid is None


def test_the_server_dies_with_the_process_that_started_it(model_path: Path) -> None:
    script = (
        "import sys, time\n"
        "from hermes_agents.local import LlamaServer\n"
        "server = LlamaServer(sys.argv[1], slots=1, ctx_tokens=256).start()\n"
        "print(server.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script, str(model_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        server_pid = int(parent.stdout.readline())
        parent.kill()  # SIGKILL: no finally, no atexit, no finalizer runs in the parent
        parent.wait()
        assert _wait_gone(server_pid)
    finally:
        parent.kill()
        parent.wait()


def test_start_twice_is_refused(model_path: Path) -> None:
    with LlamaServer(model_path, slots=1, ctx_tokens=256) as server:
        with pytest.raises(HermesError, match="already started"):
            server.start()
        assert server.is_running()
