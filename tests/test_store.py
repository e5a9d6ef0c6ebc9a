"""The profile store: round trips, replayed learners, pruning, many writers, rejected files."""

from __future__ import annotations

import logging
import multiprocessing
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from hermes_agents import ValidationError
from hermes_agents.pdgraph import Call, Learner, PDGraph, StageKind, Visit, structural_prior
from hermes_agents.store import (
    APPLICATION_ID,
    SCHEMA_VERSION,
    AppProfile,
    ProfileStore,
    ProfileStoreError,
    decode_run,
    encode_run,
)


def llm(stage: str, prompt: int = 100, output: int = 10, width: int = 1) -> Visit:
    return Visit(stage, StageKind.LLM, "llm", tuple(Call(prompt, output) for _ in range(width)))


def tool(stage: str, seconds: float) -> Visit:
    return Visit(stage, StageKind.TOOL, "sandbox", (Call(seconds=seconds),))


def react_run(rng: np.random.Generator) -> list[Visit]:
    """A thought/search loop of random length, with random demand."""
    run = [llm("thought", int(rng.integers(500, 1500)), int(rng.integers(10, 60)))]
    for _ in range(int(rng.integers(0, 6))):
        run.append(tool("search", float(rng.lognormal(0.0, 0.5))))
        width = int(rng.integers(1, 3))
        run.append(llm("thought", int(rng.integers(500, 1500)), int(rng.integers(10, 60)), width))
    return run


def react_prior() -> PDGraph:
    return structural_prior(
        "react",
        "thought",
        {"thought": ["search", "END"], "search": ["thought"]},
        kinds={"search": "tool"},
        backends={"thought": "llm", "search": "sandbox"},
    )


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "profiles.sqlite3"


@pytest.fixture
def store(path: Path) -> Iterator[ProfileStore]:
    with ProfileStore(path, clock=iter(range(1_000_000)).__next__) as opened:
        yield opened


def test_runs_and_priors_round_trip(store: ProfileStore) -> None:
    rng = np.random.default_rng(1)
    runs = [tuple(react_run(rng)) for _ in range(20)]
    for run in runs:
        store.record_run("react", run)
    store.record_run("qa", [llm("answer")], observed_at=123.5)
    prior = react_prior().with_version(7)
    store.save_prior("react", prior)

    assert store.runs("react") == runs
    assert store.runs("react", limit=3) == runs[-3:]
    assert store.runs("nobody") == []
    restored = store.prior("react")
    assert restored is not None
    assert restored.to_dict() == prior.to_dict()
    assert restored.version == 7
    assert store.prior("qa") is None
    assert store.apps() == [
        AppProfile("qa", 1, 123.5, None),
        AppProfile("react", 20, 19.0, 7),
    ]


