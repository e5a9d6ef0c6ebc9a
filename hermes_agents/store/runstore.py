"""``RunStore``: what the demand models need of a profile store (SQLite or Redis)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from hermes_agents.pdgraph import Learner, PDGraph, Visit


class RunStore(Protocol):
    """Where finished runs and priors are kept, and replayed from: ``ProfileStore`` (one
    SQLite file per host) or ``RedisProfileStore`` (every host). Failures raise
    ``HermesError``; the models carry on in memory."""

    def record_run(
        self,
        app: str,
        visits: Sequence[Visit],
        *,
        observed_at: float | None = None,
        graph: str | None = None,
    ) -> int:
        """Append one finished run of ``app``."""
        ...

    def replay(self, learner: Learner, *, limit: int | None = None) -> int:
        """Feed the stored runs of ``learner.name`` into ``learner``; returns how many."""
        ...

    def save_prior(self, app: str, graph: PDGraph) -> None:
        """Keep ``graph`` as the prior of ``app``."""
        ...
