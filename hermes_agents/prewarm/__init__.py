"""Prewarming: warm cold backends just before an app needs them.

- ``PrewarmPlanner`` (sans-I/O): from each active run's PDGraph position, the probability p that
  it reaches a backend and the distribution of the time until it does; warm when the warm-up
  is likely enough to be used in time (``>= K``, arrivals during the warm-up counted by the
  share they hide), keep awake across tool pauses and for apps yet to arrive (from the class
  arrival rates it learns, ``ArrivalRates``), deduplicated, rate-limited, best-ranked apps
  first when warm-ups compete for memory.
- ``WarmupSpec``: one backend's warm-up (seconds, K, idle sleep, memory).
- ``WarmHint`` / ``PlanStep``: what the planner hands to the runtime and the adapters.
- ``PrewarmLedger``: hits, late hints, unused hints, hidden cold waits and wasted warm seconds.

The scheduling core runs the planner (``SchedulerCore(..., planner=...)``,
``core.plan_warmups(awake)``); see docs/prewarming.md.
"""

from hermes_agents.prewarm.arrivals import ArrivalRates
from hermes_agents.prewarm.hints import PlanStep, WarmAction, WarmHint
from hermes_agents.prewarm.ledger import PrewarmLedger
from hermes_agents.prewarm.planner import PlannedRun, PrewarmPlanner
from hermes_agents.prewarm.spec import DEFAULT_THRESHOLD, WarmupSpec

__all__ = [
    "DEFAULT_THRESHOLD",
    "ArrivalRates",
    "PlanStep",
    "PlannedRun",
    "PrewarmLedger",
    "PrewarmPlanner",
    "WarmAction",
    "WarmHint",
    "WarmupSpec",
]
