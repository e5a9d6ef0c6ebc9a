"""Ordering quality across hosts: each policy with the single scheduler, then with its apps
spread over hosts a coordinator round trip away (``hermes bench --hosts N
--coordinator-rtt-ms X,Y,...``; the model is ``hermes_agents.sim.hosts``).

For one seed every configuration serves the same apps (``run_bench``'s fairness), so a row's
change against the single scheduler is what the round trip costs, nothing else.

>>> from hermes_agents.sim.bench import run_bench
>>> spec = HostsBenchSpec("paper-mix", ("gittins",), apps=20, hosts=10, rtts_ms=(1.0, 20.0))
>>> rows = hosts_rows(run_bench(spec), 1.0)
>>> [(row.hosts, row.rtt_ms) for row in rows]
[(1, 0.0), (10, 1.0), (10, 20.0)]
>>> rows[0].mean_change
0.0
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

from hermes_agents.sim.bench import BenchSpec
from hermes_agents.sim.hosts import Hosts
from hermes_agents.sim.metrics import Pooled, pool
from hermes_agents.sim.simulator import SimConfig, SimResult

__all__ = ["DEFAULT_HOSTS", "DEFAULT_RTTS_MS", "HostsBenchSpec", "HostsRow", "hosts_rows"]

DEFAULT_HOSTS = 100
"""Hosts when only ``--coordinator-rtt-ms`` is given."""

DEFAULT_RTTS_MS = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0)
"""Round trips when only ``--hosts`` is given: loopback, one zone, across zones, far away."""


@dataclass(frozen=True)
class HostsBenchSpec(BenchSpec):
    """A ``BenchSpec`` whose every combination also runs over ``hosts`` hosts at each round
    trip of ``rtts_ms`` (after the single scheduler, the baseline).

    Attributes:
        hosts: hosts the apps are spread over.
        rtts_ms: coordinator round trips, milliseconds.
    """

    hosts: int = DEFAULT_HOSTS
    rtts_ms: tuple[float, ...] = DEFAULT_RTTS_MS

    @classmethod
    def of(cls, spec: BenchSpec, hosts: int, rtts_ms: tuple[float, ...]) -> HostsBenchSpec:
        """``spec`` with the hosts and round trips added."""
        fields = {f.name: getattr(spec, f.name) for f in dataclasses.fields(BenchSpec)}
        return cls(**fields, hosts=hosts, rtts_ms=rtts_ms)

    def layouts(self) -> list[Hosts]:
        """The single scheduler, then each round trip over ``hosts`` hosts (validated)."""
        spread = [Hosts(self.hosts, rtt_ms / 1000) for rtt_ms in self.rtts_ms]
        return [Hosts(), *(layout for layout in spread if not layout.single)]

    def configs(self, seed: int) -> list[SimConfig]:
        """Every configuration of one seed: ``BenchSpec``'s, each in every layout."""
        return [
            dataclasses.replace(config, hosts=layout)
            for config in super().configs(seed)
            for layout in self.layouts()
        ]


@dataclass(frozen=True)
class HostsRow:
    """One line of the comparison: a policy in one layout, all seeds pooled.

    Attributes:
        policy: the policy.
        prewarm: the prewarming mode.
        hosts: hosts the apps ran on (1 with no round trip: the single scheduler).
        rtt_ms: the coordinator round trip.
        pooled: every app of the seeds' runs.
        mean_change: the mean ACT's change against the single scheduler (0.05 = 5% higher).
        p95_change: the same for the p95.
    """

    policy: str
    prewarm: str
    hosts: int
    rtt_ms: float
    pooled: Pooled
    mean_change: float
    p95_change: float


def hosts_rows(results: Iterable[SimResult], load: float) -> list[HostsRow]:
    """The rows of one load: per (policy, prewarm), the single scheduler, then each layout."""
    by_layout: dict[Hosts, list[SimResult]] = {}
    for result in results:
        if result.config.load == load:
            by_layout.setdefault(result.config.hosts, []).append(result)
    pooled = {layout: pool(runs) for layout, runs in by_layout.items()}
    single = pooled.get(Hosts(), {})
    rows = []
    for key, base in single.items():
        for layout, groups in pooled.items():
            row = groups.get(key)
            if row is None:
                continue
            rows.append(
                HostsRow(
                    key[0],
                    key[1],
                    layout.count,
                    layout.rtt_ms,
                    row,
                    _change(row.summary.mean_s, base.summary.mean_s),
                    _change(row.summary.p95_s, base.summary.p95_s),
                )
            )
    return rows


def _change(value: float, baseline: float) -> float:
    """How much higher ``value`` is than ``baseline``, as a fraction (negative: lower)."""
    return value / baseline - 1.0 if baseline > 0 else 0.0
