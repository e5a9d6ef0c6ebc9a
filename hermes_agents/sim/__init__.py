"""Discrete-event simulator: the production scheduling core on a virtual clock.

Nothing here re-implements a policy: apps drawn from a workload submit their calls to the same
``SchedulerCore`` the runtime and the daemon use, and backend models (an LLM engine with
continuous batching and KV tiers, tool and embedding pools, cold starts) serve what it admits.

>>> from hermes_agents.sim import SimConfig, simulate
>>> from hermes_agents.workloads import builtin
>>> result = simulate(builtin("paper-mix"), SimConfig(policy="fcfs", apps=10, seed=0))
>>> result.act_s.size
10
"""

from hermes_agents.sim.arrivals import ArrivalProcess, ArrivalSpec
from hermes_agents.sim.demand import ProfiledModels
from hermes_agents.sim.events import EventLoop, Timer
from hermes_agents.sim.kv import KvMode
from hermes_agents.sim.llm import EngineParams, LlmEngine
from hermes_agents.sim.plans import AppPlan, draw_plans
from hermes_agents.sim.policies import POLICY_NAMES, choose_policy
from hermes_agents.sim.prewarming import PREWARM_MODES
from hermes_agents.sim.servers import EngineShape
from hermes_agents.sim.simulator import SimConfig, SimResult, simulate

__all__ = [
    "POLICY_NAMES",
    "PREWARM_MODES",
    "AppPlan",
    "ArrivalProcess",
    "ArrivalSpec",
    "EngineParams",
    "EngineShape",
    "EventLoop",
    "KvMode",
    "LlmEngine",
    "ProfiledModels",
    "SimConfig",
    "SimResult",
    "Timer",
    "choose_policy",
    "draw_plans",
    "simulate",
]
