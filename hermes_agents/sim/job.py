"""A granted call as the backend models see it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from hermes_agents.cost import KVTier


@dataclass(eq=False, slots=True)
class Job:
    """One call that the scheduler admitted to a backend model.

    Attributes:
        task_id: the scheduling core's task id.
        prompt_tokens / output_tokens: LLM calls; an LLM call decodes at least one step.
        cached_tokens: the part of the prompt whose KV cache is reused (loaded from ``tier``).
        tier: where that KV cache sits when the call arrives.
        seconds: tool and embedding calls: how long the call runs.
        granted_at_s: when the scheduler admitted it.
        started_at_s: when the backend began serving it (after any wake-up).
        finished_at_s: when it completed.
        cold_wait_s: seconds it waited for its backend to wake up.
        priority: the request priority an engine with priority scheduling orders it by
            (lower first; ``hermes_agents.priority``); 0 when the client sends none.
    """

    task_id: int
    prompt_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    tier: KVTier = KVTier.GPU
    seconds: float = 0.0
    granted_at_s: float = 0.0
    started_at_s: float = 0.0
    finished_at_s: float = 0.0
    cold_wait_s: float = 0.0
    priority: float = 0.0


Done = Callable[[Job], None]
"""Called by a backend model when a job completes (``finished_at_s`` is set)."""


class Server(Protocol):
    """A backend model: it serves the jobs it is given and reports each completion."""

    def start(self, job: Job) -> None:
        """Serve ``job`` (admitted now); report it to the ``Done`` callback when finished."""
        ...
