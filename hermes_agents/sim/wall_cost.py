"""Wall seconds of the simulated engines: the cost model a deployment would fit to them.

The cost profile that prices ranks (``prefill_s_per_token``, ``decode_s_per_token``) is the
engine's step at ``reference_batch`` running sequences (``sim.llm``): 0.06 s per output token
on paper-mix, where the 16-slot admission window keeps the batch at 16 or fewer and a token
takes 25 ms. Ranks only compare apps, so the common factor does not matter to them; a
*deadline* is wall-clock time, and a slack priced 2.4x too slow calls runs late that are not.

``wall_cost`` prices each LLM backend's calls as its engine runs them with the admission
window full (a step with ``min(max_concurrency, reference_batch)`` sequences), prefill and KV
load as in the profile: what ``cost_fit.fit`` finds from calls measured on a busy engine, as a
deployment's fitted cost model is. The simulator's demand models price remaining *durations*
(``RunView.remaining_quantile_s``, the Hermes-DDL slack) with it (``sim.demand``).

>>> from hermes_agents.workloads import builtin
>>> mix = builtin("paper-mix")
>>> round(wall_cost(mix, EngineShape()).for_backend("llm").decode_s_per_token, 4)
0.0251
"""

from __future__ import annotations

import dataclasses

from hermes_agents.cost import CostModel
from hermes_agents.pdgraph import StageKind, Workload
from hermes_agents.sim.llm import EngineParams
from hermes_agents.sim.servers import EngineShape


def wall_cost(workload: Workload, shape: EngineShape) -> CostModel:
    """Per LLM backend of ``workload``, its profile with decode at the engine's step with the
    admission window full (see the module docstring); critical path (``fanout="max"``)."""
    profiles = workload.cost_model()
    wall = {}
    for name, spec in workload.backends.items():
        if spec.kind != StageKind.LLM:
            continue
        profile = profiles.for_backend(name)
        engine = EngineParams.from_profile(
            profile, reference_batch=shape.reference_batch, fixed_share=shape.fixed_share
        )
        step_s = engine.step_s(min(spec.max_concurrency, shape.reference_batch))
        wall[name] = dataclasses.replace(profile, decode_s_per_token=step_s)
    return CostModel(llm=wall, fanout="max")
