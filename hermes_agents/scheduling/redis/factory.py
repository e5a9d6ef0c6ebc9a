"""``redis_scheduler``: the ``RedisScheduler`` for ``HERMES_SCHEDULER=redis://...`` and a
config (the limits every host writes to Redis, the policy, costs and prewarming of this host's
own runs).

An ``auto`` backend keeps its start window with Redis (``[backends.NAME.auto] start``, 4 by
default): the window is not moved across hosts, and throttles are not forwarded; one warning
at start says so.
"""

from __future__ import annotations

import dataclasses
import logging

from hermes_agents import settings
from hermes_agents.config import DEFAULT_POLICY, Config
from hermes_agents.cost import CostModel
from hermes_agents.extras import require
from hermes_agents.scheduling.core import SchedulerCore
from hermes_agents.scheduling.models import AppModels
from hermes_agents.scheduling.policies import policy_named
from hermes_agents.scheduling.redis.address import RedisAddress
from hermes_agents.scheduling.redis.clock import SharedClock
from hermes_agents.scheduling.redis.keys import PREFIX
from hermes_agents.scheduling.redis.learning import ProfileSync
from hermes_agents.scheduling.redis.profilewrites import ProfileWrites
from hermes_agents.scheduling.redis.scheduler import DEFAULT_LEASE_TTL_S, RedisScheduler
from hermes_agents.scheduling.redis.warmups import WarmClaims
from hermes_agents.scheduling.runtime import LocalScheduler
from hermes_agents.scheduling.state import UNLIMITED, BackendLimits
from hermes_agents.store.redisprofiles import RedisProfileStore

OPEN = BackendLimits(
    UNLIMITED.max_concurrency, max_wait_s=None, max_hold_s=None, sheddable_share=1.0
)
"""The limits of the in-process twin of every backend: admission (and the tiers' headroom)
happens in Redis."""


def redis_scheduler(url: str, config: Config | None, *, prefix: str = PREFIX) -> RedisScheduler:
    """A scheduler on Redis at ``url`` with ``config``'s limits (see the module docstring);
    ``ValidationError`` for a bad URL or lease TTL, ``MissingExtraError`` without the
    ``redis`` extra. Connects lazily: Redis need not be up yet (calls fail open until it is)."""
    from hermes_agents.scheduling.default import backend_limits, prewarm_setup

    address = RedisAddress.parse(url)
    lease_ttl_s = settings.redis_lease_ttl_s(DEFAULT_LEASE_TTL_S)
    require("redis")
    limits = backend_limits(config) if config is not None else {}
    _warn_fixed_auto(config)
    cost = config.cost_model() if config is not None else CostModel()
    prewarm = prewarm_setup(config.prewarm) if config is not None and config.prewarm else None
    twins = {name: dataclasses.replace(OPEN, kind=limit.kind) for name, limit in limits.items()}
    store = RedisProfileStore(address.client(), prefix=prefix)
    policy = config.policy if config is not None else DEFAULT_POLICY
    believed_out: list[RedisScheduler] = []  # the scheduler, once made (the models come first)
    writes = ProfileWrites(store, lambda: bool(believed_out) and believed_out[0].out)
    models = AppModels(cost, store=writes)
    clock = SharedClock()  # time-valued priorities (arrival, deadlines) compare across hosts
    core = SchedulerCore(
        twins,
        policy_named(policy),
        clock,
        models=models,
        cost=cost,
        default_limits=OPEN,
        planner=prewarm.planner() if prewarm is not None else None,
    )
    if config is not None:
        core.levels.update(config.apps)  # tiers and SLOs per app class, as in one process
    prewarmer = prewarm.prewarmer(core.clock) if prewarm is not None else None
    local = LocalScheduler(core, prewarmer=prewarmer)
    scheduler = RedisScheduler(address, local, limits, lease_ttl_s=lease_ttl_s, prefix=prefix)
    believed_out.append(scheduler)
    scheduler.profile_writes = writes
    writes.learn_off_thread(local.driver)
    scheduler.profile_sync = ProfileSync(models, store)
    if prewarmer is not None:  # one warm-up per backend and moment, whichever host plans it
        prewarmer.claim = WarmClaims(
            scheduler.client, prewarmer.specs, scheduler.process, prefix=prefix
        )
    return scheduler


def _warn_fixed_auto(config: Config | None) -> None:
    autos = [b for b in config.backends.values() if b.auto is not None] if config else []
    if autos:
        logging.getLogger(__name__).warning(
            "with Redis, auto capacity is not followed across hosts: %s keep their start window "
            "(set [backends.NAME.auto] start, or a number for max_concurrency)",
            ", ".join(f"{b.name!r} at {b.start_concurrency}" for b in autos),
        )
