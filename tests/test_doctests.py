"""Every docstring example in the package runs and says what it shows (doctest).

Examples that need a server or a file are marked ``# doctest: +SKIP`` where they stand.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from types import ModuleType

import pytest

import hermes_agents

# Modules whose import needs an optional extra or starts something: their examples are
# exercised by their own tests instead.
_SKIP = ("hermes_agents.local.serve_process",)


def _modules() -> list[str]:
    names = [hermes_agents.__name__]
    for info in pkgutil.walk_packages(hermes_agents.__path__, prefix="hermes_agents."):
        if not info.name.startswith(_SKIP):
            names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name: str) -> None:
    module: ModuleType = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
