"""Policy order over one backend's queue: which waiting task goes first.

For order-stable policies (``Policy.order_stable``) each queue keeps a heap of
(priority, task id, run version, task); entries of tasks that left, or of runs that moved
since, are stale and skipped, and a heap that is mostly stale is rebuilt. A policy may also
``recheck`` the head of a heap (``hermes-ddl``: a run whose deadline can no longer be met is
demoted while it waits); the entry then moves to its new priority. Other policies (whose
order changes with the clock alone, like ``plas``) are scanned. A policy that raises degrades
that task to arrival order, with a warning: scheduling never fails because of a policy.
"""

from __future__ import annotations

import heapq
import logging

from hermes_agents.scheduling.policies import Policy, Recheck
from hermes_agents.scheduling.state import QueueState, Task

logger = logging.getLogger(__name__)


class QueueOrder:
    """``policy``'s order over queues (see the module docstring)."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.indexed = bool(getattr(policy, "order_stable", False))
        """Whether queues keep a heap (order-stable policies) or are scanned."""
        self.recheck: Recheck | None = getattr(policy, "recheck", None)
        """The policy's ``recheck`` of a heap's head (None: entries never move by themselves)."""

    def best(self, state: QueueState, now: float) -> Task:
        """The waiting task of ``state`` that goes first now (``state.waiting`` not empty)."""
        return self._head(state, now) if self.indexed else self._scan(state, now)

    def index(self, state: QueueState, task: Task) -> None:
        """Add ``task`` (new, or its run moved) to its queue's heap (indexed policies)."""
        # Order-stable priorities shift equally with the clock, so any fixed time will do.
        entry = (self.priority(task, 0.0), task.task_id, task.run.version, task)
        heapq.heappush(state.heap, entry)

    def compact(self, state: QueueState) -> None:
        """Rebuild a heap that is mostly stale entries."""
        if len(state.heap) > 4 * len(state.waiting) + 64:
            state.heap = [
                e for e in state.heap if e[1] in state.waiting and e[2] == e[3].run.version
            ]
            heapq.heapify(state.heap)

    def priority(self, task: Task, now: float) -> float:
        """The policy's priority of ``task`` (lower first); arrival order if the policy fails."""
        try:
            return self.policy.priority(task, task.run, now)
        except Exception:  # fail open: a broken policy degrades to FCFS, never to an error
            logger.warning("policy %s failed; using arrival order", self.policy.name, exc_info=True)
            return task.submitted_at

    def _scan(self, state: QueueState, now: float) -> Task:
        """The best waiting task, by asking the policy about each one (any policy)."""
        return min(state.waiting.values(), key=lambda t: (self.priority(t, now), t.task_id))

    def _head(self, state: QueueState, now: float) -> Task:
        """The best waiting task from the heap, skipping stale entries (and moving the head
        when the policy's ``recheck`` says so)."""
        heap = state.heap
        recheck = self.recheck
        while True:
            priority, task_id, version, task = heap[0]
            if task_id in state.waiting and version == task.run.version:
                moved = None if recheck is None else self._rechecked(task, now, priority)
                if moved is None:
                    return task
                heapq.heapreplace(heap, (moved, task_id, version, task))
                continue
            heapq.heappop(heap)

    def _rechecked(self, task: Task, now: float, priority: float) -> float | None:
        assert self.recheck is not None
        try:
            return self.recheck(task, task.run, now, priority)
        except Exception:  # fail open, as for priority: the entry stays where it is
            logger.warning("policy %s failed; order kept", self.policy.name, exc_info=True)
            return None
