"""The shared scheduler: a sans-I/O core, queue policies, and the runtimes that drive it."""

from hermes_agents.scheduling.core import SchedulerCore
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
from hermes_agents.scheduling.state import BackendLimits, Grant, Usage

__all__ = [
    "POLICIES",
    "Aging",
    "AppFcfs",
    "AppModels",
    "BackendLimits",
    "Fcfs",
    "Gittins",
    "Grant",
    "LeastSlack",
    "MeanSrjf",
    "Oracle",
    "Plas",
    "Policy",
    "SchedulerCore",
    "Usage",
    "Vtc",
    "policy_named",
]
