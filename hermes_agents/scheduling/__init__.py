"""The shared scheduler: a sans-I/O core, queue policies, one driver loop, and the schedulers
that run it (in-process, daemon client).

Names are loaded on first use (PEP 562), so importing the core loads neither the daemon's
sockets nor the profile store.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hermes_agents.scheduling.core import SchedulerCore
    from hermes_agents.scheduling.daemon.client import DaemonScheduler
    from hermes_agents.scheduling.decisions import Decisions, FinishedRun, Grant, Withdrawal
    from hermes_agents.scheduling.default import get_scheduler, set_scheduler
    from hermes_agents.scheduling.driver import Driver
    from hermes_agents.scheduling.interface import RunScope, Scheduler
    from hermes_agents.scheduling.models import AppModels
    from hermes_agents.scheduling.policies import (
        POLICIES,
        Aging,
        AppFcfs,
        Edf,
        Fcfs,
        Gittins,
        HermesDdl,
        LeastSlack,
        MeanSrjf,
        Oracle,
        Plas,
        Policy,
        Tiered,
        Vtc,
        policy_named,
    )
    from hermes_agents.scheduling.runtime import LocalScheduler
    from hermes_agents.scheduling.slot import Slot
    from hermes_agents.scheduling.state import BackendLimits, Usage
    from hermes_agents.scheduling.ticket import Answer, Ticket
    from hermes_agents.scheduling.tiers import ClassLevel, Tier

_WHERE = {
    "SchedulerCore": "core",
    "DaemonScheduler": "daemon.client",
    "Decisions": "decisions",
    "FinishedRun": "decisions",
    "Grant": "decisions",
    "Withdrawal": "decisions",
    "get_scheduler": "default",
    "set_scheduler": "default",
    "Driver": "driver",
    "RunScope": "interface",
    "Scheduler": "interface",
    "AppModels": "models",
    "POLICIES": "policies",
    "Aging": "policies",
    "AppFcfs": "policies",
    "Edf": "policies",
    "HermesDdl": "policies",
    "Tiered": "policies",
    "ClassLevel": "tiers",
    "Tier": "tiers",
    "Fcfs": "policies",
    "Gittins": "policies",
    "LeastSlack": "policies",
    "MeanSrjf": "policies",
    "Oracle": "policies",
    "Plas": "policies",
    "Policy": "policies",
    "Vtc": "policies",
    "policy_named": "policies",
    "LocalScheduler": "runtime",
    "Slot": "slot",
    "BackendLimits": "state",
    "Usage": "state",
    "Answer": "ticket",
    "Ticket": "ticket",
}


def __getattr__(name: str) -> object:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])


__all__ = [
    "POLICIES",
    "Aging",
    "Answer",
    "AppFcfs",
    "AppModels",
    "BackendLimits",
    "ClassLevel",
    "DaemonScheduler",
    "Decisions",
    "Driver",
    "Edf",
    "Fcfs",
    "FinishedRun",
    "Gittins",
    "Grant",
    "HermesDdl",
    "LeastSlack",
    "LocalScheduler",
    "MeanSrjf",
    "Oracle",
    "Plas",
    "Policy",
    "RunScope",
    "Scheduler",
    "SchedulerCore",
    "Slot",
    "Ticket",
    "Tier",
    "Tiered",
    "Usage",
    "Vtc",
    "Withdrawal",
    "get_scheduler",
    "policy_named",
    "set_scheduler",
]
