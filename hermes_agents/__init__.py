"""hermes-agents: app-aware scheduling for LLM applications.

Learn each application's Probabilistic Demand Graph (PDGraph) from its structure and observed
runs, turn its remaining demand into a Gittins rank, and serve every backend in rank order.
"""

from typing import TYPE_CHECKING

from hermes_agents.cost import CostModel, KVTier, LLMCost
from hermes_agents.errors import HermesError, ValidationError
from hermes_agents.gittins import GittinsTable, gittins_rank
from hermes_agents.pdgraph import (
    END,
    Call,
    Learner,
    PDGraph,
    RemainingDemand,
    Stage,
    StageKind,
    Visit,
    Workload,
)
from hermes_agents.version import VERSION

__version__ = VERSION

if TYPE_CHECKING:  # typed for users; imported lazily at run time (below)
    from hermes_agents.dropins.langgraph import instrument
    from hermes_agents.dropins.tools import tool


def __getattr__(name: str) -> object:
    """``instrument`` and ``tool`` load on first use only: importing ``hermes_agents`` loads no
    LangChain, SQLite, httpx, matplotlib or rich (``hermes --help`` stays fast)."""
    if name == "instrument":
        from hermes_agents.dropins.langgraph import instrument

        return instrument
    if name == "tool":
        from hermes_agents.dropins.tools import tool

        return tool
    raise AttributeError(f"module 'hermes_agents' has no attribute {name!r}")


__all__ = [
    "END",
    "Call",
    "CostModel",
    "GittinsTable",
    "HermesError",
    "KVTier",
    "LLMCost",
    "Learner",
    "PDGraph",
    "RemainingDemand",
    "Stage",
    "StageKind",
    "ValidationError",
    "Visit",
    "Workload",
    "__version__",
    "gittins_rank",
    "instrument",
    "tool",
]