def test_run_json_round_trips_and_is_strict() -> None:
    run = (llm("plan", width=3), tool("search", 0.25), Visit("idle", StageKind.TOOL, "pool"))
    assert decode_run(encode_run(run)) == run
    numpy_tokens = Call(np.int64(3), 1)  # type: ignore[arg-type]  # as counters may give
    assert decode_run(encode_run([Visit("e", calls=(numpy_tokens,))]))[0].calls == (Call(3, 1),)
    with pytest.raises(ValidationError, match="at least one visit"):
        encode_run([])


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("not json", "not valid JSON"),
        ("[]", "non-empty JSON array"),
        ('{"stage": "a"}', "non-empty JSON array"),
        ('["a"]', "visit 0: a visit must be a JSON object"),
        ('[{"stage": "a", "kind": "llm", "backend": "b", "calls": [], "x": 1}]', "unknown"),
        ('[{"stage": "a", "kind": "gpu", "backend": "b", "calls": []}]', "unknown kind"),
        ('[{"stage": 1, "kind": "llm", "backend": "b", "calls": []}]', "must be strings"),
        ('[{"stage": "a", "kind": "llm", "backend": "b", "calls": [[1, 2]]}]', "a call is"),
        ('[{"stage": "a", "kind": "llm", "backend": "b", "calls": [[1, 2, 0, true]]}]', "a call"),
        ('[{"stage": "a", "kind": "llm", "backend": "b", "calls": [[-1, 2, 0, 0]]}]', "from 0 to"),
        ('[{"stage": "END", "kind": "llm", "backend": "b", "calls": []}]', "not 'END'"),
    ],
)
def test_decode_run_rejects_malformed_rows(text: str, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        decode_run(text)


def test_restored_learner_matches_one_fed_directly(store: ProfileStore) -> None:
    rng = np.random.default_rng(7)
    prior = react_prior()
    direct = Learner("react", prior)
    for _ in range(300):
        run = react_run(rng)
        direct.observe(run)
        store.record_run("react", run)

    restored = store.learner("react", prior)
    assert restored.runs_observed == 300
    assert restored.graph().to_dict() == direct.graph().to_dict()
    assert restored.graph().version == direct.graph().version

    small = Learner("react", prior, window=40, min_visit_transitions=5)
    assert store.replay(small) == 300
    assert store.replay(Learner("react", prior), limit=10) == 10


def test_learner_uses_the_stored_prior(store: ProfileStore) -> None:
    store.save_prior("react", react_prior())
    learner = store.learner("react")
    assert learner.runs_observed == 0
    assert learner.graph().successors("search") == {"thought": 1.0}
    assert store.learner("unknown").prior is None


def test_pruning_keeps_the_most_recent_runs_of_each_app(path: Path) -> None:
    with ProfileStore(path, keep_runs=5) as store:
        for index in range(12):
            store.record_run("a", [llm("x", prompt=index)])
            store.record_run("b", [llm("y", prompt=index)])
        store.record_run("c", [llm("z")])
        kept = [run[0].calls[0].prompt_tokens for run in store.runs("a", limit=100)]
        assert kept == [7, 8, 9, 10, 11]
        assert [(app.name, app.runs) for app in store.apps()] == [("a", 5), ("b", 5), ("c", 1)]
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT COUNT(*) FROM runs").fetchone() == (11,)


_WRITER = """
import sys, time
from pathlib import Path
from hermes_agents.pdgraph import Call, Visit
from hermes_agents.store import ProfileStore

path, go, tag, count = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
deadline = time.monotonic() + 60
while not go.exists() and time.monotonic() < deadline:  # start together: more contention
    time.sleep(0.005)
with ProfileStore(path, keep_runs=1000) as store:
    for index in range(count):
        store.record_run("shared", [Visit("plan", backend=tag, calls=(Call(index, 1),))])
"""


def test_profile_store_shared_by_two_processes(tmp_path: Path) -> None:
    path, go = tmp_path / "profiles.sqlite3", tmp_path / "go"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(path), str(go), tag, "200"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in ("first", "second")
    ]
    go.touch()  # both create the store (it does not exist yet), then write
    for writer in writers:
        _, stderr = writer.communicate(timeout=240)
        assert writer.returncode == 0, stderr
        assert "locked" not in stderr

    with ProfileStore(path) as store:
        runs = store.runs("shared")
    assert len(runs) == 400
    for tag in ("first", "second"):
        indexes = [run[0].calls[0].prompt_tokens for run in runs if run[0].backend == tag]
        assert indexes == list(range(200))  # all there, in each writer's order


