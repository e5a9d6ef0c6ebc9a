"""Apps spread over several hosts that share one coordinator (Redis) a round trip away.

With ``HERMES_SCHEDULER=redis://...`` every host's calls are ordered by one queue per backend
in Redis. The simulator models what the distance to it costs: an app's messages (its run
starting, each stage visit's submissions, each release with its usage, its end) reach the
shared order half a round trip after the host sends them, and a grant decided there reaches
the host half a round trip after it was decided; only then does the call start. So each slot
is idle for one round trip per call (grant on its way, release on its way back), and the order
is decided on state that is half a round trip old: a short app's submission still in flight
cannot overtake the ticket granted meanwhile.

Every host is the same round trip away and its messages keep their order (one connection per
host), so with these delays the number of hosts changes only which host an app runs on (apps
go to hosts in turn); what it changes in production, the load on Redis, is what
``benchmarks/redis_scheduler.py`` measures. ``Hosts()`` (one host, no round trip) is the single
scheduler: the simulator then runs exactly as without this module.

>>> Hosts(100, 0.001).one_way_s
0.0005
>>> Hosts().single
True
>>> rtts_ms("0.1,1,20")
(0.1, 1.0, 20.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from hermes_agents.errors import ValidationError
from hermes_agents.sim.events import EventLoop

MAX_HOSTS = 1_000_000
"""The most hosts a simulation takes (one app per host is the useful maximum anyway)."""

MAX_RTT_MS = 10_000.0
"""The longest coordinator round trip a simulation takes (10 s: far beyond any network)."""

Message = Callable[[], None]
"""A message between a host and the coordinator: what happens when it arrives."""


@dataclass(frozen=True)
class Hosts:
    """How apps are spread over hosts and how far the shared scheduler is from each.

    Attributes:
        count: hosts the apps run on (app ``i`` runs on host ``i % count``).
        rtt_s: round trip between any host and the coordinator, seconds (0: in process).
    """

    count: int = 1
    rtt_s: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.count, bool) or not isinstance(self.count, int):
            raise ValidationError(f"must be a whole number, got {self.count!r}", "--hosts")
        if not 1 <= self.count <= MAX_HOSTS:
            raise ValidationError(f"must be in 1..{MAX_HOSTS:,}, got {self.count}", "--hosts")
        if not (math.isfinite(self.rtt_s) and 0 <= self.rtt_s * 1000 <= MAX_RTT_MS):
            raise ValidationError(
                f"must be a number of milliseconds in 0..{MAX_RTT_MS:g}, got "
                f"{self.rtt_s * 1000!r}; e.g. --coordinator-rtt-ms 0.1,1,20",
                "--coordinator-rtt-ms",
            )

    @property
    def one_way_s(self) -> float:
        """Seconds a message takes from a host to the coordinator or back."""
        return self.rtt_s / 2

    @property
    def single(self) -> bool:
        """One host, no round trip: the single scheduler."""
        return self.count == 1 and self.rtt_s == 0

    @property
    def rtt_ms(self) -> float:
        """The round trip in milliseconds."""
        return self.rtt_s * 1000

    def host_of(self, app_index: int) -> int:
        """The host app number ``app_index`` runs on."""
        return app_index % self.count


class Link:
    """The hosts' connections to the coordinator on the simulator's clock.

    ``send(message)`` delivers a message half a round trip from now, in sending order (one
    connection per host, and every host is equally far); with no round trip, at once.

    >>> loop = EventLoop()
    >>> link = Link(loop, Hosts(2, 0.004))
    >>> seen = []
    >>> link.send(lambda: seen.append(loop.now))
    >>> loop.run()
    >>> seen
    [0.002]
    """

    __slots__ = ("delay_s", "loop", "messages")

    def __init__(self, loop: EventLoop, hosts: Hosts) -> None:
        self.loop = loop
        self.delay_s = hosts.one_way_s
        self.messages = 0
        """Messages that travelled with a delay."""

    def send(self, message: Message) -> None:
        """Deliver ``message`` after the one-way delay (now, when there is none)."""
        if self.delay_s == 0:
            message()
            return
        self.messages += 1
        self.loop.at(self.loop.now + self.delay_s, message)


def rtts_ms(text: str) -> tuple[float, ...]:
    """Parse ``--coordinator-rtt-ms`` (comma-separated milliseconds, each checked)."""
    values: list[float] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            value = float(part)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and 0 <= value <= MAX_RTT_MS):
            raise ValidationError(
                f"{part!r} is not a number of milliseconds in 0..{MAX_RTT_MS:g}; "
                "e.g. --coordinator-rtt-ms 0.1,1,20",
                "--coordinator-rtt-ms",
            )
        values.append(value)
    if not values:
        raise ValidationError(
            "needs at least one round trip in ms; e.g. --coordinator-rtt-ms 0.1,1,20",
            "--coordinator-rtt-ms",
        )
    return tuple(dict.fromkeys(values))
