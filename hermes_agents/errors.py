"""Exceptions raised by hermes-agents.

The tree, in one place::

    HermesError                  base of everything raised on purpose by this package
     └── ValidationError         bad input at a boundary (graph, workload file, config,
                                 arguments); also a ValueError. ``.location`` names where
                                 (app, stage, field) and the message says how to fix it.

Building fails fast with a ``ValidationError``. Running fails open: scheduling problems never
surface as exceptions in the user's call (see the scheduler docs).
"""

from __future__ import annotations


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