def test_threads_share_one_store(store: ProfileStore) -> None:
    def write(tag: str) -> None:
        for index in range(50):
            store.record_run("threads", [Visit("plan", backend=tag, calls=(Call(index, 1),))])

    threads = [threading.Thread(target=write, args=(f"t{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store.runs("threads")) == 200


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_child_reconnects(store: ProfileStore) -> None:
    store.record_run("forked", [llm("parent")])

    def child() -> None:
        store.record_run("forked", [llm("child")])
        store.close()

    process = multiprocessing.get_context("fork").Process(target=child)
    process.start()
    process.join(timeout=60)
    assert process.exitcode == 0
    assert [run[0].stage for run in store.runs("forked")] == ["parent", "child"]


def test_file_is_wal_and_marked(store: ProfileStore, path: Path) -> None:
    store.record_run("qa", [llm("answer")])
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert raw.execute("PRAGMA application_id").fetchone() == (APPLICATION_ID,)
        assert raw.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []


def _random_bytes(path: Path) -> None:
    path.write_bytes(np.random.default_rng(3).bytes(4096))


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _foreign_database(path: Path) -> None:
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
        raw.execute("INSERT INTO notes (text) VALUES ('keep me')")
    raw.close()


def _newer_schema(path: Path) -> None:
    ProfileStore(path).close()
    with sqlite3.connect(path) as raw:
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()


def _missing_table(path: Path) -> None:
    ProfileStore(path).close()
    with sqlite3.connect(path) as raw:
        raw.execute("DROP TABLE priors")
    raw.close()


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (_random_bytes, "is not an SQLite database"),
        (_empty, "is not an SQLite database"),
        (_foreign_database, r"another application's SQLite database \(.*tables: notes\)"),
        (_newer_schema, f"newer hermes-agents \\(schema {SCHEMA_VERSION + 1}.*upgrade"),
        (_missing_table, "is damaged"),
    ],
)
def test_unusable_files_raise_and_stay_untouched(
    tmp_path: Path, make: Callable[[Path], None], match: str
) -> None:
    path = tmp_path / "profiles.sqlite3"
    make(path)
    before = path.read_bytes()
    with pytest.raises(ProfileStoreError, match=match) as raised:
        ProfileStore(path)
    assert raised.value.path == path
    assert str(path) in str(raised.value)
    assert "move it away" in str(raised.value)
    assert path.read_bytes() == before


def test_default_path_is_in_the_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HERMES_DATA_DIR", str(tmp_path / "hermes"))
    with ProfileStore() as store:
        assert store.path == tmp_path / "hermes" / "profiles.sqlite3"
    store.path.write_bytes(b"my notes, not a database")
    with pytest.raises(ProfileStoreError, match="set HERMES_DATA_DIR to another directory"):
        ProfileStore()


def test_unreadable_rows_are_skipped_with_one_warning(
    store: ProfileStore, path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store.record_run("qa", [llm("answer")])
    with sqlite3.connect(path) as raw:
        for text in ("garbage", '[{"stage": "x"}]'):
            raw.execute("INSERT INTO runs (app, observed_at, visits) VALUES ('qa', 0, ?)", (text,))
        raw.execute("INSERT INTO priors VALUES ('qa', 1, 0, '{\"name\": \"qa\"}')")
    raw.close()
    store.record_run("qa", [llm("answer")])

    with caplog.at_level(logging.WARNING, logger="hermes_agents.store"):
        assert len(store.runs("qa")) == 2
        assert store.prior("qa") is None
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 2
    assert "2 unreadable run(s) of app 'qa', row id(s) [2, 3]" in warnings[0]
    assert "prior of app 'qa'" in warnings[1]


def test_forget_and_close(store: ProfileStore) -> None:
    store.record_run("qa", [llm("answer")])
    store.record_run("qa", [llm("answer")])
    store.save_prior("qa", react_prior())
    store.record_run("other", [llm("answer")])
    assert store.forget("qa") == 3
    assert [app.name for app in store.apps()] == ["other"]
    store.close()
    store.close()
    with pytest.raises(ProfileStoreError, match="closed"):
        store.runs("other")


def test_bad_arguments_fail_fast(store: ProfileStore, path: Path) -> None:
    with pytest.raises(ValidationError, match="at least one visit"):
        store.record_run("qa", [])
    with pytest.raises(ValidationError, match="app name"):
        store.record_run("", [llm("answer")])
    with pytest.raises(ValidationError, match="keep_runs"):
        ProfileStore(path, keep_runs=0)


def test_a_version_1_store_is_upgraded_and_keeps_its_runs(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, app TEXT NOT NULL,"
        " observed_at REAL NOT NULL, visits TEXT NOT NULL);"
        "CREATE INDEX runs_by_app ON runs (app, id);"
        "CREATE TABLE priors (app TEXT PRIMARY KEY, version INTEGER NOT NULL,"
        " saved_at REAL NOT NULL, graph TEXT NOT NULL);"
        f"PRAGMA application_id = {0x4845524D}; PRAGMA user_version = 1;"
    )
    conn.execute(
        "INSERT INTO runs (app, observed_at, visits) VALUES ('qa', 0, ?)",
        ('[{"stage": "answer", "kind": "llm", "backend": "llm", "calls": [[10, 2, 0, 0.1]]}]',),
    )
    conn.commit()
    conn.close()
    with ProfileStore(path) as store:
        assert len(store.runs("qa")) == 1  # an old run has no graph version: still replayed
        store.record_run("qa", [Visit("answer", calls=(Call(10, 2),))], graph="abc")
        assert len(store.runs("qa", graph="abc")) == 2
        assert len(store.runs("qa", graph="other")) == 1  # the old one, of no known version


def test_runs_of_another_version_of_the_graph_are_not_replayed(tmp_path: Path) -> None:
    from hermes_agents.pdgraph import PDGraph
    from hermes_agents.scheduling.models import AppModels

    def graph(stages: dict[str, dict[str, float]]) -> PDGraph:
        llm = {"kind": "llm", "backend": "llm", "prompt_tokens": {"const": 5}}
        llm["output_tokens"] = {"const": 1}
        return PDGraph.from_dict(
            {
                "name": "qa",
                "entry": "think",
                "stages": {name: {**llm, "next": nxt} for name, nxt in stages.items()},
            }
        )

    old = graph({"think": {"answer": 1.0}, "answer": {"END": 1.0}})
    new = graph({"think": {"search": 1.0}, "search": {"answer": 1.0}, "answer": {"END": 1.0}})
    with ProfileStore(tmp_path / "p.sqlite3") as store:
        models = AppModels(store=store)
        models.add("qa", old)
        for _ in range(3):
            models.observe("qa", [Visit("think", calls=(Call(5, 1),)), Visit("answer")])
        assert models.add("qa", old).runs_observed == 3
        fresh = AppModels(store=store)
        assert fresh.add("qa", new).runs_observed == 0  # the app changed: old runs left out
        again = AppModels(store=store)
        assert again.add("qa", old).runs_observed == 3
