"""The ``hermes`` command line: version, bare help, defaults and examples in every help, a bad
flag's usage, and "did you mean" for commands, policies and app names."""

from __future__ import annotations

from pathlib import Path

import pytest

from hermes_agents.cli import COMMANDS, main
from hermes_agents.pdgraph import Call, StageKind, Visit
from hermes_agents.store import ProfileStore
from hermes_agents.version import VERSION


def _exit_code(argv: list[str]) -> int:
    """The status ``main(argv)`` returns or exits with (argparse exits for help and errors)."""
    try:
        return main(argv)
    except SystemExit as stop:
        return int(stop.code or 0)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_code(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"hermes-agents {VERSION}"


def test_bare_hermes_prints_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_code([]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith("usage: hermes")
    assert "examples:" in shown
    assert all(name in shown for name in COMMANDS)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_command_help_shows_defaults_and_an_example(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _exit_code([command, "--help"]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith(f"usage: hermes {command}")
    assert "(default:" in shown
    assert "examples:" in shown
    assert f"  hermes {command}" in shown.split("examples:")[1]
    assert "(default: None)" not in shown
    assert "(default: False)" not in shown


def test_a_bad_flag_gets_the_usage_of_its_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_code(["demo", "--frobnicate"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("usage: hermes demo")
    assert "hermes demo: error: unrecognized arguments: --frobnicate" in error


def test_an_unknown_command_gets_a_guess(capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_code(["bnech"]) == 2
    assert "unknown command 'bnech' (did you mean 'bench'?)" in capsys.readouterr().err


def test_an_unknown_policy_gets_a_guess(capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_code(["bench", "--policies", "fcfs,gitins", "--apps", "5"]) == 2
    assert "unknown policy gitins (did you mean 'gittins'?)" in capsys.readouterr().err


def test_serve_guesses_a_misspelt_policy(capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_code(["serve", "--policy", "fcsf", "--no-store"]) == 2
    assert "--policy: unknown policy 'fcsf' (did you mean 'fcfs'?)" in capsys.readouterr().err


def test_an_unknown_app_gets_a_guess(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "profiles.sqlite3"
    with ProfileStore(path) as store:
        store.record_run("research", (Visit("plan", StageKind.LLM, "llm", (Call(10, 5),)),))
    assert _exit_code(["graph", "reserch", "--store", str(path)]) == 2
    error = capsys.readouterr().err
    assert "no app 'reserch'" in error
    assert "(did you mean 'research'?)" in error
