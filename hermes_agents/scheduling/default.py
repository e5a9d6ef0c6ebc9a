"""The process-wide scheduler that drop-ins use unless they are given one.

Which one, decided on first use:

1. ``HERMES_SCHEDULER`` set: the daemon at that address (fail-open while it is unreachable),
   or, for ``redis://`` / ``rediss://``, the scheduler every host shares through that Redis
   (``scheduling.redis``: limits from ``HERMES_CONFIG``; fail-open while Redis is out);
2. else, a daemon listening on the default socket (``settings.default_socket_path()``);
3. else, an in-process scheduler with the limits of ``HERMES_CONFIG`` (if set), learning into
   the profile store under ``settings.data_dir()``.
"""

from __future__ import annotations

import dataclasses
import os
import threading

from hermes_agents import settings
from hermes_agents.capacity.build import capacity_runtime, run_in_process
from hermes_agents.config import DEFAULT_POLICY, Config, find_config
from hermes_agents.config_prewarm import PrewarmConfig
from hermes_agents.cost import CostModel
from hermes_agents.scheduling.daemon.client import DaemonScheduler, listening
from hermes_agents.scheduling.interface import Scheduler
from hermes_agents.scheduling.models import AppModels
from hermes_agents.scheduling.prewarming import PrewarmSetup
from hermes_agents.scheduling.runtime import LocalScheduler
from hermes_agents.scheduling.state import BackendLimits
from hermes_agents.store import ProfileStore

_lock = threading.Lock()
_default: Scheduler | None = None
_checked: set[tuple[str | None, str | None]] = set()
"""Environments (``HERMES_SCHEDULER``, ``HERMES_CONFIG``) already found valid."""


def scheduler_from_config(
    config: Config | None,
    *,
    store: ProfileStore | None = None,
    policy: str | None = None,
    auto: bool = True,
) -> LocalScheduler:
    """An in-process scheduler with the limits, policy, costs and prewarming of ``config``
    (``policy`` overrides its policy); with a ``store``, learned profiles are loaded from it and
    kept in it. ``hermes serve`` drives the core (and the prewarmer) of the same scheduler.

    ``auto``: run the windows of its ``max_concurrency = "auto"`` backends here (a poller
    thread, stopped by ``close()``); False leaves that to the caller (the daemon runs them on
    its event loop)."""
    cost = config.cost_model() if config is not None else CostModel()
    prewarm = config.prewarm if config is not None else None
    scheduler = LocalScheduler.in_process(
        backend_limits(config) if config is not None else {},
        policy=policy or (config.policy if config is not None else DEFAULT_POLICY),
        models=AppModels(cost, store=store),
        cost=cost,
        prewarm=prewarm_setup(prewarm) if prewarm is not None else None,
    )
    if config is not None:
        scheduler.core.levels.update(config.apps)  # tiers and SLOs per app class
    runtime = capacity_runtime(config) if auto else None
    if runtime is not None:
        run_in_process(scheduler, runtime)
    return scheduler


def prewarm_setup(prewarm: PrewarmConfig) -> PrewarmSetup:
    """The adapters (built by ``adapter_for``), specs, memory budgets and rule of ``prewarm``."""
    setup = PrewarmSetup(prewarm.adapters(), prewarm.specs(), memory=prewarm.memory)
    if prewarm.partial is None:
        return setup  # PrewarmSetup's default rule
    return dataclasses.replace(setup, partial=prewarm.partial)


def backend_limits(config: Config) -> dict[str, BackendLimits]:
    """The admission limits of every backend ``config`` declares."""
    return {
        name: BackendLimits(
            backend.start_concurrency,
            backend.token_budget,
            backend.kind,
            max_wait_s=backend.max_wait_s,
            max_hold_s=backend.max_hold_s,
            sheddable_share=backend.sheddable_share,
            reserve_window_s=backend.reserve_window_s,
        )
        for name, backend in config.backends.items()
    }


def get_scheduler() -> Scheduler:
    """The default scheduler (see the module docstring), built on first use.

    A bad configuration file or ``HERMES_SCHEDULER`` value raises ``ValidationError`` here: it
    is a setup mistake to fix, not a runtime fault to hide.
    """
    global _default
    with _lock:
        if _default is None:
            _default = _build_default()
        return _default


def check_environment() -> None:
    """Check ``HERMES_SCHEDULER`` and ``HERMES_CONFIG`` now; ``ValidationError`` naming the
    variable (or the file, table and field) and the fix.

    The drop-ins' constructors, ``instrument()`` and ``@tool`` call it when they are made
    without a scheduler of their own, so a bad setting fails at startup, not at the first model
    call (at call time a scheduler problem never raises: the call runs unscheduled). Cheap
    after the first time for the same environment.
    """
    key = (os.environ.get("HERMES_SCHEDULER"), os.environ.get("HERMES_CONFIG"))
    if key in _checked:
        return
    address = settings.scheduler_address()
    if address is not None and _is_redis(address):
        settings.redis_lease_ttl_s(0.0)  # a bad value names the variable now
    find_config()
    _checked.add(key)


def set_scheduler(scheduler: Scheduler | None) -> None:
    """Replace the default scheduler (None: choose it again on next use)."""
    global _default
    with _lock:
        previous, _default = _default, scheduler
    if previous is not None and previous is not scheduler:
        previous.close()


def _build_default() -> Scheduler:
    address = settings.scheduler_address()
    if address is not None and _is_redis(address):
        from hermes_agents.scheduling.redis.factory import redis_scheduler

        return redis_scheduler(address, find_config())
    if address is not None:
        return DaemonScheduler(address, token=settings.scheduler_token())
    path = settings.default_socket_path()
    if listening(path):
        return DaemonScheduler(f"unix://{path}")
    return scheduler_from_config(find_config(), store=ProfileStore())


def _is_redis(address: str) -> bool:
    return address.startswith(("redis://", "rediss://"))
