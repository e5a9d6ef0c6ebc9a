"""The light base install: importing the commands loads neither matplotlib nor rich; a command
that needs a missing extra says which one to install; pyproject's extras match ``EXTRAS``."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from hermes_agents.extras import EXTRAS, MissingExtraError, needs_extra, require

ROOT = Path(__file__).resolve().parent.parent

COMMAND_MODULES = (
    "hermes_agents.cli",
    "hermes_agents.commands.bench",
    "hermes_agents.commands.check",
    "hermes_agents.commands.demo",
    "hermes_agents.commands.graph",
    "hermes_agents.commands.serve",
    "hermes_agents.commands.status",
    "hermes_agents.demo.plot",
    "hermes_agents.demo.report",
    "hermes_agents.demo.session",
    "hermes_agents.sim.plot",
    "hermes_agents.sim.report",
    "hermes_agents.sim.sweep",
    "hermes_agents.pdgraph.render",
    "hermes_agents.local",
)


def _python(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter from the repository root."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_importing_the_commands_loads_no_plotting_or_table_library() -> None:
    done = _python(
        f"""
        import importlib, sys
        for name in {COMMAND_MODULES!r}:
            importlib.import_module(name)
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("matplotlib", "rich"))
        print(heavy)
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


BLOCKED = """
import sys
sys.modules["matplotlib"] = None  # as if the extra were not installed
sys.modules["rich"] = None
from hermes_agents.cli import main
"""


@pytest.mark.parametrize("argv", [["bench", "--apps", "5"], ["status"], ["graph", "--list"]])
def test_a_command_without_its_extra_names_the_extra(argv: list[str]) -> None:
    done = _python(BLOCKED + f"sys.exit(main({argv!r}))")
    assert done.returncode == 2, done.stderr
    message = done.stderr.strip()
    assert message.splitlines() == [message]  # one line, no traceback
    assert "needs the 'cli' extra" in message
    assert "pip install 'hermes-agents[cli]'" in message


def test_status_json_needs_no_extra() -> None:
    done = _python(BLOCKED + "sys.exit(main(['status', '--json', '--address', 'unix:///nope']))")
    assert done.returncode == 1  # no daemon there, and no ImportError either
    assert "no hermes daemon answered at unix:///nope" in done.stderr


def test_the_demo_without_the_local_extra_names_it() -> None:
    done = _python(
        """
        import sys
        sys.modules["xllamacpp"] = None
        from hermes_agents.cli import main
        sys.exit(main(["demo"]))
        """
    )
    assert done.returncode == 2, done.stderr
    assert "pip install 'hermes-agents[local]'" in done.stderr
    assert "xllamacpp is not installed" in done.stderr


def test_a_plot_without_matplotlib_raises_the_extras_error() -> None:
    done = _python(
        """
        import sys
        sys.modules["matplotlib"] = None
        from hermes_agents.extras import MissingExtraError
        from hermes_agents.sim.plot import plot_bench
        try:
            plot_bench({}, "x.png")
        except MissingExtraError as error:
            print(error)
        """
    )
    assert done.stdout.strip() == (
        "this needs the 'cli' extra (matplotlib is not installed): pip install 'hermes-agents[cli]'"
    )


def test_needs_extra_passes_other_import_errors_through() -> None:
    with pytest.raises(ModuleNotFoundError, match="no_such_module"), needs_extra("cli"):
        import no_such_module  # type: ignore[import-not-found]  # noqa: F401
    require("cli")  # installed in the test environment


def test_an_extra_that_is_missing_raises_with_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rich", None)
    with pytest.raises(MissingExtraError, match=r"rich is not installed"):
        require("cli")


def _distribution(requirement: str) -> str:
    """``"rich>=13"`` -> ``"rich"``; the module name Python imports it by."""
    name = requirement.split(";")[0]
    for mark in "<>=!~[ ":
        name = name.split(mark)[0]
    return name.replace("-", "_").lower()


def test_pyproject_extras_match_the_modules_named_in_code() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    optional = project["optional-dependencies"]
    base = {_distribution(r) for r in project["dependencies"]}
    for extra, modules in EXTRAS.items():
        assert set(modules) <= {_distribution(r) for r in optional[extra]}, extra
        assert not set(modules) & base, f"{extra}'s modules must not be in the base install"
    assert {"matplotlib", "rich"} <= {_distribution(r) for r in optional["dev"]}
