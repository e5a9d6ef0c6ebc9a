"""AppModels: when the remaining-demand sampler of an app class is rebuilt."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import cast

import pytest

from hermes_agents.pdgraph import Call, RemainingDemand, StageKind, Visit
from hermes_agents.pdgraph.prior import structural_prior
from hermes_agents.scheduling.models import AppModels
from hermes_agents.scheduling.state import Run
from hermes_agents.store import ProfileStore


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


class _BrokenDemand:
    """A remaining-demand model whose every query fails."""

    class graph:  # noqa: N801 (mimics the attribute the run reads)
        stages = frozenset({"work"})

    def table(self, *args: object) -> object:
        raise RuntimeError("broken model")


def test_a_broken_model_falls_back_to_estimates_and_warns_once_per_app(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runs = [
        Run(f"r{i}", "flaky-app", 0.0, cast(RemainingDemand, _BrokenDemand()), fallback_s=2.0)
        for i in range(3)
    ]
    with caplog.at_level(logging.WARNING):
        for run in runs:
            run.stage = "work"
            assert run.rank == 2.0
    assert len(caplog.records) == 1
    assert "flaky-app" in caplog.records[0].getMessage()


def test_profiles_outlive_the_process_through_the_store(tmp_path: Path) -> None:
    path = tmp_path / "profiles.sqlite3"
    with ProfileStore(path) as store:
        first = AppModels(store=store)
        for seconds in (1.0, 2.0, 3.0, 4.0, 5.0, 6.0):
            first.observe("job", _run(seconds))
    with ProfileStore(path) as store:  # a new process, later
        restarted = AppModels(store=store)
        graph = restarted.graph("job")
        assert graph is None  # nothing loaded until the app is used
        learner = restarted.add("job")
        assert learner.runs_observed == 6
        learned = restarted.graph("job")
        assert learned is not None
        observed = learned.stages["work"].seconds
        assert observed is not None
        assert sorted(observed.samples.tolist()) == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]


def test_the_prior_is_kept_in_the_store_for_hermes_graph(tmp_path: Path) -> None:
    prior = structural_prior("job", "work", {"work": ["work", "END"]}, kinds={"work": "tool"})
    with ProfileStore(tmp_path / "profiles.sqlite3") as store:
        AppModels(store=store).add("job", prior)
        stored = store.prior("job")
        assert stored is not None
        assert stored.to_dict() == prior.to_dict()
        assert store.learner("job").prior is not None  # what `hermes graph` builds on


def test_a_failing_store_never_stops_learning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = ProfileStore(tmp_path / "profiles.sqlite3")
    models = AppModels(store=store)
    store.close()
    (tmp_path / "profiles.sqlite3").unlink()
    (tmp_path / "profiles.sqlite3").mkdir()  # nothing can be written there any more
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            models.observe("job", _run(1.0))
    assert models.add("job").runs_observed == 3
    assert len(caplog.records) == 1
