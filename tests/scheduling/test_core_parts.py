"""The core is put together from mixins (admission, run end, run changes, warm-up planning,
capacity changes): each method it ends up with must be a real one, never a placeholder one
part declared for another (a stub earlier in the method order would shadow the real one)."""

from __future__ import annotations

import inspect

from hermes_agents.scheduling.core import SchedulerCore


def test_every_method_of_the_core_is_real() -> None:
    for name, method in inspect.getmembers(SchedulerCore, inspect.isfunction):
        body = inspect.getsource(method)
        assert "NotImplementedError" not in body, f"SchedulerCore.{name} is a stub"
        assert not body.rstrip().endswith("..."), f"SchedulerCore.{name} is a stub"
