"""The Probabilistic Demand Graph: model, JSON format, learner and remaining-demand sampling."""

from hermes_agents.pdgraph.distributions import DEFAULT_SAMPLES, Distribution, constant
from hermes_agents.pdgraph.learner import Call, Learner, Visit
from hermes_agents.pdgraph.model import END, PDGraph, Stage, StageKind
from hermes_agents.pdgraph.prior import DEFAULT_DEMAND, structural_prior
from hermes_agents.pdgraph.remaining import RemainingDemand
from hermes_agents.pdgraph.workload import Arrivals, BackendSpec, Workload

__all__ = [
    "DEFAULT_DEMAND",
    "DEFAULT_SAMPLES",
    "END",
    "Arrivals",
    "BackendSpec",
    "Call",
    "Distribution",
    "Learner",
    "PDGraph",
    "RemainingDemand",
    "Stage",
    "StageKind",
    "Visit",
    "Workload",
    "constant",
    "structural_prior",
]
