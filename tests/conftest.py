"""Keep every test away from the user's real data directory and running daemons."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _private_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HERMES_DATA_DIR", str(Path(home, "data")))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(Path(home, "run")))
    monkeypatch.delenv("HERMES_SCHEDULER", raising=False)
    monkeypatch.delenv("HERMES_CONFIG", raising=False)
