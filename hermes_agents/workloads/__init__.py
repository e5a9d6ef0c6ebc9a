"""Built-in workloads, by name.

``paper-mix``: the nine application classes of the Hermes benchmark with their measured stage
profiles and mix weights (see docs/concepts.md); arrivals are Poisson at the rate of load 1
(200 apps over 30 minutes).
"""

from __future__ import annotations

from importlib import resources

from hermes_agents.errors import ValidationError
from hermes_agents.pdgraph.workload import Workload

BUILTIN = ("paper-mix",)


def builtin(name: str, *, seed: int = 0) -> Workload:
    """The built-in workload called ``name``."""
    if name not in BUILTIN:
        raise ValidationError(
            f"no built-in workload {name!r}; use one of {list(BUILTIN)} "
            "or a path to a workload file"
        )
    text = resources.files(__package__).joinpath(f"{name}.json").read_bytes()
    return Workload.from_json(text, seed=seed)
