"""The SGLang adapter against the protocol-faithful fake: release/resume, prefix, metrics."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hermes_agents.backends import BackendState, SGLangAdapter
from hermes_agents.backends.testing import FakeSGLang
from tests.backends.helpers import hint


@pytest.fixture
def fake() -> FakeSGLang:
    return FakeSGLang()


@pytest.fixture
def adapter(fake: FakeSGLang) -> Iterator[SGLangAdapter]:
    with SGLangAdapter("http://gpu:30000", transport=fake.transport()) as adapter:
        yield adapter


def test_release_resume_cycles(fake: FakeSGLang, adapter: SGLangAdapter) -> None:
    for _ in range(2):
        adapter.release()
        assert fake.released == {"kv_cache", "weights", "cuda_graph"}
        assert adapter.state().awake is False
        assert adapter.warm().ok
        assert fake.released == set()
        assert adapter.state().awake is True
    bodies = [r.body for r in fake.requests if r.method == "POST"]
    assert bodies == [{"tags": None}] * 4  # omitted tags: all regions, both ways


def test_release_of_some_regions_resumes_exactly_those(fake: FakeSGLang) -> None:
    with SGLangAdapter(
        "http://gpu:30000", tags=["kv_cache"], transport=fake.transport()
    ) as adapter:
        adapter.release()
        assert fake.released == {"kv_cache"}
        assert adapter.warm().ok
    assert fake.requests[-1].body == {"tags": ["kv_cache"]}
    assert not fake.crashed


def test_warm_never_resumes_what_it_did_not_release(
    fake: FakeSGLang, adapter: SGLangAdapter
) -> None:
    # Resuming a region that is not released kills a real SGLang scheduler; the fake dies too.
    for _ in range(3):
        assert adapter.warm().ok
    assert "/resume_memory_occupation" not in fake.paths()
    assert not fake.crashed


def test_released_by_someone_else(fake: FakeSGLang) -> None:
    fake.released = {"kv_cache", "weights", "cuda_graph"}
    with SGLangAdapter("http://gpu:30000", released=True, transport=fake.transport()) as adapter:
        assert adapter.state().awake is False
        assert adapter.warm().ok
    assert fake.released == set()


def test_prefix_warm_up_after_resume(fake: FakeSGLang) -> None:
    prefixes = {"rag": "Context: the Hermes paper."}
    with SGLangAdapter(
        "http://gpu:30000", prefixes=prefixes, transport=fake.transport()
    ) as adapter:
        adapter.release()
        assert adapter.warm(hint("rag")).ok
        assert adapter.warm(hint("chat")).ok  # no prefix for it: nothing to generate
    generates = [r.body for r in fake.requests if r.path == "/generate"]
    assert generates == [
        {"text": prefixes["rag"], "sampling_params": {"max_new_tokens": 1, "temperature": 0.0}}
    ]
    assert fake.paths("POST")[:2] == ["/release_memory_occupation", "/resume_memory_occupation"]


def test_metrics(fake: FakeSGLang, adapter: SGLangAdapter) -> None:
    fake.running, fake.queued, fake.token_usage = 4, 7, 0.31
    assert adapter.state() == BackendState(awake=True, waiting=7, running=4, kv_usage=0.31)


def test_release_on_a_busy_server_is_refused_and_resume_stays_off(
    fake: FakeSGLang, adapter: SGLangAdapter
) -> None:
    fake.running = 1
    with pytest.raises(Exception, match="500"):
        adapter.release()
    assert adapter.released is False  # it did not happen, so warm will not resume
