"""Bad numbers and names at every boundary: refused with a clear error in process, refused by
the protocol, dropped when a backend reports them, and never learned (issue 13, item 1)."""

from __future__ import annotations

import logging
import math
import time

import pytest

from hermes_agents.bounds import MAX_CALL_S
from hermes_agents.errors import ValidationError
from hermes_agents.pdgraph import Call
from hermes_agents.scheduling import BackendLimits, SchedulerCore, Usage
from hermes_agents.scheduling.models import AppModels
from hermes_agents.scheduling.policies import policy_named
from hermes_agents.scheduling.runtime import LocalScheduler

BAD_SECONDS = [math.nan, math.inf, -math.inf, -1.0, 1e308, True, "1"]


@pytest.fixture
def scheduler() -> LocalScheduler:
    return LocalScheduler.in_process({"llm": BackendLimits(1)})


@pytest.mark.parametrize("value", BAD_SECONDS)
def test_a_bad_estimate_or_timeout_is_a_validation_error_naming_the_field(
    scheduler: LocalScheduler, value: object
) -> None:
    with pytest.raises(ValidationError, match="estimate_s"):
        scheduler.slot("llm", estimate_s=value)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="timeout"):
        scheduler.slot("llm", timeout=value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [-1, 10**12, 1.5, True])
def test_bad_token_counts_are_refused(scheduler: LocalScheduler, value: object) -> None:
    with pytest.raises(ValidationError, match="tokens"):
        scheduler.slot("llm", tokens=value)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["", "x" * 257, "qa\ud800", "qa\x1b[2J", "line\nbreak"])
def test_names_that_cannot_be_printed_or_stored_are_refused(
    scheduler: LocalScheduler, name: str
) -> None:
    with pytest.raises(ValidationError, match="'app'"):
        scheduler.run(name)
    with pytest.raises(ValidationError, match="'backend'"):
        scheduler.slot(name)
    with pytest.raises(ValidationError, match="'stage'"):
        scheduler.slot("llm", stage=name)


@pytest.mark.parametrize("name", [["llm"], {"llm": 1}, None, 7, b"llm"])
def test_a_name_that_is_not_a_string_is_a_validation_error_not_a_type_error(
    scheduler: LocalScheduler, name: object
) -> None:
    # an unhashable name once escaped as TypeError from the known-names lookup
    with pytest.raises(ValidationError, match=r"'app'.*must be a string"):
        scheduler.run(name)  # type: ignore[arg-type]
    if name is not None:
        with pytest.raises(ValidationError, match=r"'backend'.*must be a string"):
            scheduler.slot(name)  # type: ignore[arg-type]
        with pytest.raises(ValidationError, match=r"'stage'.*must be a string"):
            scheduler.slot("llm", stage=name)  # type: ignore[arg-type]


def test_a_deadline_must_be_finite(scheduler: LocalScheduler) -> None:
    with pytest.raises(ValidationError, match="deadline"):
        scheduler.run("qa", deadline=math.inf)


def test_absurd_usage_from_a_backend_is_dropped_once_per_backend_and_never_learned(
    caplog: pytest.LogCaptureFixture,
) -> None:
    models = AppModels()
    scheduler = LocalScheduler.in_process({"llm": BackendLimits(1)}, models=models)
    with caplog.at_level(logging.WARNING):
        for _ in range(12):
            with scheduler.run("qa"), scheduler.slot("llm", stage="answer") as slot:
                slot.usage = Usage(prompt_tokens=10, output_tokens=5, seconds=1e308)
                assert all(math.isfinite(run.attained_s) for run in scheduler.core.runs.values())
    assert caplog.text.count("reported unusable usage") == 1
    graph = models.graph("qa")
    assert graph is not None
    seconds = graph.stages["answer"].seconds
    assert seconds is None or seconds.mean < MAX_CALL_S  # only measured seconds were learned
    assert scheduler.snapshot()["apps"] == []  # the status still renders


def test_the_core_never_lets_a_bad_usage_reach_a_rank() -> None:
    core = SchedulerCore({"llm": BackendLimits(1)}, policy_named("gittins"), time.monotonic)
    core.start_run("r", "qa")
    for _ in range(3):
        task = core.submit("r", "llm", stage="answer", estimate_s=2.0)
        core.step()
        core.release(task, Usage(seconds=1e308))
    assert core.runs["r"].attained_s == pytest.approx(6.0)  # priced by the estimates
    assert math.isfinite(core.runs["r"].rank)


def test_the_learner_refuses_samples_out_of_bounds() -> None:
    with pytest.raises(ValidationError, match="prompt_tokens"):
        Call(prompt_tokens=10**12)
    with pytest.raises(ValidationError, match="seconds"):
        Call(seconds=1e308)
