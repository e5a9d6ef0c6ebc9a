"""Learning off the hot path: finished runs go to the demand models on a worker thread.

The daemon's event loop must never wait on SQLite (a profile store locked by another process
would stall every client), so its driver hands finished traces to a ``LearningWorker``: a
bounded queue and one thread that feeds them, in order, to ``models.observe`` (which updates
the learner in memory, then writes the store). When the queue is full (the store is stuck),
new runs are dropped and counted, with one warning: admission never waits for learning.

Loading an app class's profile from the store (its first run, a structural prior) goes the
same way (``load``): the apps whose models arrived are in ``loaded`` and ``on_loaded`` is
called, so that the daemon can give its runs in flight their model (``refresh_demand``).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hermes_agents.pdgraph import PDGraph
from hermes_agents.scheduling.decisions import FinishedRun
from hermes_agents.scheduling.state import DemandModels

logger = logging.getLogger(__name__)

MAX_PENDING_RUNS = 10_000
"""Finished runs waiting to be learned before new ones are dropped."""

_STOP = FinishedRun("", "", ())


@dataclass(frozen=True)
class _Load:
    """Load ``app``'s profile (with ``prior``, if given) into the models."""

    app: str
    prior: PDGraph | None


class LearningWorker:
    """Feeds finished runs to ``models`` on its own thread (see the module docstring).

    Call it with finished runs (the driver's ``Learning``); ``drain`` waits until everything
    queued was learned; ``close`` stops the thread after the queue is empty.
    """

    def __init__(self, models: DemandModels, *, max_pending: int = MAX_PENDING_RUNS) -> None:
        self.models = models
        self.dropped = 0
        """Finished runs not learned because the queue was full."""
        self.loaded: deque[str] = deque()
        """Apps whose models were loaded since the daemon last looked (thread-safe)."""
        self.on_loaded: Callable[[], None] | None = None
        """Called (on the worker thread) after a load: the daemon wakes its loop with it."""
        self._queue: queue.Queue[FinishedRun | _Load] = queue.Queue(max_pending)
        self._warned = False
        self._thread = threading.Thread(target=self._work, name="hermes-learning", daemon=True)
        self._thread.start()

    def __call__(self, finished: Sequence[FinishedRun]) -> None:
        for run in finished:
            try:
                self._queue.put_nowait(run)
            except queue.Full:
                self.dropped += 1
                if not self._warned:
                    self._warned = True
                    logger.warning(
                        "learning falls behind (is the profile store locked?); finished runs "
                        "are dropped until it catches up; scheduling is unaffected"
                    )

    def load(self, app: str, prior: PDGraph | None = None) -> None:
        """Load ``app``'s models (from the store; with ``prior``) on the worker thread."""
        try:
            self._queue.put_nowait(_Load(app, prior))
        except queue.Full:
            self.dropped += 1

    def drain(self, timeout_s: float = 10.0) -> bool:
        """Wait until every queued run was learned; False on timeout."""
        done = threading.Event()

        def wait_for_queue() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=wait_for_queue, daemon=True).start()
        return done.wait(timeout_s)

    def close(self, timeout_s: float = 5.0) -> None:
        """Learn what is queued (up to ``timeout_s``), then stop the thread."""
        try:
            self._queue.put(_STOP, timeout=timeout_s)
        except queue.Full:
            return
        self._thread.join(timeout_s)

    def _work(self) -> None:
        while True:
            run = self._queue.get()
            try:
                if run is _STOP:
                    return
                if isinstance(run, _Load):
                    self.models.add(run.app, run.prior)
                    self.loaded.append(run.app)
                    if self.on_loaded is not None:
                        self.on_loaded()
                    continue
                self.models.observe(run.app, run.visits)
                self._warned = False
            except Exception:  # fail open: one bad run never stops learning
                logger.warning("learning from %r (app %r) failed", run, run.app, exc_info=True)
            finally:
                self._queue.task_done()
