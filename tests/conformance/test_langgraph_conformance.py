"""LangGraph's own tests pass on instrumented graphs wherever they pass on plain ones.

The sdist of the installed langgraph is downloaded at test time (``suite.py``); its test files
run twice, side by side: plain, and with every ``compile()`` and ``@entrypoint`` wrapped in
``instrument()``. Any test that passes plain and fails instrumented fails here. Skipped only
when the sdist (or the two test-only packages it needs) cannot be downloaded.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conformance import suite

GROUPS = {
    "pregel": ("test_pregel.py",),
    "pregel-async": ("test_pregel_async.py",),
    "interrupts-time-travel": (
        "test_interruption.py",
        "test_interrupt_state.py",
        "test_time_travel.py",
        "test_time_travel_async.py",
    ),
    "subgraphs": (
        "test_subgraph_detection.py",
        "test_subgraph_persistence.py",
        "test_subgraph_persistence_async.py",
    ),
    "state-runtime-callbacks": ("test_state.py", "test_runtime.py", "test_graph_callbacks.py"),
}
assert sorted(name for files in GROUPS.values() for name in files) == sorted(suite.FILES)


@pytest.fixture(scope="module")
def langgraph_suite(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[suite.Suite]:
    cache = os.environ.get("HERMES_CONFORMANCE_CACHE")
    if cache is None:
        store = getattr(pytestconfig, "cache", None)  # absent with -p no:cacheprovider
        folder = store.mkdir("hermes-langgraph-suite") if store is not None else None
        cache = str(folder or tmp_path_factory.mktemp("langgraph-suite"))
    try:
        yield suite.prepare(Path(cache))
    except suite.SuiteUnavailableError as error:
        pytest.skip(f"LangGraph's test suite cannot be downloaded: {error}")


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("group", GROUPS)
def test_langgraph_tests_pass_on_instrumented_graphs(
    group: str, langgraph_suite: suite.Suite
) -> None:
    outcomes = suite.run_both(langgraph_suite, GROUPS[group])
    report = f"langgraph {langgraph_suite.version}, {group}:\n{suite.summary(outcomes)}"
    print(report)
    plain, instrumented = outcomes["plain"], outcomes["instrumented"]
    assert list(plain.tests.values()).count("passed") > 0, plain.output
    assert instrumented.graphs > 0, instrumented.output  # the plugin did instrument
    assert instrumented.runs > 0, instrumented.output
    lost = suite.regressions(plain.tests, instrumented.tests)
    assert not lost, f"{report}\n\n{instrumented.output}"
