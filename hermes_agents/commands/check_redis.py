"""``hermes check`` for ``HERMES_SCHEDULER=redis://...``: the ``redis`` extra, the lease TTL,
and whether Redis answers (a ``PING`` within the check's timeout)."""

from __future__ import annotations

from hermes_agents import settings
from hermes_agents.commands.check import Finding
from hermes_agents.errors import HermesError
from hermes_agents.extras import require
from hermes_agents.scheduling.redis.address import RedisAddress


def check_redis(url: str, timeout_s: float) -> list[Finding]:
    """The findings for a Redis scheduler at ``url``."""
    from hermes_agents.scheduling.redis.scheduler import DEFAULT_LEASE_TTL_S

    address = RedisAddress.parse(url)
    findings = [Finding("scheduler", "ok", f"shared through Redis at {address.display}")]
    try:
        require("redis")
        ttl_s = settings.redis_lease_ttl_s(DEFAULT_LEASE_TTL_S)
    except HermesError as error:
        return [*findings, Finding("redis", "error", str(error))]
    findings.append(Finding("lease TTL", "ok", f"{ttl_s:g} s (HERMES_REDIS_LEASE_TTL_S)"))
    import redis

    client = address.client(timeout_s=timeout_s)
    try:
        client.ping()
    except redis.RedisError as error:
        problem = f"no answer from {address.display} ({error}); calls would run unscheduled"
        return [*findings, Finding("redis", "error", problem + "; start Redis or fix the URL")]
    finally:
        client.close()
    return [*findings, Finding("redis", "ok", f"{address.display} answers")]
