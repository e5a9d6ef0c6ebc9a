"""A backend's capacity changed at run time (``max_concurrency = "auto"``): the core's part.

``hermes_agents.capacity`` decides the window off the lock; the driver's owner then calls
``set_capacity`` (under its lock, or on its event loop) and runs one step: the grants the new
window allows come out of that step. A smaller window takes no slot back: it only stops new
grants until fewer calls run than it allows.
"""

from __future__ import annotations

import dataclasses

from hermes_agents.errors import ValidationError
from hermes_agents.scheduling.queues import Queues


class CapacityChanges:
    """``SchedulerCore``'s ``set_capacity`` (a mixin: it uses the core's queues)."""

    queues: Queues
    _dirty: set[str]

    def set_capacity(self, backend: str, capacity: int, reason: str = "") -> None:
        """Admit up to ``capacity`` calls at once on ``backend`` from now on (>= 1); ``reason``
        says why (``hermes status``). Grants it allows come out of the next ``step``."""
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ValidationError(f"must be an integer >= 1, got {capacity!r}", "capacity")
        state = self.queues.get(backend)
        if state.limits.max_concurrency != capacity:
            state.limits = dataclasses.replace(state.limits, max_concurrency=capacity)
            state.capacity_changes += 1
            self._dirty.add(backend)
        state.capacity_reason = reason or None
