"""Several hosts on one machine: Linux network namespaces joined by veth links to a bridge.

``Network(hosts=3)`` makes a hub namespace holding a bridge on a private /24 (Redis runs there,
at ``redis_ip``) and one namespace per host, each joined to the bridge by its own veth pair.
``spawn(host, argv)`` runs a process inside a host (``ip netns exec``); ``cut(host)`` takes the
host's link down at the hub end (a black hole: the host keeps its route and its packets are
dropped, as with a pulled cable or a partition), ``mend(host)`` brings it back. ``close()``
kills every process it started (each in its own process group) and deletes the namespaces
(their veth ends go with them), whatever state a test left them in; namespaces left by a
killed earlier run (their pid is gone) are deleted on the next start.

Filesystem paths are shared by every namespace, so Unix sockets (the backend recorder, Redis'
own socket for the test's checks) reach every host whatever happens to the links.

Needs root and ``ip`` with netns support; ``unavailable()`` says why not, for a skip.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "hermes-t"
"""Namespace names: ``hermes-t<pid>-hub``, ``hermes-t<pid>-h<i>``."""

COMMAND_TIMEOUT_S = 10.0


def unavailable() -> str | None:
    """Why network namespaces cannot be used here, or None when they can."""
    if os.geteuid() != 0:
        return "network namespaces need root (CI runs these tests as root)"
    if shutil.which("ip") is None:
        return "the 'ip' command (iproute2) is not installed"
    probe = f"{PREFIX}{os.getpid()}-probe"
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"'ip netns add' failed: {made.stderr.strip() or made.returncode}"
    _ip("netns", "delete", probe, check=False)
    return None


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``ip ARGS``; with ``check``, a failure raises with ip's own message."""
    done = subprocess.run(
        ["ip", *args], capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def delete_stale() -> list[str]:
    """Delete namespaces of earlier runs whose process is gone; return their names."""
    listed = _ip("netns", "list", check=False).stdout.split("\n")
    stale = []
    for line in listed:
        name = line.split(" ", 1)[0]
        owner = name.removeprefix(PREFIX).split("-", 1)[0]
        if name.startswith(PREFIX) and owner.isdigit() and not _pid_alive(int(owner)):
            _ip("netns", "delete", name, check=False)
            stale.append(name)
    return stale


@dataclass
class Host:
    """One host: its namespace, its end of the link, and its address."""

    name: str
    namespace: str
    veth: str
    hub_veth: str
    ip: str


@dataclass
class Network:
    """A hub namespace with a bridge and ``hosts`` host namespaces (see the module docstring).

    Use as a context manager, or call ``close()``; a failure while building closes what was
    built so far.
    """

    hosts: int = 3
    subnet: str = field(default_factory=lambda: f"10.213.{os.getpid() % 250}")
    _tag: str = field(default_factory=lambda: f"{os.getpid() % 100_000}")
    members: dict[str, Host] = field(default_factory=dict)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    hub: str = ""

    def __post_init__(self) -> None:
        delete_stale()
        self.hub = f"{PREFIX}{os.getpid()}-hub"
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    @property
    def redis_ip(self) -> str:
        """The hub's address on the bridge (where Redis listens)."""
        return f"{self.subnet}.1"

    def _build(self) -> None:
        _ip("netns", "add", self.hub)
        self._in(self.hub, "link", "set", "lo", "up")
        self._in(self.hub, "link", "add", "br0", "type", "bridge")
        self._in(self.hub, "addr", "add", f"{self.redis_ip}/24", "dev", "br0")
        self._in(self.hub, "link", "set", "br0", "up")
        for index in range(self.hosts):
            self._add_host(index)

    def _add_host(self, index: int) -> None:
        name = "ABCDEFGHIJ"[index]
        host = Host(
            name=name,
            namespace=f"{PREFIX}{os.getpid()}-h{index}",
            veth=f"hv{self._tag}h{index}",
            hub_veth=f"hv{self._tag}b{index}",
            ip=f"{self.subnet}.{10 + index}",
        )
        self.members[name] = host
        _ip("netns", "add", host.namespace)
        _ip("link", "add", host.veth, "type", "veth", "peer", "name", host.hub_veth)
        _ip("link", "set", host.veth, "netns", host.namespace)
        _ip("link", "set", host.hub_veth, "netns", self.hub)
        self._in(self.hub, "link", "set", host.hub_veth, "master", "br0", "up")
        self._in(host.namespace, "link", "set", "lo", "up")
        self._in(host.namespace, "addr", "add", f"{host.ip}/24", "dev", host.veth)
        self._in(host.namespace, "link", "set", host.veth, "up")

    @staticmethod
    def _in(namespace: str, *args: str) -> None:
        _ip("-n", namespace, *args)

    def host(self, name: str) -> Host:
        """The host called ``name`` ("A", "B", ...)."""
        return self.members[name]

    def spawn(
        self,
        where: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        stdout: int | None = subprocess.PIPE,
        log: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start ``argv`` in host ``where`` ("A", ...) or in the hub ("hub"); ``log`` takes
        its stderr. The process gets its own process group (``close`` kills the group)."""
        namespace = self.hub if where == "hub" else self.members[where].namespace
        stderr = log.open("ab") if log is not None else subprocess.DEVNULL
        try:
            process = subprocess.Popen(
                ["ip", "netns", "exec", namespace, *argv],
                env=dict(env) if env is not None else None,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
            )
        finally:
            if log is not None and not isinstance(stderr, int):
                stderr.close()
        self.processes.append(process)
        return process

    def cut(self, name: str) -> None:
        """Take host ``name``'s link down at the hub end (its packets vanish)."""
        self._in(self.hub, "link", "set", self.members[name].hub_veth, "down")

    def mend(self, name: str) -> None:
        """Bring host ``name``'s link back up."""
        self._in(self.hub, "link", "set", self.members[name].hub_veth, "up")

    @staticmethod
    def pause(process: subprocess.Popen[bytes]) -> None:
        """Stop the process's group (SIGSTOP): a hung host, until ``resume``."""
        os.killpg(process.pid, signal.SIGSTOP)

    @staticmethod
    def resume(process: subprocess.Popen[bytes]) -> None:
        """Let a paused process group run on (SIGCONT)."""
        os.killpg(process.pid, signal.SIGCONT)

    @staticmethod
    def kill(process: subprocess.Popen[bytes]) -> None:
        """``kill -9`` the process's whole group, and reap it."""
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        try:
            process.wait(timeout=COMMAND_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=COMMAND_TIMEOUT_S)
        for stream in (process.stdout, process.stdin):
            if stream is not None:
                stream.close()

    def close(self) -> None:
        """Kill every process started here and delete every namespace (idempotent)."""
        for process in self.processes:
            self.kill(process)
        self.processes.clear()
        for host in self.members.values():
            _ip("netns", "delete", host.namespace, check=False)
        if self.hub:
            _ip("netns", "delete", self.hub, check=False)
        self.members.clear()

    def __enter__(self) -> Network:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def namespaces() -> list[str]:
    """Every namespace this harness could have made (for a test that nothing leaks)."""
    listed = _ip("netns", "list", check=False).stdout.split("\n")
    return [line.split(" ", 1)[0] for line in listed if line.startswith(PREFIX)]
