"""``ProfileSync``: every host ranks from the same learned profiles.

Each host learns from its own finished runs and appends them to the Redis profile store; this
thread, every ``every_s`` seconds, reads how many runs of each app in memory were recorded in
all (by every host) and reloads an app's model from the store once ``refresh_every`` runs more
than it has seen were recorded. So a host's model of an app is never more than about
``refresh_every`` runs or ``every_s`` behind the fleet's, and hosts that reload see the same
window of runs: the same model. Failures are logged once and retried at the next turn.
"""

from __future__ import annotations

import logging
import threading

from hermes_agents.errors import HermesError
from hermes_agents.scheduling.models import AppModels
from hermes_agents.store.redisprofiles import RedisProfileStore

logger = logging.getLogger(__name__)

DEFAULT_SYNC_S = 30.0
"""How often a host looks for runs other hosts recorded."""


class ProfileSync:
    """Reloads ``models``' apps when other hosts recorded runs of them (module docstring)."""

    def __init__(
        self, models: AppModels, store: RedisProfileStore, *, every_s: float = DEFAULT_SYNC_S
    ) -> None:
        self.models = models
        self.store = store
        self.every_s = every_s
        self.reloads = 0
        """Apps reloaded so far."""
        self._seen: dict[str, int] = {}
        self._warned = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="hermes-profile-sync", daemon=True)
        self._thread.start()

    def sync(self) -> int:
        """One turn: reload the apps that fell behind; returns how many were reloaded."""
        apps = self.models.loaded_apps()
        counts = self.store.recorded(apps)
        reloaded = 0
        for app, count in counts.items():
            seen = self._seen.setdefault(app, count)
            if count - seen >= self.models.refresh_every and self.models.reload(app):
                self._seen[app] = count
                reloaded += 1
        for gone in set(self._seen) - set(counts):
            del self._seen[gone]
        self.reloads += reloaded
        return reloaded

    def close(self) -> None:
        """Stop the thread."""
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.sync()
                self._warned = False
            except HermesError as error:
                if not self._warned:
                    self._warned = True
                    logger.warning("cannot read what other hosts learned: %s", error)
            except Exception:
                logger.exception("profile sync failed")
