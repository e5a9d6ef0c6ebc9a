"""PDGraph JSON round trips and validation errors that name app, stage and field."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from hermes_agents import PDGraph, ValidationError
from hermes_agents.pdgraph import Stage, StageKind, Workload
from hermes_agents.workloads import builtin
from tests.pdgraph.graphs import app, tool_stage


def test_round_trip_keeps_specs_and_samples(react_app: dict[str, Any]) -> None:
    graph = PDGraph.from_dict(react_app, seed=3)
    again = PDGraph.from_json(graph.to_json(), seed=3)
    assert again.to_dict() == graph.to_dict()
    assert graph.to_dict()["stages"]["thought"]["prompt_tokens"] == {"normal": [1168, 175]}
    for name, stage in graph.stages.items():
        assert np.array_equal(stage.fanout.samples, again.stages[name].fanout.samples)
        tokens = stage.prompt_tokens
        if tokens is not None:
            assert np.array_equal(tokens.samples, again.stages[name].prompt_tokens.samples)  # type: ignore[union-attr]


def test_public_surface(react_app: dict[str, Any]) -> None:
    graph = PDGraph.from_dict(react_app)
    assert graph.successors("thought") == {"search": 0.54, "END": 0.46}
    thought = graph.stages["thought"]
    assert isinstance(thought, Stage)
    assert thought.kind is StageKind.LLM
    assert thought.backend == "llm"
    assert graph.weight == 4
    assert set(graph.to_networkx().edges) == {
        ("thought", "search"),
        ("thought", "END"),
        ("search", "thought"),
    }


def test_missing_next_means_end_and_missing_fanout_means_one() -> None:
    graph = PDGraph.from_dict(
        app("a", {"a": {"kind": "tool", "backend": "t", "seconds": {"const": 1}}})
    )
    assert graph.successors("a") == {"END": 1.0}
    assert graph.stages["a"].fanout.samples.tolist() == [1.0]
    assert "fanout" not in graph.to_dict()["stages"]["a"]


def test_workload_round_trip_and_app_selection() -> None:
    workload = builtin("paper-mix")
    assert len(workload.apps) == 9
    again = Workload.from_json(workload.to_json())
    assert again.to_dict() == workload.to_dict()
    graph = PDGraph.from_json(workload.to_json(), app="react_alfw")
    assert graph.successors("thought") == {"thought": 0.936, "END": 0.064}
    with pytest.raises(ValidationError, match="pass app="):
        PDGraph.from_json(workload.to_json())


def bad(stages: dict[str, Any], entry: str = "a") -> str:
    with pytest.raises(ValidationError) as caught:
        PDGraph.from_dict(app(entry, stages, name="demo"))
    return str(caught.value)


@pytest.mark.parametrize(
    ("stages", "where", "what"),
    [
        ({"a": tool_stage(1, {"END": 0.5})}, "stage 'a', field 'next'", "sum to 0.5"),
        ({"a": tool_stage(1, {"END": 1.2, "a": -0.2})}, "stage 'a', field 'next'", "[0, 1]"),
        ({"a": tool_stage(1, {"b": 1.0})}, "stage 'a', field 'next'", "'b' is not a stage"),
        ({"a": tool_stage(1, {"a": 1.0})}, "stage 'a', field 'next'", "never reach END"),
        ({"a": {"kind": "gpu", "backend": "t"}}, "stage 'a', 'kind'", "unknown kind 'gpu'"),
        (
            {"a": {"kind": "llm", "backend": "t", "prompt_tokens": {"const": 1}}},
            "stage 'a', field 'output_tokens'",
            "needs 'output_tokens'",
        ),
        (
            {"a": tool_stage(1, {"END": 1}, prompt_tokens={"const": 3})},
            "stage 'a', field 'prompt_tokens'",
            "not used by a tool stage",
        ),
        (
            {"a": tool_stage(1, {"END": 1}, colour="red")},
            "stage 'a'",
            "unknown field(s) ['colour']",
        ),
        ({"a": {"kind": "tool", "seconds": {"const": 1}}}, "stage 'a', field 'backend'", "backend"),
        (
            {"a": {"kind": "tool", "backend": "t", "seconds": {"samples": [1, -1]}}},
            "stage 'a', field 'seconds'",
            "negative",
        ),
        (
            {"a": tool_stage(1, {"END": 1}, next_by_visit={"0": {"END": 1}})},
            "stage 'a', field 'next_by_visit'",
            "integers >= 1",
        ),
        (
            {"a": tool_stage(1, {"END": 1}, next_by_visit={"2": {"END": 0.3}})},
            "stage 'a'",
            "sum to 0.3",
        ),
    ],
)
def test_errors_name_app_stage_and_field(stages: dict[str, Any], where: str, what: str) -> None:
    message = bad(stages)
    assert message.startswith("app 'demo'")
    assert where in message
    assert what in message


def test_loop_that_cannot_exit_is_named_even_when_entered_later() -> None:
    message = bad({"a": tool_stage(1, {"b": 0.5, "END": 0.5}), "b": tool_stage(1, {"b": 1.0})})
    assert "stage 'b'" in message
    assert "never reach END" in message


def test_entry_must_be_a_stage() -> None:
    assert "entry 'zz' is not a stage" in bad({"a": tool_stage(1, {"END": 1})}, entry="zz")


def test_nan_in_json_samples_is_rejected() -> None:
    text = json.dumps(
        app(
            "a",
            {"a": {"kind": "tool", "backend": "t", "seconds": {"samples": [1.0, float("nan")]}}},
        )
    )
    with pytest.raises(ValidationError, match="stage 'a', field 'seconds'"):
        PDGraph.from_json(text)


def test_not_json_is_a_clear_error() -> None:
    with pytest.raises(ValidationError, match="not valid JSON"):
        PDGraph.from_json("{oops")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda w: w["apps"]["a"]["stages"]["a"].update(backend="nope"),
            "app 'a', stage 'a', field 'backend': backend 'nope' is not declared",
        ),
        (
            lambda w: w["backends"]["t"].update(kind="llm"),
            "a tool stage cannot run on llm backend 't'",
        ),
        (
            lambda w: w["backends"]["t"].update(max_concurrency=0),
            "backend 't', field 'max_concurrency'",
        ),
        (
            lambda w: w["backends"]["t"].update(prefill_s_per_token=1e-4),
            "apply to llm backends only",
        ),
        (lambda w: w["arrivals"].update(process="burst"), "unknown process 'burst'"),
        (lambda w: w.update(extra=1), "unknown field(s) ['extra']"),
    ],
)
def test_workload_errors(change: Any, message: str) -> None:
    data: dict[str, Any] = {
        "name": "w",
        "apps": {"a": {"entry": "a", "stages": {"a": tool_stage(1, {"END": 1})}}},
        "backends": {"t": {"kind": "tool", "max_concurrency": 2}},
        "arrivals": {"process": "poisson", "rate_per_s": 1, "count": 5},
    }
    change(data)
    with pytest.raises(ValidationError) as caught:
        Workload.from_dict(data)
    assert message in str(caught.value)


def test_workload_file_errors_start_with_the_path(tmp_path: Any) -> None:
    path = tmp_path / "w.json"
    path.write_text(
        json.dumps({"apps": {"a": {"entry": "x", "stages": {"x": tool_stage(1, {"END": 0.9})}}}})
    )
    with pytest.raises(ValidationError) as caught:
        Workload.load(path)
    assert str(caught.value).startswith(f"{path}, app 'a', stage 'x', field 'next'")
