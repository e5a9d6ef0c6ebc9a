"""Demand models per app class: a learner each, and its current remaining-demand sampler."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from hermes_agents.cost import CostModel
from hermes_agents.errors import HermesError
from hermes_agents.pdgraph import Learner, PDGraph, RemainingDemand, Visit
from hermes_agents.store.runjson import structure_id
from hermes_agents.store.runstore import RunStore

logger = logging.getLogger(__name__)

MAX_APPS = 500
"""App classes whose models are kept in memory (``AppModels.max_apps``)."""
MAX_IDLE_APP_S = 3_600.0
"""An app class unused this long is evicted from memory too (``AppModels.max_idle_s``)."""


class AppModels:
    """Learners and ``RemainingDemand`` models per app class (the core's ``DemandModels``).

    The sampler is rebuilt from the learner's graph once ``refresh_every`` runs were observed
    since the last build and at least ``min_refresh_s`` (on ``clock``) went by, so its caches
    (walks, Gittins tables) stay warm between refreshes and a busy class does not rebuild them
    many times a second.

    Thread-safe: the in-process scheduler reads ``demand`` under its lock while finished runs
    are observed in other threads (learning happens off the scheduler's lock); the store is
    written outside this object's lock.

    Bounded: at most ``max_apps`` app classes are kept in memory, the least recently used
    evicted first (a run in flight keeps the model it started with). An evicted class comes
    back from the store, with everything it learned, the next time it is used; without a
    store it starts again from its prior.
    """

    def __init__(
        self,
        cost: CostModel | None = None,
        *,
        refresh_every: int = 10,
        min_refresh_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        seed: int = 0,
        store: RunStore | None = None,
        max_apps: int = MAX_APPS,
        max_idle_s: float = MAX_IDLE_APP_S,
    ) -> None:
        self.cost = cost or CostModel()
        self.refresh_every = refresh_every
        self.min_refresh_s = min_refresh_s
        self.clock = clock
        self.seed = seed
        self.max_apps = max_apps
        self.max_idle_s = max_idle_s
        self.evicted = 0
        """App classes evicted from memory so far (least recently used first)."""
        self._learners: OrderedDict[str, Learner] = OrderedDict()
        self._used_s: dict[str, float] = {}
        """When each app class in memory was last used (``clock``)."""
        self._demand: dict[str, RemainingDemand] = {}
        self._built_s: dict[str, float] = {}
        self.store = store
        self._store_warned = False
        self._lock = threading.RLock()

    def add(self, app: str, prior: PDGraph | None = None) -> Learner:
        """Start learning ``app`` (from ``prior`` if given); returns its learner.

        With a ``store``, the app's stored runs are replayed into the new learner, so what
        earlier processes learned is there from the start, and ``prior`` is kept in the store
        (``hermes graph`` blends it with the runs, as the scheduler does).
        """
        with self._lock:
            learner = self._learners.get(app)
            fresh = learner is None or (
                prior is not None
                and prior is not learner.prior
                and (learner.runs_observed == 0 or self.store is not None)
            )
        if not fresh:
            assert learner is not None
            return learner
        learner = Learner(app, prior)
        self._replay(learner)  # store reads outside the lock: demand() never waits on them
        with self._lock:
            self._learners[app] = learner
            self._learners.move_to_end(app)
            self._used_s[app] = self.clock()
            self._demand.pop(app, None)
            self._evict()
        self._save_prior(app, prior)
        return learner

    def graph(self, app: str) -> PDGraph | None:
        """The current PDGraph of ``app`` (None before any prior or run)."""
        with self._lock:
            learner = self._learners.get(app)
            if learner is None or (learner.prior is None and learner.runs_observed == 0):
                return None
            return learner.graph()

    def demand(self, app: str) -> RemainingDemand | None:
        """The remaining-demand model of ``app``, refreshed every ``refresh_every`` runs."""
        with self._lock:
            current = self._demand.get(app)
            learner = self._learners.get(app)
            if learner is None:
                return None
            self._learners.move_to_end(app)
            self._used_s[app] = self.clock()
            if current is None or self._stale(app, current, learner):
                graph = self.graph(app)
                if graph is None:
                    return None
                current = self._demand[app] = RemainingDemand(graph, self.cost, seed=self.seed)
                self._built_s[app] = self.clock()
            return current

    def observe(self, app: str, run: Sequence[Visit]) -> None:
        """Learn from one finished run of ``app`` (and keep it in the store, if any)."""
        learner = self.add(app)
        with self._lock:
            learned = learner.observe(run)
        if learned and self.store is not None:  # a run it refused is not kept either
            try:
                prior = learner.prior
                graph = structure_id(prior) if prior is not None else None
                self.store.record_run(app, run, graph=graph)
            except HermesError as error:  # fail open: losing a profile row never breaks a run
                self._warn_store(error)

    def loaded_apps(self) -> list[str]:
        """The app classes whose models are in memory now."""
        with self._lock:
            return list(self._learners)

    def reload(self, app: str) -> bool:
        """Rebuild ``app``'s learner from the store (with what other processes, on this host or
        others, learned since it was loaded); False when it is not loaded or has no store."""
        with self._lock:
            old = self._learners.get(app)
        if old is None or self.store is None:
            return False
        learner = Learner(app, old.prior)
        self._replay(learner)  # store reads outside the lock, as in add()
        with self._lock:
            if self._learners.get(app) is not old:
                return False  # replaced meanwhile (a new prior): that one stands
            self._learners[app] = learner
            self._demand.pop(app, None)
        return True

    def evict_idle(self) -> int:
        """Drop the classes unused for ``max_idle_s`` (and any beyond ``max_apps``); returns
        how many. Called whenever a class is added; call it to shrink on a quiet scheduler."""
        with self._lock:
            before = self.evicted
            self._evict()
            return self.evicted - before

    def _evict(self) -> None:
        """Drop the least recently used classes beyond ``max_apps`` or idle for
        ``max_idle_s`` (under the lock; the order is least recently used first)."""
        cutoff = self.clock() - self.max_idle_s
        while self._learners:
            app = next(iter(self._learners))
            if len(self._learners) <= self.max_apps and self._used_s.get(app, 0.0) > cutoff:
                break
            del self._learners[app]
            self._used_s.pop(app, None)
            self._demand.pop(app, None)
            self._built_s.pop(app, None)
            self.evicted += 1

    def _replay(self, learner: Learner) -> None:
        if self.store is None:
            return
        try:
            self.store.replay(learner)
        except HermesError as error:
            self._warn_store(error)

    def _save_prior(self, app: str, prior: PDGraph | None) -> None:
        if self.store is None or prior is None:
            return
        try:
            self.store.save_prior(app, prior)
        except HermesError as error:
            self._warn_store(error)

    def _warn_store(self, error: HermesError) -> None:
        """One line, once, naming the error (its traceback only at DEBUG)."""
        if not self._store_warned:
            self._store_warned = True
            logger.warning("the profile store failed (%s); learning goes on in memory", error)
            logger.debug("the profile store failed", exc_info=True)

    def _stale(self, app: str, current: RemainingDemand, learner: Learner) -> bool:
        if learner.runs_observed - self._built_at(current) < self.refresh_every:
            return False
        return self.clock() - self._built_s.get(app, -math.inf) >= self.min_refresh_s

    def _built_at(self, demand: RemainingDemand) -> int:
        prior = self._learners[demand.graph.name].prior
        return demand.graph.version - (prior.version if prior is not None else 0)
