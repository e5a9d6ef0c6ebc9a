"""The tier headroom in the simulator (``sim.tiers``, small scale): while critical work is about,
no sheddable call of the burst starts beyond its tier's share of the LLM slots; without the
headroom they take more, and the critical tier's ACT under the burst is worse. Figures of
the virtual clock, not timings."""

from __future__ import annotations

from hermes_agents.scheduling.core import SchedulerCore
from hermes_agents.scheduling.reserve import sheddable_slots
from hermes_agents.scheduling.state import QueueState, Task
from hermes_agents.scheduling.tiers import Tier
from hermes_agents.sim.simulator import SimConfig
from hermes_agents.sim.tiers import burst_effect, burst_scenario

SMALL = {"apps": 40, "burst": 20, "burst_at_s": 60.0, "seed": 0}


def most_sheddable_beside_critical(share: float) -> tuple[int, int]:
    """The most sheddable calls running on ``llm`` when one was admitted while critical work
    was about there (a critical call running, or one submitted in the last
    ``reserve_window_s``), and that backend's share in slots."""
    scenario = burst_scenario(**SMALL)  # type: ignore[arg-type]
    config = SimConfig(policy="gittins+tiers", sheddable_share=share)
    simulation = scenario.simulation(config, with_burst=True)
    core: SchedulerCore = simulation.core
    admit = core._admit
    most = [0]

    def watched(state: QueueState, task: Task, now: float) -> None:
        tiers = [t.run.tier for t in state.running.values()]
        about = Tier.CRITICAL in tiers or now - state.higher_seen_s < state.limits.reserve_window_s
        admit(state, task, now)
        if state.name == "llm" and task.run.tier is Tier.SHEDDABLE and about:
            most[0] = max(most[0], tiers.count(Tier.SHEDDABLE) + 1)

    core._admit = watched  # type: ignore[method-assign]
    result = simulation.run()
    assert len(result.act_s) == len(scenario.critical) + len(scenario.burst)  # all finished
    return most[0], sheddable_slots(core.backends["llm"].limits)


def test_the_burst_holds_at_most_its_share_of_the_llm_slots() -> None:
    most, share_slots = most_sheddable_beside_critical(0.125)
    assert share_slots == 2  # 16 slots
    assert 1 <= most <= share_slots


def test_without_the_headroom_the_burst_takes_more() -> None:
    most, _ = most_sheddable_beside_critical(1.0)
    assert most > 2


def test_the_headroom_lowers_the_critical_act_under_the_burst() -> None:
    kept = burst_effect("gittins+tiers", **SMALL)  # type: ignore[arg-type]
    unkept = burst_effect("gittins+tiers", sheddable_share=1.0, **SMALL)  # type: ignore[arg-type]
    assert kept.quiet_p95_s == unkept.quiet_p95_s  # no sheddable work: the rule is idle
    assert kept.burst_p95_s < unkept.burst_p95_s
    assert kept.burst_mean_s < unkept.burst_mean_s
    assert kept.sheddable_mean_s > unkept.sheddable_mean_s  # what the headroom costs the batch
