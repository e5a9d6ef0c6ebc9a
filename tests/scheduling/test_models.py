"""AppModels: when the remaining-demand sampler of an app class is rebuilt."""

from __future__ import annotations

from hermes_agents.pdgraph import Call, StageKind, Visit
from hermes_agents.scheduling.models import AppModels


def _run(seconds: float) -> list[Visit]:
    return [Visit("work", StageKind.TOOL, "tools", (Call(seconds=seconds),))]


def test_the_sampler_is_rebuilt_after_enough_runs_and_enough_time() -> None:
    now = [0.0]
    models = AppModels(refresh_every=3, min_refresh_s=5.0, clock=lambda: now[0])
    assert models.demand("job") is None  # nothing known yet
    models.observe("job", _run(1.0))
    first = models.demand("job")
    assert first is not None
    for _ in range(5):
        models.observe("job", _run(1.0))
    assert models.demand("job") is first  # enough runs, but too soon
    now[0] = 5.0
    second = models.demand("job")
    assert second is not first  # enough runs and enough time
    now[0] = 100.0
    models.observe("job", _run(1.0))
    assert models.demand("job") is second  # enough time, too few runs
