"""``SimConfig``: what one simulation run is given (checked when it is made)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import get_args

from hermes_agents.cost import FanoutMode
from hermes_agents.errors import ValidationError
from hermes_agents.prewarm import DEFAULT_THRESHOLD
from hermes_agents.scheduling.tiers import DEFAULT_SHEDDABLE_SHARE, checked_share
from hermes_agents.sim.arrivals import ArrivalSpec
from hermes_agents.sim.enforce import Capacity
from hermes_agents.sim.hosts import Hosts
from hermes_agents.sim.policies import choose_policy
from hermes_agents.sim.prewarming import LRU_KEEPALIVE_S, PREWARM_MODES
from hermes_agents.sim.servers import EngineShape

__all__ = ["SimConfig"]


@dataclass(frozen=True)
class SimConfig:
    """One simulation run.

    Attributes:
        policy: a name from ``hermes_agents.sim.policies.POLICY_NAMES``.
        load: multiplies the workload's arrival rate.
        seed: seeds the apps (classes, runs, arrival times); same seed, same apps.
        apps: how many apps arrive (None: the workload's ``arrivals.count``).
        arrivals: the arrival process (Poisson or bursty).
        fanout: how a visit's parallel calls combine in ranks and the oracle: "sum" or "max".
        engine: how LLM engines are derived from cost profiles, and the KV mode.
        prewarm: prewarming mode, one of ``PREWARM_MODES`` (``hermes_agents.sim.prewarming``).
        prewarm_k: the planner's threshold K for every cold backend (``hermes`` modes; the
            arrival rule's K_a follows it).
        keepalive_s: the ``lru`` mode's extra TTL after each use.
        hosts: the hosts the apps run on and their round trip to the shared scheduler
            (``hermes_agents.sim.hosts``; the default is the single scheduler).
        capacity: LLM backends' client windows and where order is enforced
            (``hermes_agents.sim.enforce``; the default is the workload's).
        sheddable_share: every backend's headroom for higher tiers with ``+tiers`` policies
            (``BackendLimits.sheddable_share``; 1: no headroom).
    """

    policy: str = "gittins"
    load: float = 1.0
    seed: int = 0
    apps: int | None = None
    arrivals: ArrivalSpec = field(default_factory=ArrivalSpec)
    fanout: FanoutMode = "sum"
    engine: EngineShape = field(default_factory=EngineShape)
    prewarm: str = "off"
    prewarm_k: float = DEFAULT_THRESHOLD
    keepalive_s: float = LRU_KEEPALIVE_S
    hosts: Hosts = field(default_factory=Hosts)
    capacity: Capacity = field(default_factory=Capacity)
    sheddable_share: float = DEFAULT_SHEDDABLE_SHARE

    def __post_init__(self) -> None:
        choose_policy(self.policy)
        if self.prewarm not in PREWARM_MODES:
            raise ValidationError(
                f"unknown prewarm mode {self.prewarm!r}; use one of {', '.join(PREWARM_MODES)}",
                "--prewarm",
            )
        if not 0 < self.prewarm_k <= 1:
            raise ValidationError(f"must be in (0, 1], got {self.prewarm_k}", "--prewarm-k")
        if not self.keepalive_s >= 0:
            raise ValidationError(f"must be >= 0 seconds, got {self.keepalive_s}", "--keepalive")
        if not self.load > 0:
            raise ValidationError(f"must be > 0, got {self.load}", "--load")
        if self.fanout not in get_args(FanoutMode):
            raise ValidationError(f"use 'sum' or 'max', got {self.fanout!r}", "--fanout")
        checked_share(self.sheddable_share, "--sheddable-share")
        if self.apps is not None and self.apps < 1:
            raise ValidationError(f"must be >= 1, got {self.apps}", "--apps")
