"""The shared scheduler: a sans-I/O core, queue policies, and the runtimes that drive it."""

from hermes_agents.scheduling.core import SchedulerCore
from hermes_agents.scheduling.daemon.client import DaemonScheduler
from hermes_agents.scheduling.default import get_scheduler, set_scheduler
from hermes_agents.scheduling.front import Scheduler, Slot
from hermes_agents.scheduling.models import AppModels
from hermes_agents.scheduling.policies import (
    POLICIES,
    Aging,
    AppFcfs,
    Fcfs,
    Gittins,
    LeastSlack,
    MeanSrjf,
    Oracle,
    Plas,
    Policy,
    Vtc,
    policy_named,
)
from hermes_agents.scheduling.runtime import LocalScheduler
from hermes_agents.scheduling.state import BackendLimits, Grant, Usage

__all__ = [
    "POLICIES",
    "Aging",
    "AppFcfs",
    "AppModels",
    "BackendLimits",
    "DaemonScheduler",
    "Fcfs",
    "Gittins",
    "Grant",
    "LeastSlack",
    "LocalScheduler",
    "MeanSrjf",
    "Oracle",
    "Plas",
    "Policy",
    "Scheduler",
    "SchedulerCore",
    "Slot",
    "Usage",
    "Vtc",
    "get_scheduler",
    "policy_named",
    "set_scheduler",
]
