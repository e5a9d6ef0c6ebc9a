"""``hermes serve --scheduler redis://...``: the daemon in front of the scheduler every host
shares (``scheduling.daemon.front``).

The host's processes keep ``HERMES_SCHEDULER=unix://...`` (the daemon); the daemon is one
Redis client for all of them, with the limits, policy, costs and prewarming of its config.
Without ``--scheduler``, a ``redis://`` or ``rediss://`` ``HERMES_SCHEDULER`` in the daemon's
environment is fronted too (any other value is the clients' business, as before).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from hermes_agents import settings
from hermes_agents.commands.status_redis import is_redis
from hermes_agents.config import Config
from hermes_agents.errors import ValidationError
from hermes_agents.scheduling.daemon.front import FrontService
from hermes_agents.scheduling.redis.address import address_problem

if TYPE_CHECKING:
    from hermes_agents.scheduling.redis.scheduler import RedisScheduler


def front_url(given: str | None) -> str | None:
    """The Redis scheduler to front: ``given`` (``--scheduler``), else ``HERMES_SCHEDULER``
    when it is a Redis address; None: the daemon schedules by itself. ``ValidationError`` for
    a ``--scheduler`` that is no Redis address."""
    if given is None:
        address = settings.scheduler_address()
        return address if is_redis(address) else None
    problem = address_problem(given)
    if problem is not None:
        raise ValidationError(
            f"{problem}; give redis://host:port/db or rediss://host:port/db (credentials in "
            "the URL, or HERMES_REDIS_USERNAME and HERMES_REDIS_PASSWORD)",
            "--scheduler",
        )
    return given


def front_service(
    url: str,
    config: Config | None,
    *,
    policy: str | None,
    lease_s: float,
    token: str | None,
) -> tuple[FrontService, RedisScheduler]:
    """The daemon's service in front of the Redis scheduler at ``url`` (``config``'s limits,
    ``policy`` overriding its policy), and that scheduler (the caller closes it)."""
    from hermes_agents.scheduling.redis.factory import redis_scheduler

    if policy is not None:
        config = dataclasses.replace(config or Config(), policy=policy)
    scheduler = redis_scheduler(url, config)
    service = FrontService(
        scheduler,
        name=scheduler.address.display,
        policy=scheduler.local.core.policy.name,
        limits=scheduler.limits,
        lease_s=lease_s,
        token=token,
    )
    return service, scheduler
