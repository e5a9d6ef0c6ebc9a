"""The commands' rich console (the ``cli`` extra): a file or a pipe gets a wide one, so that
tables keep one row per line instead of being squeezed into 80 columns."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hermes_agents.extras import needs_extra

if TYPE_CHECKING:
    from rich.console import Console

PIPE_WIDTH = 160
"""Columns of a console that writes to a file or a pipe."""


def console(*, stderr: bool = False) -> Console:
    """A console on stdout (or stderr); at least ``PIPE_WIDTH`` wide when not a terminal."""
    with needs_extra("cli"):
        from rich.console import Console
    out = Console(stderr=stderr)
    return out if out.is_terminal else Console(stderr=stderr, width=max(out.width, PIPE_WIDTH))
