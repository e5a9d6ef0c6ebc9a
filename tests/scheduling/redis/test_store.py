"""The Redis profile store keeps the same sliding window as the SQLite one, every host reads
the same runs (so ranks compare), and unreadable records are skipped with a warning."""

from __future__ import annotations

import logging

import pytest

from hermes_agents.pdgraph import Call, Visit
from hermes_agents.scheduling.models import AppModels
from hermes_agents.scheduling.redis import RedisAddress
from hermes_agents.store.redisprofiles import RedisProfileStore, RedisStoreError
from tests.scheduling.redis.conftest import RedisServer


def _run(output_tokens: int) -> list[Visit]:
    return [Visit("answer", calls=(Call(100, output_tokens),))]


def test_runs_are_kept_in_a_window_and_replayed_on_every_host(redis_server: RedisServer) -> None:
    store = RedisProfileStore(redis_server.client(), keep_runs=3)
    for tokens in (10, 20, 30, 40):
        store.record_run("qa", _run(tokens))
    runs = store.runs("qa")
    assert [run[0].calls[0].output_tokens for run in runs] == [20, 30, 40]
    here, there = AppModels(store=store), AppModels(store=RedisProfileStore(redis_server.client()))
    graph_here, graph_there = here.graph("qa"), there.graph("qa")
    assert graph_here is None
    assert graph_there is None
    here.add("qa")
    there.add("qa")
    assert here.graph("qa") is not None
    assert here.graph("qa").to_dict() == there.graph("qa").to_dict()  # type: ignore[union-attr]
    assert [profile.runs for profile in store.apps()] == [3]


def test_a_learned_run_reaches_the_store(redis_server: RedisServer) -> None:
    store = RedisProfileStore(redis_server.client())
    AppModels(store=store).observe("qa", _run(5))
    assert len(store.runs("qa")) == 1


def test_unreadable_records_are_skipped_with_a_warning(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    store = RedisProfileStore(redis_server.client())
    store.record_run("qa", _run(10))
    client = redis_server.client()
    client.rpush("hermes:profile:{qa}:runs", "not json", '{"v": 99, "visits": []}')
    with caplog.at_level(logging.WARNING):
        assert len(store.runs("qa")) == 1
    assert "skipped 2 unreadable run(s)" in caplog.text


def test_an_unreachable_store_is_a_store_error_and_learning_goes_on(
    redis_server: RedisServer,
) -> None:
    store = RedisProfileStore(RedisAddress.parse(redis_server.url).client())  # no retries
    redis_server.kill()
    with pytest.raises(RedisStoreError, match="learning goes on in memory"):
        store.record_run("qa", _run(1))
    models = AppModels(store=store)
    models.observe("qa", _run(1))  # fails open: learned in memory
    assert models.graph("qa") is not None


def test_a_host_reloads_what_other_hosts_learned(redis_server: RedisServer) -> None:
    from hermes_agents.scheduling.redis.learning import ProfileSync

    here_store = RedisProfileStore(redis_server.client())
    there_store = RedisProfileStore(redis_server.client())
    here, there = AppModels(store=here_store, refresh_every=3), AppModels(store=there_store)
    here.add("qa")
    sync = ProfileSync(here, here_store, every_s=3600)  # turns by hand
    assert sync.sync() == 0
    for tokens in (10, 20, 30):
        there.observe("qa", _run(tokens))  # another host learns three runs
    assert sync.sync() == 1
    graph_here, graph_there = here.graph("qa"), there.graph("qa")
    assert graph_here is not None
    assert graph_there is not None
    assert graph_here.to_dict() == graph_there.to_dict()  # the same model on both hosts
    assert sync.sync() == 0
    sync.close()
