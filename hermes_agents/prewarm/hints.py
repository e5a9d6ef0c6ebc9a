"""What the planner hands out: warm-up hints and the step record that carries them.

The shared contract between the planner (this package) and the backend adapters
(``hermes_agents.backends``): a runtime calls ``SchedulerCore.plan_warmups()``, gets a
``PlanStep``, gives each ``WarmHint`` to the adapter of its backend (``adapter.warm(hint)``),
and calls again at ``next_check_s`` (or whenever a run moves).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

WarmAction = Literal["wake", "keep_awake"]
"""``wake``: start warming a sleeping backend now. ``keep_awake``: do not let an awake backend
fall asleep for ``keep_s`` seconds."""


@dataclass(frozen=True)
class WarmHint:
    """Warm ``backend`` now: an app will likely need it soon (or keep it awake).

    Attributes:
        backend: the backend to warm (a name of the scheduler's backends).
        app: app class of the best-ranked run that asked for it (for a keep-awake made for
            apps yet to arrive: the class that contributes most).
        run_id: that run; "" for a keep-awake made for apps yet to arrive.
        probability: p(reach backend) * P(arrival after the warm-up completes) for a wake;
            p(reach backend) * P(arrival within ``keep_s``) for a keep-awake; for apps yet to
            arrive, P(one that a wake could not serve in time arrives within ``keep_s``).
        expected_in_s: mean seconds until that run arrives at the backend (for apps yet to
            arrive: until the next such app is expected).
        issued_at_s: the core's clock when the hint was made.
        action: ``"wake"`` or ``"keep_awake"``.
        keep_s: keep_awake: how long to stay awake from ``issued_at_s``.
    """

    backend: str
    app: str
    run_id: str
    probability: float
    expected_in_s: float
    issued_at_s: float
    action: WarmAction
    keep_s: float = 0.0


@dataclass(frozen=True)
class PlanStep:
    """One planning step's decisions (vLLM's ``SchedulerOutput`` seam, much smaller).

    Attributes:
        hints: what to do now, best-ranked apps first; at most one hint per backend.
        next_check_s: the core clock time at which a hint known now falls due (or a rate limit
            ends): call ``plan`` again then. None: nothing is pending; call again when a run
            moves.
    """

    hints: list[WarmHint] = field(default_factory=list)
    next_check_s: float | None = None
