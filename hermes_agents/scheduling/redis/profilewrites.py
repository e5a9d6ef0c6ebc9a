"""``ProfileWrites``: the Redis profile store as the demand models see it, with its writes off
the app's thread.

A finished run is learned on the thread that ended it (``AppModels.observe``); appending it to
the Redis profile store is a round trip, and on a cut link a command timeout. So rows and
priors go on a bounded ``Outbox`` and its thread writes them. While the scheduler believes
Redis is out (``down``) that thread keeps them (up to the outbox's capacity; beyond it new rows
are dropped and counted) and writes them once Redis is back; a write that fails as Redis goes
out is tried once more when it is back, one that fails otherwise is dropped (counted), with one
warning per outage (learning goes on in memory, as with any store failure). Learning
itself, with its replays (the stored runs of an app new to this process), runs on a thread of
its own too (``learn_off_thread``); a replay fails at once while Redis is believed out.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING

from hermes_agents.errors import HermesError
from hermes_agents.pdgraph import Learner, PDGraph, Visit
from hermes_agents.scheduling.redis.outbox import Outbox
from hermes_agents.store.redisprofiles import RedisProfileStore, RedisStoreError

if TYPE_CHECKING:
    from hermes_agents.scheduling.decisions import FinishedRun
    from hermes_agents.scheduling.driver import Driver

logger = logging.getLogger(__name__)

WAIT_DOWN_S = 0.1
"""How often the writer looks whether Redis is back while it holds rows."""


class ProfileWrites:
    """A ``RunStore`` over ``store`` whose writes are queued (see the module docstring);
    ``down``: whether the scheduler believes Redis is out now."""

    def __init__(self, store: RedisProfileStore, down: Callable[[], bool]) -> None:
        self.store = store
        self.down = down
        self.dropped = 0
        """Rows and priors not written (the queue was full, or the write failed)."""
        self._warned = False
        self._closed = threading.Event()
        self._outbox: Outbox[Callable[[], object]] = Outbox("hermes-profile-writes", self._write)
        self._learner: Outbox[Sequence[FinishedRun]] | None = None

    def record_run(
        self,
        app: str,
        visits: Sequence[Visit],
        *,
        observed_at: float | None = None,
        graph: str | None = None,
    ) -> int:
        """Queue one finished run of ``app`` (stamped now); returns 0 (how many runs the app
        has stored is not known yet)."""
        if observed_at is None:
            observed_at = self.store._clock()
        write = partial(
            self.store.record_run, app, list(visits), observed_at=observed_at, graph=graph
        )
        if not self._outbox.put(write):
            self.dropped += 1
        return 0

    def save_prior(self, app: str, graph: PDGraph) -> None:
        """Queue ``graph`` as the prior of ``app``."""
        if not self._outbox.put(partial(self.store.save_prior, app, graph)):
            self.dropped += 1

    def replay(self, learner: Learner, *, limit: int | None = None) -> int:
        """The store's replay; ``RedisStoreError`` at once while Redis is believed out."""
        if self.down():
            raise RedisStoreError(
                "the Redis profile store is not read while Redis is out; learning goes on in memory"
            )
        return self.store.replay(learner, limit=limit)

    def learn_off_thread(self, driver: Driver) -> None:
        """Make ``driver`` learn its finished runs on a thread of its own: learning an app new
        to this process replays its stored runs, a round trip the app's thread must not wait
        for (a full queue: the runs are not learned, counted in ``dropped``)."""
        learning = driver.learning
        if learning is None:
            return
        learner: Outbox[Sequence[FinishedRun]] = Outbox("hermes-learning", learning)
        self._learner = learner

        def later(finished: Sequence[FinishedRun]) -> None:
            if not learner.put(list(finished)):
                self.dropped += len(finished)

        driver.learning = later

    def close(self, timeout_s: float) -> None:
        """Learn and write what is queued for up to ``timeout_s`` (writes not while Redis is
        out), then stop."""
        deadline_s = time.monotonic() + timeout_s
        if self._learner is not None:
            self.dropped += len(self._learner.close(timeout_s))
        self._closed.set()
        left = self._outbox.close(max(0.0, deadline_s - time.monotonic()))
        self.dropped += len(left)

    def _write(self, write: Callable[[], object]) -> None:
        for attempt in range(2):  # a write that failed as Redis went out: again once it is back
            while self.down() and not self._closed.is_set():  # kept until Redis is back
                self._closed.wait(WAIT_DOWN_S)
            if self.down():
                break
            try:
                write()
            except HermesError as error:
                self._warn(error)
                if attempt == 0 and self.down():
                    continue
                break
            self._warned = False
            return
        self.dropped += 1

    def _warn(self, error: HermesError) -> None:
        """One line per outage naming the error (its traceback only at DEBUG)."""
        if not self._warned:
            self._warned = True
            logger.warning("profile store: %s", error)
            logger.debug("the Redis profile store failed", exc_info=True)
