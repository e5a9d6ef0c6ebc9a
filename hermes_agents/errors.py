"""Exceptions raised by hermes-agents.

The tree, in one place::

    HermesError                  base of everything raised on purpose by this package
     ├── ValidationError         bad input at a boundary (graph, workload file, config,
     │                           arguments); also a ValueError. ``.location`` names where
     │                           (app, stage, field) and the message says how to fix it.
     └── RunEndedError           a call waited for a slot while its app run ended (the run
                                 scope was left with the call still queued): the call was
                                 withdrawn without running.

Building fails fast with a ``ValidationError``. Running fails open: scheduling problems never
surface as exceptions in the user's call (see the scheduler docs); a call whose own run ended
under it is the one answer that is not a grant.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class HermesError(Exception):
    """Base class for every error hermes-agents raises on purpose."""


class ValidationError(HermesError, ValueError):
    """Input rejected at a boundary.

    ``location`` is the path to the offending value, outermost first, for example
    ``("app 'react'", "stage 'thought'", "field 'next'")``; ``problem`` says what is wrong and
    what to change.
    """

    def __init__(self, problem: str, *location: str) -> None:
        self.location: tuple[str, ...] = tuple(part for part in location if part)
        self.problem = problem
        where = ", ".join(self.location)
        super().__init__(f"{where}: {problem}" if where else problem)

    def within(self, *outer: str) -> ValidationError:
        """Return the same error with ``outer`` location parts prepended."""
        return ValidationError(self.problem, *outer, *self.location)


class RunEndedError(HermesError):
    """A call was withdrawn from its queue because its app run ended while it waited."""


def did_you_mean(value: object, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` naming the choice closest to ``value``, or ``""`` when none is
    close; append it to the problem of a ``ValidationError``.

    >>> did_you_mean("gitins", ["fcfs", "gittins", "plas"])
    " (did you mean 'gittins'?)"
    >>> did_you_mean("zzz", ["fcfs", "gittins"])
    ''
    """
    close = difflib.get_close_matches(str(value), sorted(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
