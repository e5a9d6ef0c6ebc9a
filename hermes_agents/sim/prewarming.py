"""Prewarming in the simulator: who wakes the cold backends, and when.

Modes (``hermes bench --prewarm``):

- ``off``: nobody; a backend wakes when a call reaches it (and the call waits).
- ``reactive``: when a run enters a stage, wake the backends of that stage's direct successors
  in its PDGraph (every successor with p > 0; no probabilities, no timing). The simplest
  graph-aware baseline.
- ``lru``: keep-alive: every cold backend stays awake a fixed extra TTL (``keepalive_s``,
  default ``LRU_KEEPALIVE_S``) after its last use before it sleeps, like a serverless
  platform's keep-alive or Ollama's ``keep_alive``. No hints.
- ``hermes``: the production ``PrewarmPlanner`` with its defaults (partial credit and the
  arrival rule), run inside the same ``SchedulerCore.step`` the runtime uses (when a run
  started, moved or ended, and at the ``next_check_s`` it asks for), its hints carried out by
  the same driver loop (``hermes_agents.scheduling.driver``). Hints apply to the ``ColdStart``
  models: a wake starts now (and costs ``cold_start_s``), a keep-awake postpones the next
  sleep.
- ``hermes-partial``: ``hermes`` without the arrival rule (``learn_arrivals=False``): it plans
  for the runs in flight only.
- ``hermes-plain``: the Hermes paper's rule (``partial=False, learn_arrivals=False``).

Every hint applied is accounted in a ``PrewarmLedger`` (``reactive`` and ``hermes``). Each mode
is the driver's ``Warmups``: it answers ``awake``, hears of arrivals and freed slots, and
carries out hints.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from hermes_agents.pdgraph import END, PDGraph
from hermes_agents.prewarm import PrewarmLedger, WarmHint
from hermes_agents.sim.coldstart import ColdStart
from hermes_agents.sim.servers import SimServers

PLANNED_MODES = ("hermes", "hermes-partial", "hermes-plain")
"""The modes that run the ``PrewarmPlanner`` (default, in flight only, the paper's rule)."""

PREWARM_MODES = ("off", "reactive", "lru", *PLANNED_MODES)
"""Every ``--prewarm`` mode the simulator knows."""

LRU_KEEPALIVE_S = 60.0
"""The ``lru`` baseline's extra TTL: a minute, between Knative's 30 s scale-to-zero grace period
and Ollama's 5-minute ``keep_alive``; ``benchmarks/prewarm_sweep.py`` sweeps it."""


def apply_hint(hint: WarmHint, backend: ColdStart, ledger: PrewarmLedger | None) -> bool:
    """Act on ``hint``; True (and accounted) unless it could change nothing."""
    if hint.action == "wake":
        applied = backend.wake()
    else:
        applied = backend.awake or backend.waking
        if applied:
            backend.keep_awake(hint.issued_at_s + hint.keep_s)
    if applied and ledger is not None:
        ledger.hinted(hint)
    return applied


class Prewarming:
    """The ``off`` and ``lru`` modes (no hints); the base of the hinting modes."""

    def __init__(
        self, backends: SimServers, clock: Callable[[], float], *, ledger: bool = False
    ) -> None:
        self.backends = backends
        self.clock = clock
        self.ledger: PrewarmLedger | None = None
        cold = backends.cold
        if ledger and cold:
            self.ledger = PrewarmLedger(
                {name: s.cold_start_s for name, s in cold.items()},
                {name: s.idle_sleep_s for name, s in cold.items()},
            )
            for server in cold.values():
                server.listener = self.ledger

    def entered(self, run_id: str, app: str, stage: str, now_s: float) -> None:
        """A run started a visit of ``stage``."""

    def awake(self) -> dict[str, bool | None]:
        """Per cold backend: awake or waking (True), asleep (False)."""
        return self.backends.awake()

    def arrived(self, backend: str, run_id: str) -> None:
        """A call of ``run_id`` was admitted to ``backend`` (before it is started there)."""
        server = self.backends.cold.get(backend)
        if server is not None and self.ledger is not None:
            self.ledger.arrived(backend, run_id, self.clock(), warm=server.awake)

    def released(self, backend: str) -> None:
        """A call gave its slot back (the models account for idle time themselves)."""

    def apply(self, hints: Sequence[WarmHint]) -> None:
        """Carry out planned hints (only the ``hermes`` modes plan)."""
        cold = self.backends.cold
        for hint in hints:
            server = cold.get(hint.backend)
            if server is not None:
                apply_hint(hint, server, self.ledger)

    def snapshot(self) -> dict[str, dict[str, float]]:
        """The ledger's counters ({} without one)."""
        return self.ledger.snapshot() if self.ledger is not None else {}


class Reactive(Prewarming):
    """Wake the backends of the entered stage's direct successors."""

    def __init__(
        self, backends: SimServers, clock: Callable[[], float], apps: Mapping[str, PDGraph]
    ) -> None:
        super().__init__(backends, clock, ledger=True)
        self.apps = apps

    def entered(self, run_id: str, app: str, stage: str, now_s: float) -> None:
        """Wake every cold backend a direct successor of ``stage`` runs on."""
        graph = self.apps[app]
        cold = self.backends.cold
        for successor, probability in graph.successors(stage).items():
            if successor == END or probability <= 0:
                continue
            backend = graph.stages[successor].backend
            if backend in cold:
                hint = WarmHint(backend, app, run_id, probability, 0.0, now_s, "wake")
                apply_hint(hint, cold[backend], self.ledger)


class Planned(Prewarming):
    """The production planner: the core plans inside its step; the driver hands the hints here
    (``apply``)."""

    def __init__(self, backends: SimServers, clock: Callable[[], float]) -> None:
        super().__init__(backends, clock, ledger=True)
