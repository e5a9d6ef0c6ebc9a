"""LangGraph's own test suite, run on plain and on instrumented graphs.

Nothing of LangGraph's is copied into this repository. At test time:

1. ``prepare`` downloads the sdist of the installed langgraph version
   (``pip download --no-deps --no-binary :all: langgraph==<version>``) into a cache folder,
   unpacks its ``tests/``, replaces its ``conftest.py`` with ``langgraph_conftest.py``
   (in-memory fixtures only), and installs the test-only packages its tests import
   (``TEST_PACKAGES``) into a folder of their own (``pip install --target``);
2. ``run`` runs the chosen test files there in a subprocess, once per mode: ``plain``, and
   ``instrumented`` (``instrument_plugin.py`` wraps every ``compile()`` and ``@entrypoint``
   in ``instrument()``), and returns each test's outcome.

A test that passes plain and fails instrumented is a regression of ``instrument()``. Run it
locally as the tests do, or by hand::

    .venv/bin/python -m tests.conformance.suite              # every file in FILES
    .venv/bin/python -m tests.conformance.suite test_state.py
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
FILES = (
    "test_pregel.py",
    "test_pregel_async.py",
    "test_interruption.py",
    "test_interrupt_state.py",
    "test_subgraph_detection.py",
    "test_subgraph_persistence.py",
    "test_subgraph_persistence_async.py",
    "test_state.py",
    "test_time_travel.py",
    "test_time_travel_async.py",
    "test_runtime.py",
    "test_graph_callbacks.py",
)
"""LangGraph's test files the conformance runs use (all of them are run in both modes)."""
TEST_PACKAGES = ("syrupy", "pytest-mock")
"""What LangGraph's tests import beyond our own dependencies (installed at test time, unless
this environment has them)."""
MODES = ("plain", "instrumented")
PER_RUN_TIMEOUT_S = 1500.0


class SuiteUnavailableError(Exception):
    """The suite cannot be had (no network, no such sdist): the conformance runs skip."""


@dataclass(frozen=True)
class Suite:
    """An unpacked LangGraph test suite, ready to run."""

    version: str
    root: Path
    """The sdist's folder: ``tests/`` is in it."""
    packages: Path
    """Where ``TEST_PACKAGES`` were installed."""


def installed_version() -> str:
    """The version of the langgraph package installed here."""
    return importlib.metadata.version("langgraph")


def prepare(cache: Path, version: str | None = None) -> Suite:
    """The suite of ``version`` (default: the installed one), from ``cache`` if it is there
    already, else downloaded; raises ``SuiteUnavailableError`` when it cannot be downloaded."""
    version = version or installed_version()
    home = cache / f"langgraph-{version}"
    root, packages = home / f"langgraph-{version}", home / "packages"
    ready = home / "ready"
    if not ready.is_file():
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        sdist = _download(version, home)
        _unpack_tests(sdist, home)
        missing = [name for name in TEST_PACKAGES if not _importable(name)]
        if missing:  # not in this environment: into a folder of their own
            _pip(["install", "--no-deps", "--target", str(packages), *missing], "install")
        ready.write_text(version, "utf-8")
    shutil.copyfile(HERE / "langgraph_conftest.py", root / "tests" / "conftest.py")
    return Suite(version, root, packages)


@dataclass(frozen=True)
class Outcomes:
    """One run of the suite."""

    tests: dict[str, str]
    """Node id -> ``passed`` / ``failed`` / ``skipped``."""
    graphs: int
    """Graphs instrumented (0 in the plain run)."""
    runs: int
    """App runs started (0 in the plain run)."""
    output: str
    """The end of pytest's output."""


def run(suite: Suite, mode: str, files: Sequence[str] = FILES) -> Outcomes:
    """Each test's outcome in ``mode``."""
    with tempfile.TemporaryDirectory(prefix="hermes-conformance-") as scratch:
        report = Path(scratch) / "outcomes.json"
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(HERE), str(suite.packages)]),
            "HERMES_CONFORMANCE_REPORT": str(report),
            "HERMES_CONFORMANCE_INSTRUMENT": "1" if mode == "instrumented" else "0",
            "NO_DOCKER": "true",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        command = [
            sys.executable,
            "-m",
            "pytest",
            *[f"tests/{name}" for name in files],
            "-p",
            "instrument_plugin",
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=",
            "-q",
            "--no-header",
            "-rN",
            *_timeout(),
            *_parallel(),
        ]
        done = subprocess.run(
            command,
            cwd=suite.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=PER_RUN_TIMEOUT_S,
            check=False,
        )
        if not report.is_file():
            raise RuntimeError(f"the {mode} run reported nothing:\n{done.stdout[-4000:]}")
        data = json.loads(report.read_text("utf-8"))
        return Outcomes(data["outcomes"], data["graphs"], data["runs"], done.stdout[-20000:])


