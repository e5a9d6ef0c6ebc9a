"""The process-wide scheduler that drop-ins use unless they are given one."""

from __future__ import annotations

import threading

from hermes_agents.config import Config, find_config
from hermes_agents.scheduling.runtime import Scheduler
from hermes_agents.scheduling.state import BackendLimits

_lock = threading.Lock()
_default: Scheduler | None = None


def scheduler_from_config(config: Config | None) -> Scheduler:
    """An in-process scheduler with the limits, policy and costs of ``config``."""
    if config is None:
        return Scheduler.in_process()
    limits = {
        name: BackendLimits(backend.max_concurrency, backend.token_budget, backend.kind)
        for name, backend in config.backends.items()
    }
    return Scheduler.in_process(limits, policy=config.policy, cost=config.cost_model())


def get_scheduler() -> Scheduler:
    """The default scheduler, built on first use from ``HERMES_CONFIG`` (if set).

    A bad configuration file raises ``ValidationError`` here: it is a setup mistake to fix,
    not a runtime fault to hide.
    """
    global _default
    with _lock:
        if _default is None:
            _default = scheduler_from_config(find_config())
        return _default


def set_scheduler(scheduler: Scheduler | None) -> None:
    """Replace the default scheduler (None: build it again from the configuration)."""
    global _default
    with _lock:
        _default = scheduler
