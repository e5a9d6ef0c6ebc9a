"""A pytest plugin for LangGraph's own test suite: every graph the tests build is instrumented.

Loaded with ``-p instrument_plugin`` (``suite.py`` puts this folder on ``PYTHONPATH``), in
both conformance runs. It writes each test's outcome to ``$HERMES_CONFORMANCE_REPORT`` (JSON:
``outcomes``: node id -> ``passed`` / ``failed`` / ``skipped``; ``graphs`` and ``runs``: how
many graphs were instrumented and app runs started); with ``HERMES_CONFORMANCE_INSTRUMENT=1``
it also wraps every ``StateGraph.compile()`` and every ``@entrypoint`` in ``instrument()``,
with an in-process scheduler whose backends are unlimited (no call ever waits, so any
difference is the instrumentation's, not the scheduling's).
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

import pytest

_OUTCOMES: dict[str, str] = {}
_COUNTS = {"graphs": 0, "runs": 0}
"""Graphs instrumented and app runs started: proof that the instrumented run instrumented."""


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("HERMES_CONFORMANCE_INSTRUMENT") == "1":
        _instrument_every_graph()


def _instrument_every_graph() -> None:
    from langgraph.func import entrypoint
    from langgraph.graph.state import StateGraph

    from hermes_agents.langgraph import instrument
    from hermes_agents.scheduling import LocalScheduler, set_scheduler

    class CountingScheduler(LocalScheduler):
        def start_run(
            self, run_id: str, app: str, *, deadline: float | None = None, tier: Any = None
        ) -> None:
            _COUNTS["runs"] += 1
            super().start_run(run_id, app, deadline=deadline, tier=tier)

    scheduler = CountingScheduler(LocalScheduler.in_process().core)
    set_scheduler(scheduler)
    compile_graph = StateGraph.compile

    @functools.wraps(compile_graph)
    def compile_instrumented(self: Any, *args: Any, **kwargs: Any) -> Any:
        graph = compile_graph(self, *args, **kwargs)
        _COUNTS["graphs"] += 1
        return instrument(graph, name=graph.name, scheduler=scheduler)

    build_entrypoint = entrypoint.__call__

    @functools.wraps(build_entrypoint)
    def entrypoint_instrumented(self: Any, func: Any) -> Any:
        graph = build_entrypoint(self, func)
        _COUNTS["graphs"] += 1
        return instrument(graph, name=graph.name, scheduler=scheduler)

    StateGraph.compile = compile_instrumented  # type: ignore[method-assign]
    entrypoint.__call__ = entrypoint_instrumented  # type: ignore[method-assign]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    previous = _OUTCOMES.get(report.nodeid)
    if report.failed:
        _OUTCOMES[report.nodeid] = "failed"
    elif report.skipped and previous != "failed":
        _OUTCOMES[report.nodeid] = "skipped"
    elif report.when == "call" and previous is None:
        _OUTCOMES[report.nodeid] = "passed"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    target = os.environ.get("HERMES_CONFORMANCE_REPORT")
    if target:
        report = {"outcomes": _OUTCOMES, **_COUNTS}
        Path(target).write_text(json.dumps(report, indent=0, sort_keys=True), "utf-8")