def run_both(suite: Suite, files: Sequence[str] = FILES) -> dict[str, Outcomes]:
    """Both modes, side by side (two processes)."""
    with ThreadPoolExecutor(len(MODES)) as pool:
        futures = {mode: pool.submit(run, suite, mode, files) for mode in MODES}
        return {mode: future.result() for mode, future in futures.items()}


def regressions(plain: Mapping[str, str], instrumented: Mapping[str, str]) -> list[str]:
    """Tests that pass plain but not instrumented."""
    return sorted(
        test
        for test, outcome in plain.items()
        if outcome == "passed" and instrumented.get(test) != "passed"
    )


def summary(outcomes: Mapping[str, Outcomes]) -> str:
    """One line per mode: how many tests passed, failed and were skipped."""
    lines = []
    for mode, results in outcomes.items():
        counts = Counter(results.tests.values())
        lines.append(
            f"{mode}: {counts['passed']} passed, {counts['failed']} failed, "
            f"{counts['skipped']} skipped ({results.graphs} graphs instrumented, "
            f"{results.runs} app runs)"
        )
    lost = regressions(outcomes["plain"].tests, outcomes["instrumented"].tests)
    lines.append(f"pass plain, fail instrumented: {len(lost)}")
    return "\n".join(lines + [f"  {test}" for test in lost])


def _download(version: str, into: Path) -> Path:
    _pip(
        ["download", "--no-deps", "--no-binary", ":all:", f"langgraph=={version}", "-d", str(into)],
        "download",
    )
    found = sorted(into.glob(f"langgraph-{version}.tar.gz"))
    if not found:
        raise SuiteUnavailableError(f"pip downloaded no sdist of langgraph {version}")
    return found[0]


def _unpack_tests(sdist: Path, into: Path) -> None:
    with tarfile.open(sdist) as archive:
        members = [
            m
            for m in archive.getmembers()
            if "/tests/" in m.name or m.name.endswith(("/pyproject.toml", "/tests"))
        ]
        if hasattr(tarfile, "data_filter"):  # Python 3.11.4+: no links or paths out of ``into``
            archive.extractall(into, members=members, filter="data")
        else:
            archive.extractall(into, members=members)  # an sdist from the package index


def _pip(arguments: list[str], what: str) -> None:
    try:
        subprocess.run(
            [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *arguments],
            check=True,
            capture_output=True,
            text=True,
            timeout=600,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as error:
        lines = str(getattr(error, "stderr", "") or error).strip().splitlines() or [""]
        detail = lines[-1][-300:]  # pip's last line says why
        raise SuiteUnavailableError(f"pip {what} failed (no network?): {detail}") from None


def _importable(package: str) -> bool:
    return importlib.util.find_spec(package.replace("-", "_")) is not None


def _timeout() -> list[str]:
    """A hung LangGraph test fails alone, not the whole run (with pytest-timeout)."""
    return ["--timeout=120"] if importlib.util.find_spec("pytest_timeout") else []


def _parallel() -> list[str]:
    """pytest-xdist's workers when it is installed and there are cores to spare."""
    cores = os.cpu_count() or 1
    if importlib.util.find_spec("xdist") is None or cores < 4:
        return []
    return ["-n", str(cores // 2)]


def main(argv: Sequence[str]) -> int:
    cache = Path(os.environ.get("HERMES_CONFORMANCE_CACHE", Path.home() / ".cache" / "hermes"))
    try:
        suite = prepare(cache)
    except SuiteUnavailableError as error:
        print(f"skipped: {error}")
        return 0
    outcomes = run_both(suite, list(argv) or FILES)
    print(f"langgraph {suite.version}\n{summary(outcomes)}")
    return 1 if regressions(outcomes["plain"].tests, outcomes["instrumented"].tests) else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
