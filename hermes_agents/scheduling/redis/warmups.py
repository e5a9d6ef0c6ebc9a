"""``WarmClaims``: one warm-up per backend and moment across hosts.

Every host plans warm-ups for its own runs; before one is started, the host claims it in Redis
(``SET hermes:{B}:warm:<action> <process> NX PX <window>``). Only the host whose claim succeeds
warms the backend and counts the hint in its ledger; the others skip it. The window is how long
one warm-up serves everyone: for a wake, the warm-up's own time plus the time the backend then
stays awake (``idle_sleep_s``, else the warm-up time again); for a keep-awake, its ``keep_s``.
When Redis does not answer, the host warms anyway (a second warm-up is cheap, a missed one is a
cold start on an app's path).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from hermes_agents.prewarm import WarmHint, WarmupSpec
from hermes_agents.scheduling.redis.keys import PREFIX, BackendKeys

if TYPE_CHECKING:
    import redis

logger = logging.getLogger(__name__)

MIN_WINDOW_S = 1.0


class WarmClaims:
    """The ``Prewarmer.claim`` of one process (see the module docstring)."""

    def __init__(
        self,
        client: redis.Redis,
        specs: Mapping[str, WarmupSpec],
        process: str,
        *,
        prefix: str = PREFIX,
    ) -> None:
        self.client = client
        self.specs = dict(specs)
        self.process = process
        self.prefix = prefix
        self.skipped = 0
        """Warm-ups left to the host that claimed them first."""

    def window_s(self, hint: WarmHint) -> float:
        """How long one claim of ``hint``'s warm-up lasts."""
        if hint.action == "keep_awake":
            return max(MIN_WINDOW_S, hint.keep_s)
        spec = self.specs.get(hint.backend)
        if spec is None:
            return MIN_WINDOW_S
        awake_s = spec.idle_sleep_s if spec.idle_sleep_s is not None else spec.warmup_s
        return max(MIN_WINDOW_S, spec.warmup_s + awake_s)

    def __call__(self, hint: WarmHint) -> bool:
        """Whether this process should carry out ``hint`` (it claimed it, or Redis is out)."""
        import redis

        key = BackendKeys(hint.backend, self.prefix).warm(hint.action)
        try:
            claimed = self.client.set(
                key, self.process, nx=True, px=round(self.window_s(hint) * 1000)
            )
        except redis.RedisError:
            logger.debug("could not claim a warm-up of %r; warming anyway", hint.backend)
            return True
        if not claimed:
            self.skipped += 1
        return bool(claimed)
