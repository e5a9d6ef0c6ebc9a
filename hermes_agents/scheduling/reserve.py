"""The headroom higher tiers keep: the slots of a backend that sheddable calls may not take.

Admission is not preemptive: a call keeps its slot until it ends. Without headroom, a burst of
``sheddable`` batch calls that arrives while no critical call waits takes every slot of a
backend, and the next ``critical`` call waits for one of them to end. So, with a ``+tiers``
policy, while higher-tier work is **about** on a backend (a ``critical`` or ``standard`` call
runs there, or one was submitted there in the last ``reserve_window_s`` seconds), sheddable
calls hold at most ``sheddable_share`` of its slots (``BackendLimits``: rounded down, at least
one slot, so sheddable work never stops; 1 turns the headroom off). A sheddable call kept back
waits in its queue; critical and standard calls may still take every slot. When no higher-tier
work is about, sheddable calls may take every slot (no throughput is lost to an empty
reserve). The wait bound does not lift the headroom: a sheddable call promoted by
``max_wait_s`` still waits for a slot within its tier's share, and the best critical or
standard call goes meanwhile. Policies without ``+tiers`` ignore tiers, and this rule too.

The same headroom keeps slots for runs with a deadline under a policy that asks for it
(``HermesDdl.deadline_headroom``, on by default for ``hermes-ddl`` and ``hermes-edf``): while
a call of a run with a deadline is about, calls of runs without one hold at most
``sheddable_share`` of the slots. Measured on paper-mix with Hermes's deadlines, the apps
without a deadline cost the others 0.17 of deadline satisfaction though they rank after them
(they fill the slots and the batch; ``sim.deadline_limit``). With ``urgent_slack_s``
(``hermes-ddl-urgent``, ``UrgentRule``) it holds back every run but the urgent ones, those
on time with little slack, so the batch also stays small while a deadline is near (0.762 to
0.882 there; ``sim.deadline_ideas``). ``held_back_by`` says which runs a policy holds back.

The core calls ``on_submit`` and ``may_start`` before it admits a call (``core``); nothing here runs
for policies without headroom.

>>> from hermes_agents.scheduling.state import BackendLimits
>>> sheddable_slots(BackendLimits(16, sheddable_share=0.25))
4
>>> sheddable_slots(BackendLimits(1, sheddable_share=0.25))  # at least one slot
1
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hermes_agents.scheduling.ordering import QueueOrder
from hermes_agents.scheduling.policies import HermesDdl, Policy, Tiered
from hermes_agents.scheduling.state import BackendLimits, QueueState, Run, Task
from hermes_agents.scheduling.tiers import Tier

_SHEDDABLE = Tier.SHEDDABLE

HeldBack = Callable[[Run], bool]
"""Whether the headroom holds a run's calls back (sheddable ones, or ones without a deadline)."""


def sheddable(run: Run) -> bool:
    """The ``+tiers`` rule: sheddable runs are held back."""
    return run.tier is _SHEDDABLE


def without_deadline(run: Run) -> bool:
    """The deadline rule (``HermesDdl.deadline_headroom``): runs without a deadline."""
    return run.deadline is None


def orders_by_tier(policy: Policy) -> bool:
    """Whether ``policy`` orders by tier (it is, or wraps, a ``Tiered`` policy)."""
    seen: object = policy
    for _ in range(16):  # wrappers such as Aging(Tiered(...)); never an endless chain
        if isinstance(seen, Tiered):
            return True
        seen = getattr(seen, "inner", None)
        if seen is None:
            return False
    return False


@dataclass(frozen=True)
class UrgentRule:
    """``HermesDdl.urgent_slack_s``'s rule (``hermes-ddl-urgent``): the headroom holds back
    every run but the *urgent* ones, those with a deadline, on time (the ``late_quantile`` of
    their remaining duration still fits) and with at most ``urgent_slack_s`` of slack over
    the ``quantile``; judged at the ``clock``'s now. While an urgent run has work about, the
    others then hold at most ``sheddable_share`` of the slots, so the batch stays small and
    its tokens fast while a deadline is near; a run with time to spare joins the urgent ones
    as its slack runs out. ``window_s`` is the policy's ``reserve_window_s``."""

    policy: HermesDdl
    clock: Callable[[], float]

    @property
    def window_s(self) -> float | None:
        """How long the headroom lasts after an urgent call (None: the backend's)."""
        return self.policy.reserve_window_s

    def __call__(self, run: Run) -> bool:
        deadline, policy = run.deadline, self.policy
        if deadline is None or policy.urgent_slack_s is None:
            return deadline is None
        left_s = deadline - self.clock()
        if left_s < run.remaining_quantile_s(policy.late_quantile):
            return True  # late (demoted): held back with the runs without a deadline
        return left_s - run.remaining_quantile_s(policy.quantile) > policy.urgent_slack_s


def held_back_by(policy: Policy, clock: Callable[[], float] | None = None) -> HeldBack | None:
    """The runs ``policy``'s headroom holds back: sheddable ones with tiers, else runs without
    a deadline if it keeps ``deadline_headroom`` (and, with ``urgent_slack_s`` and a
    ``clock``, all but the urgent ones: ``UrgentRule``); None: no headroom."""
    if orders_by_tier(policy):
        return sheddable
    if not getattr(policy, "deadline_headroom", False):
        return None
    if isinstance(policy, HermesDdl) and policy.urgent_slack_s is not None and clock is not None:
        return UrgentRule(policy, clock)
    return without_deadline


def sheddable_slots(limits: BackendLimits) -> int:
    """The most slots sheddable calls may hold while higher-tier work is about."""
    return max(1, int(limits.sheddable_share * limits.max_concurrency))


def on_submit(state: QueueState, task: Task, now: float, fits: bool, held: HeldBack) -> bool:
    """Whether ``task``, just submitted (``fits``: a slot is free and nobody waits), may take
    that slot now; a call ``held`` does not hold back is noted as higher work about."""
    if not held(task.run):
        state.higher_seen_s = now
        return fits
    return fits and _share_free(state, now, held)


def may_start(state: QueueState, task: Task, now: float, held: HeldBack) -> bool:
    """Whether the headroom lets ``task`` take a slot of ``state`` now (always, unless ``held``
    holds it back and its class holds its share while higher work is about)."""
    return not held(task.run) or _share_free(state, now, held)


def _share_free(state: QueueState, now: float, held: HeldBack) -> bool:
    """Whether a call ``held`` holds back may take a slot of ``state`` now."""
    limits = state.limits
    running = state.running
    cap = sheddable_slots(limits)
    if len(running) < cap or cap >= limits.max_concurrency:
        return True  # within the share whatever runs, or no headroom at all
    kept = sum(1 for other in running.values() if held(other.run))
    if kept < cap:
        return True
    higher_running = kept < len(running)
    window_s = getattr(held, "window_s", None)  # a rule's own window (``UrgentRule``)
    window_s = limits.reserve_window_s if window_s is None else window_s
    return not (higher_running or now - state.higher_seen_s < window_s)


def higher_instead(
    order: QueueOrder, state: QueueState, now: float, promoted: bool, held: HeldBack
) -> Task | None:
    """What to admit instead of a call the headroom keeps back: when the wait bound
    ``promoted`` it, the policy's best waiting call if ``held`` does not hold it back; else
    nothing (admission on this backend stops until a slot frees)."""
    if not promoted:
        return None
    best = order.best(state, now)
    return None if held(best.run) else best
