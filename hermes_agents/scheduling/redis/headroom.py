"""The headroom higher tiers keep (``scheduling.reserve``), across hosts: what this process
tells Redis so that the admission scripts enforce it (``lua/common.lua``).

With a ``+tiers`` policy, while critical or standard work is about on a backend (one of its
tickets runs there, or one was submitted there within ``reserve_window_s``), sheddable tickets
hold at most ``sheddable_share`` of its slots (rounded down, at least one), whichever hosts
they come from; otherwise they may take every slot. In Redis:

- every ticket's record carries its run's tier (the exchange script refuses any other word than
  ``critical``, ``standard``, ``sheddable``);
- ``hermes:{B}:shed`` holds the running sheddable tickets (a subset of the leases, freed with
  them: a release, a reap of a dead process, an overdue slot), so the count is the set's size
  and never a counter that can drift;
- ``meta``'s ``higher_at`` is when a critical or standard ticket was last submitted (Redis's
  clock), and its ``sheddable_share`` and ``reserve_window_ms`` are the limits the first
  process wrote (the share is written as 1, no headroom, unless the policy orders by tier).

Admission keeps a sheddable ticket back when the headroom binds; since ``+tiers`` scores put
every sheddable ticket behind every other, nothing else waits ahead of it, except when the wait
bound promotes the oldest: then the queue's head goes instead, if it is not sheddable.

The same scripts keep the deadline headroom of ``hermes-ddl`` and ``hermes-edf``
(``HermesDdl.deadline_headroom``): what Redis calls ``sheddable`` is whatever the policy holds
back (``reserve.held_back_by``), so a call of a run without a deadline is queued as
``sheddable`` there and one of a run with a deadline as ``standard`` (or ``critical``). Their
scores put the runs without a deadline behind the others as well, and a run that can no longer
make its deadline waits among them, held back by nothing, as in the core.

>>> from hermes_agents.scheduling.state import BackendLimits
>>> headroom_args(BackendLimits(4, sheddable_share=0.25, reserve_window_s=2.5), headroom=True)
['0.25', '2500']
>>> headroom_args(BackendLimits(4, sheddable_share=0.25), headroom=False)
['1.0', '30000']
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hermes_agents.scheduling.policies import TIER_SPAN
from hermes_agents.scheduling.tiers import Tier

if TYPE_CHECKING:
    from hermes_agents.scheduling.runtime import LocalScheduler
    from hermes_agents.scheduling.state import BackendLimits

NO_HEADROOM = 1.0
"""The share written for policies that do not order by tier: sheddable tickets take any slot."""
MAX_WINDOW_MS = 2**53 - 1
"""The longest window written (Lua's numbers are doubles: integers beyond it are not exact)."""


def headroom_args(limits: BackendLimits, *, headroom: bool) -> list[str]:
    """The scripts' ``sheddable_share`` and ``reserve_window_ms`` arguments for ``limits``
    (``headroom``: the policy holds some runs back, ``reserve.held_back_by``; otherwise none)."""
    share = float(limits.sheddable_share) if headroom else NO_HEADROOM
    window_ms = min(round(limits.reserve_window_s * 1000), MAX_WINDOW_MS)
    return [repr(share), str(window_ms)]


def queue_place(
    local: LocalScheduler, run_id: str, task_id: int | None
) -> tuple[float | None, Tier]:
    """Where the call ``task_id`` of run ``run_id`` waits in Redis: its order (the policy's
    priority now, lower first) and its class there: ``sheddable`` when the policy's headroom
    holds its run back, else its run's tier (``standard`` for an unknown run, or a sheddable
    run the policy does not hold back).

    Under ``+tiers`` a call whose priority is not finite waits last within its own tier
    (not behind every tier: a critical call must not wait behind sheddable ones the headroom
    keeps back)."""
    core = local.core
    run = core.runs.get(run_id)
    tier = run.tier if run is not None else Tier.STANDARD
    if core.held_back is not None and run is not None and not core.tiered:
        tier = Tier.SHEDDABLE if core.held_back(run) else _not_held(tier)
    order = local.queue_priority(task_id)
    if order is None and core.tiered:
        order = tier.level * TIER_SPAN + TIER_SPAN / 4
    return order, tier


def _not_held(tier: Tier) -> Tier:
    """The class in Redis of a run the headroom does not hold back."""
    return Tier.STANDARD if tier is Tier.SHEDDABLE else tier
