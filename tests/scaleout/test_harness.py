"""The several-hosts harness itself: hosts reach Redis over their links, a cut link is a black
hole, and nothing is left behind (namespaces, processes) after a test, even one that fails."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.scaleout.conftest import REDIS_PORT, HubRedis, skip_reason
from tests.scaleout.netns import Network, namespaces

PROBE = (
    "import socket, sys\n"
    "try:\n"
    "    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()\n"
    "    print('reached')\n"
    "except OSError as error:\n"
    "    print(type(error).__name__)\n"
)


def reach(net: Network, host: str) -> str:
    """What a TCP connect from ``host`` to Redis gives: 'reached' or the error's name."""
    process = net.spawn(host, [sys.executable, "-c", PROBE, net.redis_ip, str(REDIS_PORT)])
    out, _ = process.communicate(timeout=10)
    return out.decode().strip()


def test_hosts_reach_redis_until_their_link_is_cut(hub_redis: HubRedis) -> None:
    net = hub_redis.net
    assert [reach(net, host) for host in "ABC"] == ["reached"] * 3
    net.cut("B")
    assert [reach(net, host) for host in "ABC"] == ["reached", "TimeoutError", "reached"]
    net.mend("B")  # (its first connect may wait out a neighbour entry that failed meanwhile)
    assert any(reach(net, "B") == "reached" for _ in range(5))


def test_close_kills_the_processes_and_deletes_the_namespaces() -> None:
    reason = skip_reason()
    if reason is not None:
        pytest.skip(reason)
    mine = f"-t{os.getpid()}-"
    seen: list[int] = []

    def failing_test() -> subprocess.Popen[bytes]:
        with Network(hosts=2) as net:
            sleeper = net.spawn("A", ["sleep", "600"], stdout=subprocess.DEVNULL)
            seen.append(sum(mine in name for name in namespaces()))
            processes.append(sleeper)
            raise RuntimeError("a failing test")

    processes: list[subprocess.Popen[bytes]] = []
    with pytest.raises(RuntimeError, match="a failing test"):
        failing_test()
    (sleeper,) = processes
    assert seen == [3]  # the hub and two hosts existed
    assert sleeper.returncode is not None  # killed and reaped
    assert not [name for name in namespaces() if mine in name]
