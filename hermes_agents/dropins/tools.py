"""``@hermes_agents.tool``: schedule any callable, sync or async, as a task on a backend.

>>> from hermes_agents import tool
>>> @tool(backend="sandbox")
... def run_tests(code: str) -> bool:
...     return "assert" in code
>>> run_tests("assert 1")
True

Works bare (``@tool``: backend ``"tools"``) and with arguments; ``enabled=False`` turns it
into a plain pass-through. The stage is ``stage=`` if given; else, called inside an instrumented
LangGraph node, that node (its calls then belong to the node's visit, like the drop-in clients');
else the function's name.
Exceptions raised by the function pass through unchanged; the slot is always released. A tool
called inside another tool on the same backend is part of the outer call (it takes no second
slot: see ``hermes_agents.scheduling.slot``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar, cast, overload

from hermes_agents.scheduling.default import check_environment
from hermes_agents.scheduling.interface import Scheduler
from hermes_agents.scheduling.slot import Slot, nested_calls

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_TOOL_BACKEND = "tools"


@overload
def tool(fn: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def tool(
    *,
    backend: str = DEFAULT_TOOL_BACKEND,
    stage: str | None = None,
    estimate_s: float = 0.0,
    enabled: bool = True,
    scheduler: Scheduler | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def tool(
    fn: Callable[P, R] | None = None,
    /,
    *,
    backend: str = DEFAULT_TOOL_BACKEND,
    stage: str | None = None,
    estimate_s: float = 0.0,
    enabled: bool = True,
    scheduler: Scheduler | None = None,
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Schedule calls of the decorated function on ``backend`` (see the module docstring)."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        if not enabled:
            return function
        if scheduler is None:
            check_environment()  # a bad HERMES_SCHEDULER / HERMES_CONFIG fails here, not later
        name = getattr(function, "__name__", "tool")

        def slot() -> Slot:
            # Inside an instrumented LangGraph node the call belongs to that node's visit,
            # as the drop-in clients' calls do; elsewhere the stage is the function's name.
            return Slot(scheduler, backend, stage=stage, default_stage=name, estimate_s=estimate_s)

        if inspect.iscoroutinefunction(function):
            async_function = cast(Callable[P, Awaitable[Any]], function)

            @functools.wraps(function)
            async def run_async(*args: P.args, **kwargs: P.kwargs) -> Any:
                async with slot() as held:
                    with nested_calls(held):
                        return await async_function(*args, **kwargs)

            return cast(Callable[P, R], run_async)

        @functools.wraps(function)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            with slot() as held, nested_calls(held):
                return function(*args, **kwargs)

        return run

    return decorate(fn) if fn is not None else decorate
