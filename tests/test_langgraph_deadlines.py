"""Deadlines and tiers of instrumented LangGraph graphs: ``instrument(..., slo_s=, tier=)``
defaults, per-invocation config metadata (``hermes_deadline_s``, ``hermes_tier``), the class's
configured level when neither is given, and bad values refused with the key named."""

from __future__ import annotations

import math
from typing import Any, TypedDict

import pytest
from langgraph.graph import START, StateGraph

from hermes_agents.errors import ValidationError
from hermes_agents.langgraph import instrument
from hermes_agents.scheduling import LocalScheduler
from hermes_agents.scheduling.tiers import ClassLevel, Tier


class State(TypedDict, total=False):
    seen: list[Any]


def _graph(scheduler: LocalScheduler) -> Any:
    """One node that records its run's deadline (seconds from now) and tier."""

    def look(state: State) -> dict[str, Any]:
        run_id = scheduler.current_run_id()
        assert run_id is not None
        run = scheduler.core.runs[run_id]
        left = None if run.deadline is None else run.deadline - scheduler.core.clock()
        return {"seen": [left, run.tier]}

    builder = StateGraph(State)
    builder.add_node("look", look)
    builder.add_edge(START, "look")
    return builder.compile()


def _seen(result: dict[str, Any]) -> tuple[float | None, Tier]:
    left, tier = result["seen"]
    return (None if left is None else round(left)), tier


@pytest.fixture
def scheduler() -> LocalScheduler:
    return LocalScheduler.in_process(policy="hermes-ddl+tiers")


def test_instrument_gives_every_run_its_slo_and_tier(scheduler: LocalScheduler) -> None:
    app = instrument(_graph(scheduler), name="chat", scheduler=scheduler, slo_s=30, tier="critical")
    assert _seen(app.invoke({})) == (30, Tier.CRITICAL)


def test_metadata_sets_one_invocations_deadline_and_tier(scheduler: LocalScheduler) -> None:
    app = instrument(_graph(scheduler), name="chat", scheduler=scheduler, slo_s=30)
    metadata = {"hermes_deadline_s": 5.0, "hermes_tier": "sheddable"}
    assert _seen(app.invoke({}, config={"metadata": metadata})) == (5, Tier.SHEDDABLE)
    assert _seen(app.invoke({})) == (30, Tier.STANDARD)  # the next run has the defaults


def test_with_config_metadata_applies_to_the_copy(scheduler: LocalScheduler) -> None:
    app = instrument(_graph(scheduler), name="chat", scheduler=scheduler)
    urgent = app.with_config(metadata={"hermes_deadline_s": 2})
    assert _seen(urgent.invoke({})) == (2, Tier.STANDARD)


def test_without_either_the_configured_class_level_applies(scheduler: LocalScheduler) -> None:
    scheduler.core.levels["chat"] = ClassLevel(Tier.CRITICAL, slo_s=12.0)
    app = instrument(_graph(scheduler), name="chat", scheduler=scheduler)
    assert _seen(app.invoke({})) == (12, Tier.CRITICAL)
    assert _seen(instrument(_graph(scheduler), name="other", scheduler=scheduler).invoke({})) == (
        None,
        Tier.STANDARD,
    )


@pytest.mark.parametrize("value", [math.nan, math.inf, -1, 0, 1e308, "3"], ids=repr)
def test_bad_values_are_refused_with_the_key_named(scheduler: LocalScheduler, value: Any) -> None:
    graph = _graph(scheduler)
    with pytest.raises(ValidationError, match="field 'slo_s'"):
        instrument(graph, name="chat", scheduler=scheduler, slo_s=value)
    app = instrument(graph, name="chat", scheduler=scheduler)
    with pytest.raises(ValidationError, match="metadata hermes_deadline_s"):
        app.invoke({}, config={"metadata": {"hermes_deadline_s": value}})
    with pytest.raises(ValidationError, match="metadata hermes_tier"):
        app.invoke({}, config={"metadata": {"hermes_tier": "gold"}})
    assert scheduler.core.runs == {}


def test_the_decorator_form_takes_them_too(scheduler: LocalScheduler) -> None:
    @instrument(name="chat", scheduler=scheduler, slo_s=7, tier="sheddable")
    def build() -> Any:
        return _graph(scheduler)

    assert _seen(build().invoke({})) == (7, Tier.SHEDDABLE)
