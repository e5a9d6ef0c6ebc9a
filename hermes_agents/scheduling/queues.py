"""The per-backend queues of a core: configured ones, and ones made on first use.

A backend the configuration does not name gets ``default_limits`` when a call first names it
(no default: the name is refused with the configured ones listed). Those are kept least
recently used first, and idle ones beyond ``MAX_UNCONFIGURED_BACKENDS`` are forgotten, so that
a stream of made-up backend names cannot grow the scheduler without bound. ``overdue`` finds
the running tasks held past their backend's hold bound (``BackendLimits.max_hold_s``).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Mapping

from hermes_agents.errors import ValidationError
from hermes_agents.scheduling.state import BackendLimits, QueueState, Task

MAX_UNCONFIGURED_BACKENDS = 1_000
"""Unconfigured backends whose queues are kept; idle ones beyond it are forgotten (LRU)."""


class Queues:
    """Backend name -> its ``QueueState`` (see the module docstring); ``states`` is the dict."""

    def __init__(
        self, limits: Mapping[str, BackendLimits], default_limits: BackendLimits | None
    ) -> None:
        self.states = {name: QueueState(name, value) for name, value in limits.items()}
        self.default_limits = default_limits
        self.configured = frozenset(limits)
        """The backends the configuration names (never evicted)."""
        self._unconfigured: OrderedDict[str, None] = OrderedDict()

    def get(self, name: str) -> QueueState:
        """The queue of ``name``, made from ``default_limits`` on first use."""
        state = self.states.get(name)
        if state is None:
            if self.default_limits is None:
                raise ValidationError(
                    f"unknown backend; configure it or use one of {sorted(self.states)}",
                    f"backend {name!r}",
                )
            state = self.states[name] = QueueState(name, self.default_limits)
            self._unconfigured[name] = None
            self._evict()
        elif name not in self.configured:
            self._unconfigured.move_to_end(name)
        return state

    def overdue(self, now: float) -> tuple[list[Task], float]:
        """Running tasks held past their backend's hold bound (oldest first per backend), and
        when the next one may overstay (``inf``: none can)."""
        found: list[Task] = []
        earliest = math.inf
        for state in self.states.values():
            hold = state.limits.max_hold_s
            if hold is None:
                continue
            for task in state.running.values():  # running keeps grant order: oldest first
                assert task.started_at is not None
                if now - task.started_at < hold:
                    earliest = min(earliest, task.started_at + hold)
                    break
                found.append(task)
        return found, earliest

    def _evict(self) -> None:
        excess = len(self._unconfigured) - MAX_UNCONFIGURED_BACKENDS
        for name in list(self._unconfigured)[: max(0, excess)]:
            state = self.states[name]
            if not state.running and not state.waiting:
                del self.states[name]
                del self._unconfigured[name]
