"""Prewarming across hosts: two hosts that plan the same warm-up of one backend warm it once,
and it is counted once (in the ledger of the host that claimed it); without Redis each warms."""

from __future__ import annotations

import threading
import time

from hermes_agents.backends.base import BackendAdapter, BackendState, WarmResult
from hermes_agents.prewarm import WarmHint, WarmupSpec
from hermes_agents.scheduling.prewarming import Prewarmer
from hermes_agents.scheduling.redis import RedisAddress
from hermes_agents.scheduling.redis.warmups import WarmClaims
from tests.scheduling.redis.conftest import RedisServer


class CountingAdapter(BackendAdapter):
    """Counts warm-ups (shared by the two 'hosts': it stands for one backend)."""

    def __init__(self) -> None:
        self.warmed = 0
        self._lock = threading.Lock()

    def warm(self, hint: WarmHint | None = None) -> WarmResult:
        with self._lock:
            self.warmed += 1
        return WarmResult(ok=True, seconds=0.0)

    def state(self) -> BackendState:
        return BackendState()


SPECS = {"embed": WarmupSpec("embed", warmup_s=2.0, idle_sleep_s=5.0)}


def _hint() -> WarmHint:
    return WarmHint("embed", "rag", "r1", 0.9, 1.0, time.monotonic(), "wake")


def _host(adapter: CountingAdapter, url: str, process: str) -> Prewarmer:
    prewarmer = Prewarmer({"embed": adapter}, SPECS)
    prewarmer.claim = WarmClaims(RedisAddress.parse(url).client(), SPECS, process)
    return prewarmer


def _hints(prewarmer: Prewarmer) -> float:
    return float(prewarmer.snapshot()["total"]["hints"])


def test_one_warm_up_per_backend_and_moment_counted_once(redis_server: RedisServer) -> None:
    adapter = CountingAdapter()
    a, b = _host(adapter, redis_server.url, "a"), _host(adapter, redis_server.url, "b")
    a.apply([_hint()])
    b.apply([_hint()])
    deadline = time.monotonic() + 5
    while adapter.warmed < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    assert adapter.warmed == 1
    assert _hints(a) + _hints(b) == 1
    ttl_ms = redis_server.client().pttl("hermes:{embed}:warm:wake")
    assert 0 < ttl_ms <= 7000  # warm-up 2 s + awake 5 s
    a.close()
    b.close()


def test_without_redis_each_host_warms(redis_server: RedisServer) -> None:
    adapter = CountingAdapter()
    url = redis_server.url
    redis_server.kill()
    a, b = _host(adapter, url, "a"), _host(adapter, url, "b")
    a.apply([_hint()])
    b.apply([_hint()])
    deadline = time.monotonic() + 10
    while adapter.warmed < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert adapter.warmed == 2
    a.close()
    b.close()
