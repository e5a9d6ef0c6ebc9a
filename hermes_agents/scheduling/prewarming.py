"""Prewarming at run time: the planner's hints carried to real backends, off the app's path.

The scheduling core plans warm-ups inside its step (``SchedulerCore.step``); the driver loop
(``driver.Driver``) hands the step's hints to a ``Prewarmer``, which:

- runs each hint's ``adapter.warm(hint)`` on a worker thread (a hint never blocks or breaks a
  call; adapters never raise, and a failure here is logged once and counted);
- keeps what it believes about each backend (awake, waking, asleep) from what it saw: a backend
  is awake while it serves, while a warm-up runs, and for ``idle_sleep_s`` after its last call
  or warm-up; that belief is the planner's ``awake`` input and the ledger's "warm on arrival";
- feeds the ``PrewarmLedger`` (hits, late, unused, warm waste) for ``snapshot()``.

The driver tells it of every grant (``arrived``) and every freed slot (``released``) and asks
it for its beliefs (``awake``) before each step: it is the driver's ``Warmups``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from hermes_agents.backends.base import BackendAdapter
from hermes_agents.errors import ValidationError
from hermes_agents.prewarm import PrewarmLedger, PrewarmPlanner, WarmHint, WarmupSpec

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PrewarmSetup:
    """What turns prewarming on in a ``LocalScheduler``: per backend, an adapter and a spec.

    >>> from hermes_agents.backends.tools import ToolAdapter
    >>> setup = PrewarmSetup({"dnn": ToolAdapter(warm=lambda hint: None, name="dnn")},
    ...                      {"dnn": WarmupSpec("dnn", warmup_s=5.0, idle_sleep_s=30.0)})
    >>> sorted(setup.planner().specs)
    ['dnn']
    """

    adapters: Mapping[str, BackendAdapter]
    """Backend name -> the adapter that warms it."""
    specs: Mapping[str, WarmupSpec]
    """Backend name -> its warm-up (seconds, K, idle sleep); one per adapter."""
    partial: bool = True
    """Credit warm-ups that finish after the app arrives by the share they hide (see
    ``PrewarmPlanner``, whose default this is); False: the Hermes paper's plain rule."""
    memory: Mapping[str, float] = field(default_factory=dict)
    """Memory pool name -> budget, for the specs' ``pool``/``memory`` (``PrewarmPlanner``);
    pools not listed are unlimited."""

    def __post_init__(self) -> None:
        if set(self.adapters) != set(self.specs):
            raise ValidationError(
                "give one adapter and one warm-up spec per backend; adapters for "
                f"{sorted(self.adapters)}, specs for {sorted(self.specs)}",
                "prewarm",
            )

    def planner(self) -> PrewarmPlanner:
        """The core's planner for these backends."""
        return PrewarmPlanner(self.specs, memory=self.memory, partial=self.partial)

    def prewarmer(self, clock: Callable[[], float]) -> Prewarmer:
        """The runtime half, on the core's ``clock``."""
        return Prewarmer(self.adapters, self.specs, clock=clock)


@dataclass
class _Belief:
    """What we last saw of one backend."""

    running: int = 0
    waking: bool = False
    awake_until_s: float | None = None  # after its last use or warm-up; None: never seen awake
    asleep_noted: bool = True  # the ledger already knows it sleeps (or it never woke)


