"""Tests for hermes_agents.settings: env vars are read at call time, defaults follow XDG."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest

from hermes_agents import settings
from hermes_agents.errors import ValidationError

_VARS = (
    "HERMES_CONFIG",
    "HERMES_SCHEDULER",
    "HERMES_DATA_DIR",
    "XDG_RUNTIME_DIR",
    "XDG_CACHE_HOME",
    "XDG_DATA_HOME",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Unset every variable settings reads; HOME is a fresh directory."""
    for name in _VARS:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    return home


def test_every_variable_is_documented_in_the_module_docstring() -> None:
    doc = settings.__doc__ or ""
    for name in (*_VARS, "HOME"):
        assert f"``{name}``" in doc


# --- config_path -------------------------------------------------------------------------------


def test_config_path_is_none_when_unset_or_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings.config_path() is None
    monkeypatch.setenv("HERMES_CONFIG", "")
    assert settings.config_path() is None


def test_config_path_is_read_at_call_time(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    importlib.reload(settings)  # import with the variable unset ...
    monkeypatch.setenv("HERMES_CONFIG", str(tmp_path / "a.toml"))  # ... then set it
    assert settings.config_path() == tmp_path / "a.toml"
    monkeypatch.setenv("HERMES_CONFIG", str(tmp_path / "b.toml"))
    assert settings.config_path() == tmp_path / "b.toml"


def test_config_path_expands_the_home_directory(
    monkeypatch: pytest.MonkeyPatch, clean_env: Path
) -> None:
    monkeypatch.setenv("HERMES_CONFIG", "~/hermes.toml")
    assert settings.config_path() == clean_env / "hermes.toml"


# --- scheduler_address -------------------------------------------------------------------------


def test_scheduler_address_is_none_when_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings.scheduler_address() is None
    monkeypatch.setenv("HERMES_SCHEDULER", "")
    assert settings.scheduler_address() is None


@pytest.mark.parametrize(
    "address",
    [
        "unix:///run/user/1000/hermes.sock",
        "tcp://127.0.0.1:7461",
        "tcp://localhost:7461",
        "tcp://[::1]:7461",
    ],
)
def test_scheduler_address_accepts_unix_and_tcp(
    monkeypatch: pytest.MonkeyPatch, address: str
) -> None:
    monkeypatch.setenv("HERMES_SCHEDULER", address)
    assert settings.scheduler_address() == address


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("/run/hermes.sock", "unknown scheme ''"),
        ("http://127.0.0.1:7461", "unknown scheme 'http'"),
        ("UNIX:///run/hermes.sock", "unknown scheme 'UNIX'"),
        ("unix://run/hermes.sock", "absolute socket path"),
        ("tcp://127.0.0.1", "a host and a port"),
        ("tcp://127.0.0.1:port", "a host and a port"),
        ("tcp://:7461", "a host and a port"),
        ("tcp://127.0.0.1:7461/path", "nothing after them"),
    ],
)
def test_scheduler_address_rejects_malformed_values(
    monkeypatch: pytest.MonkeyPatch, address: str, problem: str
) -> None:
    monkeypatch.setenv("HERMES_SCHEDULER", address)
    with pytest.raises(ValidationError) as info:
        settings.scheduler_address()
    message = str(info.value)
    assert message.startswith("environment variable 'HERMES_SCHEDULER': ")
    assert problem in message
    assert repr(address) in message
    assert "tcp://host:port" in message


# --- default_socket_path -----------------------------------------------------------------------


def test_socket_lives_in_the_runtime_dir_when_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert settings.default_socket_path() == tmp_path / "run" / "hermes" / "hermes.sock"


def test_socket_falls_back_to_the_cache_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert settings.default_socket_path() == tmp_path / "cache" / "hermes" / "hermes.sock"


def test_socket_falls_back_to_home_cache(clean_env: Path) -> None:
    assert settings.default_socket_path() == clean_env / ".cache" / "hermes" / "hermes.sock"


def test_relative_xdg_paths_are_ignored(monkeypatch: pytest.MonkeyPatch, clean_env: Path) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", "relative/run")
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    monkeypatch.setenv("XDG_DATA_HOME", "relative/data")
    assert settings.default_socket_path() == clean_env / ".cache" / "hermes" / "hermes.sock"
    assert settings.data_dir() == clean_env / ".local" / "share" / "hermes"


def test_the_default_address_is_accepted_with_and_without_a_runtime_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, clean_env: Path
) -> None:
    """The address ``hermes serve`` prints and clients use is a valid ``HERMES_SCHEDULER``
    whether or not ``XDG_RUNTIME_DIR`` is set (unset, it used to read ``unix:///hermes/...``)."""
    for runtime in (None, str(tmp_path / "run")):
        if runtime is None:
            monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
        else:
            monkeypatch.setenv("XDG_RUNTIME_DIR", runtime)
        address = settings.default_scheduler_address()
        assert address == f"unix://{settings.default_socket_path()}"
        assert settings.default_socket_path().is_absolute()
        monkeypatch.setenv("HERMES_SCHEDULER", address)
        assert settings.scheduler_address() == address
        monkeypatch.delenv("HERMES_SCHEDULER")
    assert settings.default_socket_path() == tmp_path / "run" / "hermes" / "hermes.sock"


def test_socket_falls_back_to_tmp_when_the_home_cannot_hold_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("HOME", str(blocker / "home"))  # no directory can be made under a file
    expected = Path("/tmp", f"hermes-{os.getuid()}", "hermes.sock")
    assert settings.default_socket_path() == expected
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(blocker / "run"))
    assert settings.default_socket_path() == expected


def test_socket_falls_back_to_tmp_when_the_path_is_too_long(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    deep = tmp_path / ("d" * (settings.MAX_UNIX_PATH_BYTES + 1))
    monkeypatch.setenv("XDG_CACHE_HOME", str(deep))
    path = settings.default_socket_path()
    assert path == Path("/tmp", f"hermes-{os.getuid()}", "hermes.sock")
    assert len(os.fsencode(path)) <= settings.MAX_UNIX_PATH_BYTES


def test_socket_falls_back_to_tmp_without_a_home(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_home() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", staticmethod(no_home))
    assert settings.default_socket_path() == Path("/tmp", f"hermes-{os.getuid()}", "hermes.sock")


def test_socket_path_is_read_at_call_time(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, clean_env: Path
) -> None:
    before = settings.default_socket_path()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    after = settings.default_socket_path()
    assert before == clean_env / ".cache" / "hermes" / "hermes.sock"
    assert after == tmp_path / "run" / "hermes" / "hermes.sock"


# --- data_dir ----------------------------------------------------------------------------------


def test_data_dir_prefers_hermes_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HERMES_DATA_DIR", str(tmp_path / "mine"))
    assert settings.data_dir() == tmp_path / "mine"


def test_data_dir_expands_the_home_directory(
    monkeypatch: pytest.MonkeyPatch, clean_env: Path
) -> None:
    monkeypatch.setenv("HERMES_DATA_DIR", "~/profiles")
    assert settings.data_dir() == clean_env / "profiles"


def test_data_dir_follows_xdg_data_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert settings.data_dir() == tmp_path / "xdg" / "hermes"


def test_data_dir_falls_back_to_local_share(
    monkeypatch: pytest.MonkeyPatch, clean_env: Path
) -> None:
    assert settings.data_dir() == clean_env / ".local" / "share" / "hermes"
    monkeypatch.setenv("HERMES_DATA_DIR", "")
    assert settings.data_dir() == clean_env / ".local" / "share" / "hermes"
