"""The records the scheduling core hands its driver: one ``Decisions`` per ``step``.

Plain immutable records (named tuples: built on every step, so built cheaply).

vLLM's seam: the core answers, the driver acts. ``SchedulerCore.step`` returns everything the
driver must do now (``driver.Driver`` applies it):

- ``grants``: tasks that may run now (wake their callers);
- ``withdrawn``: waiting tasks taken out of their queue without a grant, and why (answer their
  callers with that reason: nobody may wait for a grant that will never come);
- ``freed``: the backend of every slot given back since the last step (a prewarmer's belief
  that a backend is busy ends with its last call; reported only by a core with a planner);
- ``hints`` and ``next_check_s``: warm-ups due now and when to ask again (prewarming);
- ``finished``: traces of runs that ended whole, for the learner (the driver learns from them
  off the scheduler's lock and off any event loop: the core does no I/O).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from hermes_agents.pdgraph import Visit
from hermes_agents.prewarm import WarmHint

RUN_ENDED = "its app run ended while it waited"
"""Why a task is withdrawn when its run finishes with it still queued."""


class Grant(NamedTuple):
    """A decision: ``task_id`` may run now on ``backend``.

    Attributes:
        task_id: the task (the core's id).
        run_id: its run.
        backend: where it runs.
        waited_s: seconds from submission to this grant.
    """

    task_id: int
    run_id: str
    backend: str
    waited_s: float


class Withdrawal(NamedTuple):
    """A waiting task left its queue without a grant; its caller must be told ``reason``."""

    task_id: int
    run_id: str
    backend: str
    reason: str


class FinishedRun(NamedTuple):
    """A run that ended whole: the sample of its app's demand that the learner takes."""

    run_id: str
    app: str
    visits: tuple[Visit, ...]


class Decisions(NamedTuple):
    """What the driver must do after one ``SchedulerCore.step`` (see the module docstring)."""

    grants: Sequence[Grant] = ()
    withdrawn: Sequence[Withdrawal] = ()
    freed: Sequence[str] = ()
    hints: Sequence[WarmHint] = ()
    next_check_s: float | None = None
    finished: Sequence[FinishedRun] = ()


new_record = tuple.__new__
"""Makes a record (``Grant``, ``Decisions``) from a tuple of all its fields, without the named
tuple's Python-level ``__new__``: one C call, for the hot paths."""


NOTHING = Decisions()
"""The step record when there is nothing to do."""
