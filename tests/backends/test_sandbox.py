"""The real process-pool tool sandbox: cold starts, warm(), idle stop, crashes, its adapter."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from hermes_agents.backends import (
    BackendState,
    SandboxAdapter,
    SandboxCrashError,
    ToolSandbox,
    adapter_for,
)
from hermes_agents.errors import HermesError, ValidationError
from tests.backends import sandbox_tools
from tests.backends.helpers import FakeClock, hint

pytestmark = pytest.mark.slow


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[ToolSandbox]:
    """Two workers; idle ones stop after 30 fake seconds (reaped only when the test says)."""
    with ToolSandbox(
        workers=2,
        warmup_s=0.05,
        imports=["json"],
        idle_stop_s=30,
        import_main=False,
        reap_every_s=None,
        clock=clock,
    ) as sandbox:
        yield sandbox


def test_first_call_is_cold_and_the_next_reuses_the_worker(sandbox: ToolSandbox) -> None:
    assert sandbox.call(sandbox_tools.square, 7) == 49
    first = sandbox.call(sandbox_tools.worker_pid)
    assert sandbox.call(sandbox_tools.worker_pid) == first
    assert first != os.getpid()
    stats = sandbox.stats
    assert (stats.worker_starts, stats.cold_calls, stats.calls, stats.live) == (1, 1, 3, 1)


def test_warm_starts_the_workers_ahead_of_the_calls(sandbox: ToolSandbox) -> None:
    assert sandbox.warm() == 2
    assert sandbox.stats.live == 2
    assert sandbox.warm() == 0  # already warm: nothing to start
    assert sandbox.call(sandbox_tools.square, 3) == 9
    stats = sandbox.stats
    assert (stats.worker_starts, stats.cold_calls) == (2, 0)


def test_idle_workers_stop_and_the_next_call_is_cold_again(
    sandbox: ToolSandbox, clock: FakeClock
) -> None:
    sandbox.warm()
    clock.advance(29)
    assert sandbox.reap() == 0
    sandbox.warm(1)  # a keep-awake: touches the idle workers, starts nothing
    clock.advance(29)
    assert sandbox.reap() == 0
    clock.advance(1)
    assert sandbox.reap() == 2
    assert sandbox.stats.live == 0
    sandbox.call(sandbox_tools.square, 2)
    stats = sandbox.stats
    assert (stats.idle_stops, stats.worker_starts, stats.cold_calls) == (2, 3, 1)


def test_a_worker_crash_mid_call_is_counted_and_recovered(sandbox: ToolSandbox) -> None:
    before = sandbox.call(sandbox_tools.worker_pid)
    with pytest.raises(SandboxCrashError, match="died"):
        sandbox.call(sandbox_tools.crash)
    after = sandbox.call(sandbox_tools.worker_pid)
    assert after != before
    stats = sandbox.stats
    assert (stats.crashes, stats.worker_starts, stats.live) == (1, 2, 1)


def test_a_worker_killed_while_idle_is_replaced_transparently(sandbox: ToolSandbox) -> None:
    pid = sandbox.call(sandbox_tools.worker_pid)
    os.kill(pid, signal.SIGKILL)
    assert _wait_exited(pid)
    assert sandbox.call(sandbox_tools.square, 5) == 25
    assert sandbox.stats.crashes == 1


def _wait_exited(pid: int, timeout_s: float = 10.0) -> bool:
    """Wait until ``pid`` has exited (a zombie or gone), as a crash leaves it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        except OSError:
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.01)
    return False


def test_tool_exceptions_pass_through_unwrapped(sandbox: ToolSandbox) -> None:
    with pytest.raises(ValueError, match="bad input"):
        sandbox.call(sandbox_tools.fail, "bad input")
    assert sandbox.call(sandbox_tools.square, 4) == 16  # the worker survived
    assert sandbox.stats.crashes == 0


def test_unpicklable_calls_fail_before_taking_a_worker(sandbox: ToolSandbox) -> None:
    with pytest.raises(Exception, match=r"pickle|Pickl"):
        sandbox.call(lambda: 1)
    assert sandbox.stats.worker_starts == 0


def test_failing_start_up_is_reported(clock: FakeClock) -> None:
    with ToolSandbox(
        workers=1, imports=["no_such_module_here"], import_main=False, reap_every_s=None
    ) as sandbox:
        with pytest.raises(HermesError, match=r"failed to start.*no_such_module_here"):
            sandbox.call(sandbox_tools.square, 1)
        assert sandbox.stats.live == 0


def test_adapter_warms_and_reports_state(sandbox: ToolSandbox) -> None:
    adapter = adapter_for("sandbox", sandbox=sandbox, name="code_exec")
    assert isinstance(adapter, SandboxAdapter)
    assert adapter.state() == BackendState(awake=False, waiting=0, running=0)
    result = adapter.warm(hint("code_feedback", backend="code_exec"))
    assert result.ok
    assert adapter.state() == BackendState(awake=True, waiting=0, running=0)
    adapter.close()  # leaves the sandbox to its owner
    assert sandbox.call(sandbox_tools.square, 6) == 36
    assert sandbox.stats.cold_calls == 0


def test_closed_sandbox_refuses_and_adapter_fails_open(sandbox: ToolSandbox) -> None:
    sandbox.close()
    with pytest.raises(HermesError, match="closed"):
        sandbox.call(sandbox_tools.square, 1)
    result = SandboxAdapter(sandbox).warm()
    assert result.ok is False
    assert result.error == "HermesError: the tool sandbox is closed"


def test_bad_settings_name_the_field() -> None:
    with pytest.raises(ValidationError, match="field 'workers'"):
        ToolSandbox(workers=0)
    with pytest.raises(ValidationError, match="field 'idle_stop_s'"):
        ToolSandbox(idle_stop_s=-1)


def test_concurrent_calls_share_at_most_workers_processes(sandbox: ToolSandbox) -> None:
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda x: sandbox.call(sandbox_tools.square, x), range(12)))
    assert results == [x * x for x in range(12)]
    stats = sandbox.stats
    assert stats.worker_starts <= 2
    assert (stats.calls, stats.live, stats.busy, stats.waiting) == (12, stats.worker_starts, 0, 0)


def test_close_stops_the_worker_processes(clock: FakeClock) -> None:
    sandbox = ToolSandbox(workers=2, import_main=False, reap_every_s=None, clock=clock)
    sandbox.warm()
    pids = [sandbox.call(sandbox_tools.worker_pid) for _ in range(2)]
    sandbox.close()
    assert all(_wait_exited(pid) for pid in pids)


def test_example_tools_defined_in_a_main_script(tmp_path: Path) -> None:
    # examples/tool_sandbox.py defines its tool in __main__: workers import the script as
    # multiprocessing's spawn does, and a warmed sandbox serves without a cold start.
    script = Path(__file__).parents[2] / "examples" / "tool_sandbox.py"
    out = tmp_path / "figures.json"
    command = [sys.executable, str(script), "--warmup-s", "0", "--json", str(out)]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    figures = json.loads(out.read_text())
    assert figures["cold_calls_without_warm"] == 1
    assert figures["cold_calls_after_warm"] == 0
    assert figures["workers_started_by_warm"] == 2


def test_the_background_reaper_stops_idle_workers() -> None:
    with ToolSandbox(workers=1, idle_stop_s=0.05, reap_every_s=0.02, import_main=False) as box:
        box.call(sandbox_tools.square, 1)
        deadline = time.monotonic() + 10
        while box.stats.live and time.monotonic() < deadline:
            time.sleep(0.01)
        assert box.stats.live == 0
        assert box.stats.idle_stops == 1
