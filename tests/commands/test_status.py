"""``hermes status``: the view of a daemon's snapshot, ``--watch`` redrawing it in place, and
what it says when apps schedule in-process (nothing another process can watch)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console

from hermes_agents.cli import main
from hermes_agents.commands.status import IN_PROCESS_NOTE, watch
from hermes_agents.scheduling.daemon.client import DaemonUnavailableError


def _snapshot(waiting: int) -> dict[str, Any]:
    """A daemon snapshot in the documented shape (``scheduling.daemon.snapshot``)."""
    return {
        "server": "hermes-agents test",
        "version": 1,
        "policy": "gittins",
        "uptime_s": 12.0,
        "clients": 2,
        "lease_s": 30.0,
        "backends": [
            {
                "backend": "llm",
                "kind": "llm",
                "max_concurrency": 2,
                "token_budget": None,
                "running": 2,
                "waiting": waiting,
                "tokens_running": 0,
                "grants": 9,
            }
        ],
        "apps": [
            {
                "app": "rag",
                "runs": 1,
                "running": 1,
                "waiting": 0,
                "best_rank": 0.8,
                "attained_s": 1.5,
            }
        ],
        "runs": [
            {
                "run": "r-1",
                "app": "rag",
                "stage": "draft",
                "rank": 0.8,
                "attained_s": 1.5,
                "running": 1,
                "waiting": 0,
                "age_s": 2.0,
            }
        ],
        "counters": {
            "connections": 2,
            "protocol_errors": 0,
            "leases_expired": 0,
            "slots_reclaimed": 0,
            "unscheduled_calls": 0,
        },
        "prewarm": {
            "total": {"hints": 3, "hits": 2, "late": 1, "unused": 0, "warm_failures": 0},
            "backends": [{"backend": "embeddings", "hints": 3, "hits": 2, "late": 1}],
        },
    }


def test_watch_redraws_until_the_count_and_survives_a_lost_daemon() -> None:
    states = iter([_snapshot(5), None, _snapshot(7)])
    slept: list[float] = []

    def query() -> dict[str, Any]:
        state = next(states)
        if state is None:
            raise DaemonUnavailableError("connection refused")
        return state

    out = io.StringIO()
    console = Console(file=out, width=160, force_terminal=True)
    assert watch(console, query, 0.5, count=3, sleep=slept.append) == 0
    shown = out.getvalue()
    assert slept == [0.5, 0.5]  # between the redraws, not after the last
    assert "no hermes daemon answers: connection refused; still trying" in shown
    for expected in ("Backends", "Runs (best rank first)", "draft", "Prewarming", "Ctrl-C"):
        assert expected in shown
    assert "\x1b[" in shown  # redrawn in place with cursor moves, not appended


def test_watch_stops_on_ctrl_c() -> None:
    def interrupted(_: float) -> None:
        raise KeyboardInterrupt

    console = Console(file=io.StringIO(), width=160)
    assert watch(console, lambda: _snapshot(1), 1.0, sleep=interrupted) == 0


def test_without_a_daemon_it_says_why_in_process_apps_cannot_be_watched(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["status"]) == 1  # HERMES_SCHEDULER is unset in tests; nothing listens
    shown = capsys.readouterr().out
    assert "no hermes daemon answered at unix://" in shown
    assert IN_PROCESS_NOTE in shown
    assert "hermes serve" in shown


def test_a_bad_interval_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--watch", "--interval", "0"]) == 2
    assert "--interval: must be > 0 seconds" in capsys.readouterr().err


def test_names_are_printed_as_they_are_never_as_markup_or_escape_codes() -> None:
    from hermes_agents.commands.status import _cell

    assert _cell("[/bold]") == "\\[/bold]"  # rich prints it literally
    assert "\x1b" not in _cell("qa\x1b[2J")
