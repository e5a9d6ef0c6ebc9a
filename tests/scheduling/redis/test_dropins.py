"""The drop-ins work unchanged on ``HERMES_SCHEDULER=redis://...``: ``@tool`` functions in
three 'hosts' (processes) share one capacity of 1, checked at the 'backend' (a file each call
appends its start and end to), and ``async`` callers are served too."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import hermes_agents
from hermes_agents.scheduling import default
from hermes_agents.scheduling.redis.scheduler import RedisScheduler
from tests.scheduling.redis.conftest import RedisServer

ROOT = Path(__file__).resolve().parents[3]
HOST = textwrap.dedent(
    """
    import sys, time
    import hermes_agents

    @hermes_agents.tool(backend="search")
    def search(log):
        with open(log, "a") as out:
            out.write(f"start {time.monotonic()}\\n")
        time.sleep(0.01)
        with open(log, "a") as out:
            out.write(f"end {time.monotonic()}\\n")

    for _ in range(10):
        search(sys.argv[1])
    from hermes_agents.scheduling.default import get_scheduler
    print(type(get_scheduler()).__name__, get_scheduler().unscheduled_calls)
    """
)


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "hermes.toml"
    config.write_text('[backends.search]\nkind = "tool"\nmax_concurrency = 1\n')
    return config


def test_tool_calls_of_three_hosts_never_overlap(redis_server: RedisServer, tmp_path: Path) -> None:
    log = tmp_path / "backend.log"
    env = {
        **os.environ,
        "HERMES_SCHEDULER": redis_server.url,
        "HERMES_CONFIG": str(_config(tmp_path)),
    }
    hosts = [
        subprocess.Popen(
            [sys.executable, "-c", HOST, str(log)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [host.communicate(timeout=60)[0].strip() for host in hosts]
    assert outputs == ["RedisScheduler 0"] * 3
    events = [line.split() for line in log.read_text().splitlines()]
    events.sort(key=lambda event: float(event[1]))  # one machine: one monotonic clock
    kinds = [kind for kind, _ in events]
    assert kinds == ["start", "end"] * 30  # never two calls at the backend at once
    assert redis_server.client().hget("hermes:{search}:meta", "granted") == "30"


def test_async_tool_calls_are_scheduled(
    redis_server: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HERMES_SCHEDULER", redis_server.url)
    monkeypatch.setenv("HERMES_CONFIG", str(_config(tmp_path)))
    default.set_scheduler(None)
    running = 0
    most = 0

    @hermes_agents.tool(backend="search")
    async def search() -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.01)
        running -= 1

    async def main() -> None:
        await asyncio.gather(*(search() for _ in range(8)))

    try:
        asyncio.run(main())
        scheduler = default.get_scheduler()
        assert isinstance(scheduler, RedisScheduler)
        assert most == 1
        assert scheduler.unscheduled_calls == 0
    finally:
        default.set_scheduler(None)
