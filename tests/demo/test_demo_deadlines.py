"""``hermes demo --deadlines``: deadlines drawn from the no-limit run, passed as LangGraph
metadata in the Hermes run, and counted per run; the flag's checks (no server needed)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from hermes_agents.cli import main
from hermes_agents.demo.deadlines import satisfaction, with_deadlines
from hermes_agents.demo.plan import PlannedApp
from hermes_agents.demo.runner import AppOutcome, run_plan


def _plan(apps: int) -> list[PlannedApp]:
    return [PlannedApp(i, "rag" if i % 2 else "react", 0.0, {"i": i}) for i in range(apps)]


def test_deadlines_come_from_the_class_longest_no_limit_time_and_the_seed() -> None:
    plan = _plan(200)
    no_limit = [AppOutcome(p.index, p.app, 0.0, 10.0 if p.app == "rag" else 4.0) for p in plan]
    timed = with_deadlines(plan, no_limit, share=0.5, seed=3)
    assert timed == with_deadlines(plan, no_limit, share=0.5, seed=3)
    given = [(p, p.deadline_s) for p in timed if p.deadline_s is not None]
    assert 0.35 < len(given) / len(plan) < 0.65
    factors = {round(d / (0.7 * (10.0 if p.app == "rag" else 4.0)), 6) for p, d in given}
    assert factors == {1.2, 1.5, 2.0}
    met, total = satisfaction(timed, no_limit)
    # every app took its class's longest time: only factors 1.5 and 2 (x 0.7 > 1) are met
    loose = [p for p, d in given if d > (10.0 if p.app == "rag" else 4.0)]
    assert (met, total) == (len(loose), len(given))


def test_the_hermes_run_passes_each_deadline_in_the_metadata() -> None:
    plan = with_deadlines(
        _plan(4),
        [AppOutcome(i, "rag" if i % 2 else "react", 0.0, 1.0) for i in range(4)],
        share=1.0,
        seed=0,
    )
    seen: list[Any] = []

    def invoke(task: Mapping[str, Any], config: Any = None) -> None:
        seen.append(config)

    run_plan(plan, {"rag": invoke, "react": invoke}, deadlines=True)
    expected = sorted(p.deadline_s for p in plan if p.deadline_s is not None)
    assert sorted(c["metadata"]["hermes_deadline_s"] for c in seen) == expected
    seen.clear()
    run_plan(plan, {"rag": invoke, "react": invoke})  # the other runs: plain invocations
    assert seen == [None] * 4


@pytest.mark.parametrize("share", ["0", "2", "nan"])
def test_the_flag_refuses_a_bad_share(share: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--deadlines", share]) != 0
    assert "--deadlines" in capsys.readouterr().err
