"""``@tool``: bare and with arguments, sync and async, off switch, capacity."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from hermes_agents import tool
from hermes_agents.scheduling import BackendLimits
from hermes_agents.scheduling.default import get_scheduler, set_scheduler
from hermes_agents.scheduling.runtime import LocalScheduler


@pytest.fixture
def scheduler() -> Iterator[LocalScheduler]:
    scheduler = LocalScheduler.in_process({"sandbox": BackendLimits(1), "tools": BackendLimits(1)})
    set_scheduler(scheduler)
    yield scheduler
    set_scheduler(None)


def test_bare_decorator_uses_the_default_scheduler(scheduler: LocalScheduler) -> None:
    @tool
    def double(x: int) -> int:
        return 2 * x

    assert double(4) == 8
    assert double.__name__ == "double"
    assert scheduler.core.backends["tools"].granted == 1


def test_async_tool_is_scheduled_and_serialised(scheduler: LocalScheduler) -> None:
    inside = 0
    peak = 0

    @tool(backend="sandbox", stage="execute")
    async def execute(code: str) -> str:
        nonlocal inside, peak
        inside += 1
        peak = max(peak, inside)
        await asyncio.sleep(0.001)
        inside -= 1
        return code.upper()

    async def main() -> list[str]:
        return await asyncio.gather(*(execute(c) for c in "abcde"))

    assert asyncio.run(main()) == list("ABCDE")
    assert peak == 1
    assert scheduler.core.backends["sandbox"].granted == 5


def test_errors_pass_through_and_release(scheduler: LocalScheduler) -> None:
    @tool(backend="sandbox")
    def broken() -> None:
        raise ValueError("user bug")

    with pytest.raises(ValueError, match="user bug"):
        broken()
    assert scheduler.core.backends["sandbox"].running == {}


def test_off_switch_returns_the_function_itself(scheduler: LocalScheduler) -> None:
    def plain() -> int:
        return 1

    assert tool(enabled=False)(plain) is plain


def test_threads_calling_a_tool_share_its_capacity(scheduler: LocalScheduler) -> None:
    lock = threading.Lock()
    inside = peak = 0

    @tool(backend="sandbox")
    def work() -> None:
        nonlocal inside, peak
        with lock:
            inside += 1
            peak = max(peak, inside)
        with lock:
            inside -= 1

    threads = [threading.Thread(target=lambda: [work() for _ in range(20)]) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak == 1
    assert get_scheduler() is scheduler


def test_a_tool_called_in_an_instrumented_node_joins_that_nodes_visit() -> None:
    from typing import TypedDict

    from langgraph.graph import END, START, StateGraph

    from hermes_agents.langgraph import instrument
    from tests.doubles import RecordingModels, capacity_one_scheduler

    models = RecordingModels()
    scheduler = capacity_one_scheduler(models)

    @tool(backend="sandbox", scheduler=scheduler)
    def run_checks(code: str) -> bool:
        return "assert" in code

    @tool(backend="sandbox", stage="lint", scheduler=scheduler)
    def lint(code: str) -> bool:
        return True

    class State(TypedDict):
        code: str
        ok: bool

    def test(state: State) -> State:
        return {"code": state["code"], "ok": run_checks(state["code"]) and lint(state["code"])}

    builder = StateGraph(State)
    builder.add_node("test", test)
    builder.add_edge(START, "test")
    builder.add_edge("test", END)
    app = instrument(builder.compile(), name="checker", scheduler=scheduler)
    assert app.invoke({"code": "assert 1", "ok": False})["ok"] is True
    ((name, run),) = models.runs
    assert name == "checker"
    assert [(v.stage, v.backend, len(v.calls)) for v in run] == [
        ("test", "sandbox", 1),  # the unnamed tool joined the node's visit
        ("lint", "sandbox", 1),  # stage= opens a stage of its own
    ]