class Prewarmer:
    """Applies hints through adapters and keeps the books (see the module docstring).

    Args:
        adapters: backend name -> its adapter (backends without one get no hints).
        specs: backend name -> its warm-up spec (``idle_sleep_s`` drives the belief).
        clock: the scheduler core's clock.
    """

    def __init__(
        self,
        adapters: Mapping[str, BackendAdapter],
        specs: Mapping[str, WarmupSpec],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.adapters = dict(adapters)
        self.specs = dict(specs)
        self.clock = clock
        self.ledger = PrewarmLedger.from_specs(self.specs)
        self.warm_failures = 0
        self.claim: Callable[[WarmHint], bool] | None = None
        """Asked on the worker thread before each warm-up (several hosts: only the host whose
        claim succeeds warms, and only its ledger counts the hint); None: always warm."""
        self._beliefs = {name: _Belief() for name in self.adapters}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, len(self.adapters)), thread_name_prefix="hermes-prewarm"
        )
        self._closed = False

    def awake(self) -> dict[str, bool | None]:
        """The planner's input: True (awake or waking), False (asleep), None (never seen)."""
        now = self.clock()
        with self._lock:
            return {name: self._awake(name, belief, now) for name, belief in self._beliefs.items()}

    def apply(self, hints: Sequence[WarmHint]) -> None:
        """Start the hints (each on a worker thread); returns at once."""
        for hint in hints:
            if hint.backend not in self.adapters or self._closed:
                continue
            with self._lock:
                belief = self._beliefs[hint.backend]
                if belief.waking:
                    continue
                belief.waking = hint.action == "wake"
                if self.claim is None:
                    self.ledger.hinted(hint)
            try:
                self._pool.submit(self._warm, hint)
            except RuntimeError:  # closed meanwhile
                return

    def arrived(self, backend: str, run_id: str) -> None:
        """A call of ``run_id`` was queued for ``backend``."""
        now = self.clock()
        with self._lock:
            belief = self._beliefs.get(backend)
            if belief is None:
                return
            warm = self._awake(backend, belief, now) is True and not belief.waking
            self.ledger.arrived(backend, run_id, now, warm)
            belief.running += 1
            belief.asleep_noted = False

    def released(self, backend: str) -> None:
        """A call on ``backend`` ended."""
        now = self.clock()
        with self._lock:
            belief = self._beliefs.get(backend)
            if belief is None:
                return
            belief.running = max(0, belief.running - 1)
            if belief.running == 0:
                self.ledger.idle(backend, now)
                belief.awake_until_s = now + self._idle_sleep_s(backend)

    def snapshot(self) -> dict[str, Any]:
        """The ledger's counters (per backend and ``"total"``) plus failed warm-ups."""
        self.awake()  # notes backends that fell asleep since the last event
        with self._lock:
            out: dict[str, Any] = self.ledger.snapshot()
        out["total"]["warm_failures"] = self.warm_failures
        return out

    def close(self) -> None:
        """Stop taking hints; warm-ups in flight finish on their own."""
        self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _warm(self, hint: WarmHint) -> None:
        adapter = self.adapters[hint.backend]
        if self.claim is not None:
            claimed = self.claim(hint)
            with self._lock:
                if not claimed:  # another host warms it
                    self._beliefs[hint.backend].waking = False
                    return
                self.ledger.hinted(hint)
        try:
            result = adapter.warm(hint)
            ok = result.ok
        except Exception:  # adapters never raise; if one does, the app still must not notice
            logger.warning("prewarming %r failed", hint.backend, exc_info=True)
            ok = False
        now = self.clock()
        with self._lock:
            belief = self._beliefs[hint.backend]
            belief.waking = False
            if ok:
                if hint.action == "wake":  # a keep-awake's ping is no use: the idle time
                    self.ledger.warmed(hint.backend, now)  # and any open wake stand
                    if belief.running == 0:
                        self.ledger.idle(hint.backend, now)
                belief.awake_until_s = now + self._idle_sleep_s(hint.backend)
                belief.asleep_noted = False
            else:
                self.warm_failures += 1

    def _idle_sleep_s(self, backend: str) -> float:
        spec = self.specs.get(backend)
        idle = spec.idle_sleep_s if spec is not None else None
        return float("inf") if idle is None else idle

    def _awake(self, backend: str, belief: _Belief, now: float) -> bool | None:
        if belief.running or belief.waking:
            return True
        if belief.awake_until_s is None:
            return None
        if now < belief.awake_until_s:
            return True
        if not belief.asleep_noted:  # it fell asleep by itself: close the ledger's open hint
            belief.asleep_noted = True
            self.ledger.slept(backend, belief.awake_until_s)
        return False
