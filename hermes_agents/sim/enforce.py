"""Where the simulator enforces order on LLM backends: the client window, the engine, or both.

``Capacity`` overrides, for every LLM backend of a workload, the client's window
(``max_concurrency``: a number, or ``"auto"``) and where order is enforced (``enforce``):

- ``client``: Hermes admits at most the window, in rank order; calls carry no priority, so an
  engine with priority scheduling serves them first come first served;
- ``engine``: Hermes admits every call at once (the engine's own queue holds them) and each
  carries its run's rank, bucketed by ``hermes_agents.priority.engine_priority``, as the
  engine's request priority (lower first, as vLLM); the engine orders and preempts;
- ``both``: the window, and the priority.

The priority is the core's priority of the task when it is granted (its run's rank for
``gittins``; the true remaining work for ``oracle``), as the real drop-ins send the rank the
grant carries. Engines that enforce anything need limits of their own (``EngineLimits``):
without them every admitted call runs at once and there is nothing to order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from hermes_agents.errors import ValidationError
from hermes_agents.pdgraph import BackendSpec, StageKind
from hermes_agents.priority import Enforce, engine_priority, parse_enforce, sends_priority
from hermes_agents.scheduling.core import SchedulerCore
from hermes_agents.scheduling.decisions import Grant
from hermes_agents.scheduling.state import UNLIMITED
from hermes_agents.sim.plans import AppPlan

ENGINE_WINDOW = UNLIMITED.max_concurrency
"""The client window in ``engine`` mode: every call goes to the engine's own queue."""

Window = int | Literal["auto"]
"""A client window: a fixed number of calls, or ``auto`` (``hermes_agents.sim.auto``)."""


@dataclass(frozen=True)
class Capacity:
    """Client windows and enforcement of a simulation's LLM backends.

    Attributes:
        enforce: every LLM backend's mode; None: each backend's own (its workload ``enforce``).
        max_concurrency: every LLM backend's client window; None: the workload's.
        exact_priorities: send each rank itself as the engine priority, not its bucket
            (``engine_priority``): what the bucketing costs, measured (simulator only).
    """

    enforce: Enforce | None = None
    max_concurrency: Window | None = None
    exact_priorities: bool = False

    def __post_init__(self) -> None:
        if self.enforce is not None:
            parse_enforce(self.enforce, "--enforce")
        cap = self.max_concurrency
        if cap is not None and cap != "auto" and (isinstance(cap, bool) or cap < 1):
            raise ValidationError(f"must be >= 1 or 'auto', got {cap!r}", "--cap")

    def mode(self, spec: BackendSpec) -> Enforce:
        """Where ``spec``'s order is enforced."""
        if spec.kind != StageKind.LLM:
            return "client"
        return self.enforce or spec.enforce

    def window(self, spec: BackendSpec) -> int:
        """The client window ``spec`` starts with (``auto`` starts at the workload's)."""
        if spec.kind != StageKind.LLM:
            return spec.max_concurrency
        if self.mode(spec) == "engine":
            return ENGINE_WINDOW
        cap = self.max_concurrency
        return spec.max_concurrency if cap is None or cap == "auto" else cap

    def auto(self, spec: BackendSpec) -> bool:
        """Whether ``spec``'s window follows the engine (``auto``, not in ``engine`` mode)."""
        return (
            spec.kind == StageKind.LLM
            and self.max_concurrency == "auto"
            and self.mode(spec) != "engine"
        )

    def label(self) -> str:
        """How a report names this choice: ``cap 64``, ``auto``, ``engine``, ``both auto``."""
        cap = self.max_concurrency
        window = "" if cap is None else ("auto" if cap == "auto" else f"cap {cap}")
        if self.enforce in (None, "client"):
            return window or "workload"
        if self.enforce == "engine":
            return "engine"
        return f"both {window}".strip()


class EnginePriorities:
    """The engine priority of each granted call (0 on backends that send none)."""

    def __init__(
        self,
        core: SchedulerCore,
        specs: Mapping[str, BackendSpec],
        capacity: Capacity,
    ) -> None:
        self.core = core
        self.exact = capacity.exact_priorities
        self.sending = frozenset(
            name for name, spec in specs.items() if sends_priority(capacity.mode(spec))
        )

    def of(self, grant: Grant) -> float:
        """The priority ``grant``'s call carries to its engine (lower is served first)."""
        if grant.backend not in self.sending:
            return 0.0
        task = self.core.tasks.get(grant.task_id)
        if task is None:
            return 0.0
        rank = self.core.order.priority(task, self.core.clock())
        return rank if self.exact else float(engine_priority(rank, "lower-first"))


@dataclass(frozen=True)
class LlmWork:
    """The LLM calls and output tokens of a set of apps, for throughput."""

    calls: int
    output_tokens: int

    @classmethod
    def of(cls, plans: Sequence[AppPlan]) -> LlmWork:
        """Count the LLM work of ``plans``."""
        calls = tokens = 0
        for plan in plans:
            for visit in plan.visits:
                if visit.kind == StageKind.LLM:
                    calls += len(visit.calls)
                    tokens += sum(call.output_tokens for call in visit.calls)
        return cls(calls, tokens)
