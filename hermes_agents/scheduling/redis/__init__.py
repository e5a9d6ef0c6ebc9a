"""One scheduler for every process on every host, in Redis (``HERMES_SCHEDULER=redis://...``).

- ``RedisAddress``: a ``redis://`` / ``rediss://`` URL checked, with its credentials and TLS.
- ``RedisScheduler``: the ``Scheduler`` whose admission is atomic in Redis (Lua scripts per
  backend: ``lua/``); ranks come from this process's models of its apps.
- ``cluster_snapshot``: what ``hermes status --scheduler redis://...`` shows.

Needs the ``redis`` extra (``pip install 'hermes-agents[redis]'``). See ``docs/scale-out.md``.
"""

from hermes_agents.scheduling.redis.address import RedisAddress, address_problem

__all__ = ["RedisAddress", "RedisScheduler", "address_problem", "cluster_snapshot"]


def __getattr__(name: str) -> object:
    """``RedisScheduler`` and ``cluster_snapshot`` import the ``redis`` package on first use."""
    if name == "RedisScheduler":
        from hermes_agents.scheduling.redis.scheduler import RedisScheduler

        return RedisScheduler
    if name == "cluster_snapshot":
        from hermes_agents.scheduling.redis.status import cluster_snapshot

        return cluster_snapshot
    raise AttributeError(name)
