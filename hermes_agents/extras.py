"""Optional dependencies: which extra brings which module, and one clear error when one is missing.

The base install holds what an app process needs to be scheduled. The CLI's tables and plots
(rich, matplotlib) come with the ``cli`` extra; the demo's local model and LangChain clients with
``local`` (which includes ``cli``). Modules that use an extra import it inside the function
that needs it, so importing them costs nothing::

    with needs_extra("cli"):
        from matplotlib.figure import Figure

A command checks everything it needs before it starts work with ``require("cli")``.

>>> require("nothing-like-it")
Traceback (most recent call last):
...
hermes_agents.errors.ValidationError: extra 'nothing-like-it': unknown; use one of cli, local, redis
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from hermes_agents.errors import HermesError, ValidationError, did_you_mean

__all__ = ["EXTRAS", "MissingExtraError", "needs_extra", "require"]

EXTRAS: Mapping[str, tuple[str, ...]] = {
    "cli": ("rich", "matplotlib"),
    "local": ("rich", "matplotlib", "xllamacpp", "langchain_openai"),
    "redis": ("redis",),
}
"""Extra (as in ``pip install 'hermes-agents[EXTRA]'``) -> the top-level modules it brings."""


class MissingExtraError(HermesError):
    """A module of an optional extra is not installed; the message names the pip command."""

    def __init__(self, extra: str, module: str) -> None:
        self.extra, self.module = extra, module
        super().__init__(
            f"this needs the {extra!r} extra ({module} is not installed): "
            f"pip install 'hermes-agents[{extra}]'"
        )


def _modules(extra: str) -> tuple[str, ...]:
    modules = EXTRAS.get(extra)
    if modules is None:
        raise ValidationError(
            f"unknown{did_you_mean(extra, EXTRAS)}; use one of {', '.join(EXTRAS)}",
            f"extra {extra!r}",
        )
    return modules


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a module whose import was blocked or half-done
        return False


def require(extra: str) -> None:
    """Raise ``MissingExtraError`` unless every module of ``extra`` can be imported."""
    for module in _modules(extra):
        if not _installed(module):
            raise MissingExtraError(extra, module)


@contextmanager
def needs_extra(extra: str) -> Iterator[None]:
    """Turn the failed import of a module of ``extra`` inside the block into a
    ``MissingExtraError``; any other import error passes through unchanged."""
    modules = _modules(extra)
    try:
        yield
    except ModuleNotFoundError as error:
        missing = (error.name or "").partition(".")[0]
        if missing not in modules:
            raise
        raise MissingExtraError(extra, missing) from error
