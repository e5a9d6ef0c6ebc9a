"""Policy names the simulator accepts: the core's policies, plus two Gittins ablations.

Every policy runs in the same ``SchedulerCore``; nothing here re-implements an ordering.

- ``fcfs``, ``app-fcfs``, ``vtc``, ``plas``, ``mean-srjf``, ``gittins``, ``oracle``,
  ``least-slack``, ``edf``, ``hermes-ddl``: the core's policy of that name, with the class
  ``ProfiledModels``; any of them with ``+tiers`` orders by tier first (``Tiered``).
- ``gittins-class``: the core's ``gittins`` policy without a demand model; each call's estimate
  is its class's Gittins rank at entry. No conditioning on progress at all.
- ``gittins-attained``: as ``gittins-class``, but the rank is taken after the service the run
  had attained when it submitted the call: classic Gittins on one demand histogram per class,
  conditioned on service but not on the stage reached (the rank refreshes at each visit).

Both ablations use the core's documented fallback: a run whose class has no model is ranked
by its task's estimate. The ranks come from ``hermes_agents.gittins`` through
``RemainingDemand`` (``ProfiledModels.class_rank``).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from hermes_agents.errors import ValidationError, did_you_mean
from hermes_agents.scheduling import POLICIES, Gittins, Policy, policy_named
from hermes_agents.scheduling.policies import TIERS_SUFFIX


class Ranking(enum.StrEnum):
    """Where the core's ranks come from."""

    MODEL = "model"
    """The class's ``RemainingDemand`` at the run's position (the core's normal path)."""
    CLASS = "class"
    """The class's Gittins rank at entry, passed as each call's estimate."""
    ATTAINED = "attained"
    """The class's Gittins rank after the run's attained service, as each call's estimate."""


ABLATIONS: Mapping[str, Ranking] = MappingProxyType(
    {"gittins-class": Ranking.CLASS, "gittins-attained": Ranking.ATTAINED}
)
POLICY_NAMES: tuple[str, ...] = (*POLICIES, *ABLATIONS)
"""Every name ``hermes bench --policies`` accepts."""


@dataclass(frozen=True)
class PolicyChoice:
    """A named policy for the simulator: the core policy and where its ranks come from."""

    name: str
    policy: Policy
    ranking: Ranking


def is_policy_name(name: str) -> bool:
    """Whether ``hermes bench`` knows ``name``: one of ``POLICY_NAMES``, or a core policy's
    name with ``+tiers`` (that policy within tiers)."""
    return name in POLICY_NAMES or name.removesuffix(TIERS_SUFFIX) in POLICIES


def choose_policy(name: str) -> PolicyChoice:
    """The policy called ``name`` (one of ``POLICY_NAMES``)."""
    ranking = ABLATIONS.get(name)
    if ranking is not None:
        return PolicyChoice(name, Gittins(), ranking)
    if not is_policy_name(name):
        raise ValidationError(
            f"unknown policy {name!r}{did_you_mean(name, POLICY_NAMES)}; use one of "
            f"{', '.join(POLICY_NAMES)}",
            "--policies",
        )
    return PolicyChoice(name, policy_named(name), Ranking.MODEL)
