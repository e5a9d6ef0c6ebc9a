"""Accounting of every hint: did it hide a cold start, come too late, or only burn warm time?

The driver that applies hints feeds the ledger what happens at each backend:

- ``hinted(hint)``: a hint was applied (a wake started, or an awake backend was kept awake);
- ``warmed(backend, now_s)``: a wake finished: the backend serves from now;
- ``idle(backend, now_s)``: the backend has nothing to serve from now;
- ``arrived(backend, run_id, now_s, warm)``: a call reached the backend (``warm``: it was
  served without waiting for a wake-up);
- ``slept(backend, now_s)``: the backend fell asleep.

Each hint ends in one outcome: a **hit** (an app arrived while the backend was warm because of
it), **late** (an app arrived while the hinted warm-up was still running: part of the cold
start is hidden), **unused** (the backend fell asleep before any app came), or **covered** (an
earlier hint was still open, or the backend would have been awake anyway). Seconds count:

- ``cold_wait_hidden_s``: cold-start seconds that apps did not wait thanks to hints (a hit
  hides the whole ``warmup_s``, a late hint the part already done);
- ``hint_waste_s``: seconds the backend was warm and unused *because of* a hint: after a hinted
  wake until the first arrival (or until it slept), and for a keep-awake from the moment the
  backend would have fallen asleep by itself until the first arrival (or until it slept).

``snapshot()`` gives plain numbers per backend and in total, for ``hermes status`` and reports.

>>> from hermes_agents.prewarm.hints import WarmHint
>>> ledger = PrewarmLedger({"dnn": 5.0})
>>> ledger.hinted(WarmHint("dnn", "app", "r1", 0.9, 8.0, 0.0, "wake"))
>>> ledger.warmed("dnn", 5.0); ledger.idle("dnn", 5.0)
>>> ledger.arrived("dnn", "r1", 8.0, warm=True)
>>> totals = ledger.snapshot()["total"]
>>> totals["hits"], totals["cold_wait_hidden_s"], totals["hint_waste_s"]
(1, 5.0, 3.0)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from hermes_agents.prewarm.hints import WarmHint
from hermes_agents.prewarm.spec import WarmupSpec

COUNTERS = ("hints", "wake_hints", "keep_hints", "hits", "late", "unused", "covered")
SECONDS = ("cold_wait_hidden_s", "hint_waste_s")


@dataclass
class _Open:
    """A hint whose outcome is not known yet."""

    hint: WarmHint
    warm_since_s: float | None = None  # a wake: when the warm-up finished
    idle_since_s: float | None = None  # when the backend last ran out of work


@dataclass
class _Backend:
    counts: dict[str, float] = field(default_factory=lambda: dict.fromkeys(COUNTERS + SECONDS, 0.0))
    open: _Open | None = None
    busy: bool = False
    idle_since_s: float | None = None


class PrewarmLedger:
    """Per-backend counters of hints and their outcomes (see the module docstring).

    Args:
        warmup_s: backend -> its cold start (what a hit hides).
        idle_sleep_s: backend -> idle seconds before it sleeps by itself (keep-awake waste
            starts there); missing or None: it never sleeps by itself.
    """

    def __init__(
        self,
        warmup_s: Mapping[str, float],
        idle_sleep_s: Mapping[str, float | None] | None = None,
    ) -> None:
        self.warmup_s = dict(warmup_s)
        self.idle_sleep_s = dict(idle_sleep_s or {})
        self._backends: dict[str, _Backend] = {}

    @classmethod
    def from_specs(cls, specs: Mapping[str, WarmupSpec]) -> PrewarmLedger:
        """A ledger for the backends a planner was given."""
        return cls(
            {name: spec.warmup_s for name, spec in specs.items()},
            {name: spec.idle_sleep_s for name, spec in specs.items()},
        )

    def hinted(self, hint: WarmHint) -> None:
        """A hint was applied at ``hint.issued_at_s``."""
        state = self._state(hint.backend)
        counts = state.counts
        counts["hints"] += 1
        counts["wake_hints" if hint.action == "wake" else "keep_hints"] += 1
        if state.open is not None or state.busy:
            counts["covered"] += 1  # the backend is in use or another hint is still open
            return
        state.open = _Open(hint, idle_since_s=state.idle_since_s)

    def warmed(self, backend: str, now_s: float) -> None:
        """A wake-up finished at ``now_s``."""
        opened = self._state(backend).open
        if opened is not None and opened.hint.action == "wake":
            opened.warm_since_s = now_s

    def idle(self, backend: str, now_s: float) -> None:
        """The backend ran out of work at ``now_s``."""
        state = self._state(backend)
        state.busy = False
        state.idle_since_s = now_s
        if state.open is not None:
            state.open.idle_since_s = now_s

    def arrived(self, backend: str, run_id: str, now_s: float, warm: bool) -> None:
        """A call of ``run_id`` reached ``backend`` at ``now_s`` (``warm``: served at once)."""
        state = self._state(backend)
        state.busy = True
        opened, state.open = state.open, None
        if opened is None:
            return
        hint, counts = opened.hint, state.counts
        if hint.action == "wake":
            self._wake_outcome(counts, opened, now_s, warm)
        elif warm:
            self._keep_outcome(counts, opened, backend, now_s)
        else:
            counts["unused"] += 1  # kept awake, yet asleep when the app came

    def slept(self, backend: str, now_s: float) -> None:
        """The backend fell asleep at ``now_s``: an open hint was never used."""
        state = self._state(backend)
        state.busy, state.idle_since_s = False, None
        opened, state.open = state.open, None
        if opened is None:
            return
        state.counts["unused"] += 1
        if opened.hint.action == "wake":
            start = opened.warm_since_s
        else:
            start = self._natural_sleep_s(backend, opened)
        if start is not None and now_s > start:
            state.counts["hint_waste_s"] += now_s - start

    def snapshot(self) -> dict[str, dict[str, float]]:
        """Counters per backend, plus ``"total"`` over all of them (plain numbers).

        Every hint has one outcome once it is closed: ``hits + late + unused + covered +
        open == hints`` (``open``: hints still waiting for an arrival or a sleep).
        """
        out = {name: _plain(state) for name, state in sorted(self._backends.items())}
        out["total"] = {
            key: sum(counts[key] for counts in out.values())
            for key in (*COUNTERS, "open", *SECONDS)
        }
        return out

    def _wake_outcome(
        self, counts: dict[str, float], opened: _Open, now_s: float, warm: bool
    ) -> None:
        warmup_s = self.warmup_s.get(opened.hint.backend, 0.0)
        if warm and opened.warm_since_s is not None:
            counts["hits"] += 1
            counts["cold_wait_hidden_s"] += warmup_s
            counts["hint_waste_s"] += max(0.0, now_s - opened.warm_since_s)
        elif warm:
            counts["covered"] += 1  # warm, but not from this hint's wake (it was awake)
        else:
            counts["late"] += 1
            counts["cold_wait_hidden_s"] += min(warmup_s, max(0.0, now_s - opened.hint.issued_at_s))

    def _keep_outcome(
        self, counts: dict[str, float], opened: _Open, backend: str, now_s: float
    ) -> None:
        natural = self._natural_sleep_s(backend, opened)
        if natural is None or now_s <= natural:
            counts["covered"] += 1  # it would still have been awake without the hint
            return
        counts["hits"] += 1
        counts["cold_wait_hidden_s"] += self.warmup_s.get(backend, 0.0)
        counts["hint_waste_s"] += now_s - natural

    def _natural_sleep_s(self, backend: str, opened: _Open) -> float | None:
        """When the backend would have fallen asleep without the keep-awake (None: never)."""
        idle_sleep_s = self.idle_sleep_s.get(backend)
        if idle_sleep_s is None or opened.idle_since_s is None:
            return None
        return opened.idle_since_s + idle_sleep_s

    def _state(self, backend: str) -> _Backend:
        state = self._backends.get(backend)
        if state is None:
            state = self._backends[backend] = _Backend()
        return state


def _plain(state: _Backend) -> dict[str, float]:
    """Counters as ints, seconds as floats, and the number of hints still open."""
    out: dict[str, float] = {key: int(state.counts[key]) for key in COUNTERS}
    out["open"] = int(state.open is not None)
    out.update({key: state.counts[key] for key in SECONDS})
    return out
