"""The exchange script's arguments from a buggy or foreign client (real redis-server): a
count of ends that is not one, groups of new tickets cut short, a rank that is NaN or
infinite, tokens that are not a whole number: refused with a clear error before anything is
read or written, and every other ticket is served as before."""

from __future__ import annotations

import pytest

from hermes_agents.scheduling.redis.keys import BackendKeys
from hermes_agents.scheduling.redis.scripts import NewTicket, RedisStateError, Scripts
from tests.scheduling.redis.conftest import RedisServer

KEYS = BackendKeys("llm")
COMMON = ["p", "10000", "2", "0", "0", "0", "1.0", "30000", ""]


def _state(redis_server: RedisServer) -> dict[str, bytes | None]:
    client = redis_server.client()
    return {key: client.dump(key) for key in client.keys("hermes:*")}  # type: ignore[misc]


@pytest.mark.parametrize(
    "tail",
    [
        ["x"],  # the count of ends is not a number
        ["-1"],
        ["1.5", "000000000001"],
        ["3", "000000000001"],  # more ends than names
        ["0", "1.0", "0", "standard"],  # a new ticket's group cut short
        ["0", "nan", "0", "standard", "app"],
        ["0", "inf", "0", "standard", "app"],
        ["0", "-inf", "0", "standard", "app"],
        ["0", "1e400", "0", "standard", "app"],
        ["0", "1.0", "-3", "standard", "app"],
        ["0", "1.0", "2.5", "standard", "app"],
        ["0", "1.0", "many", "standard", "app"],
        ["0", "1.0", "0", "standard", "app", "oops", "0", "standard", "app"],
    ],
)
def test_bad_exchange_arguments_are_refused_and_nothing_is_disturbed(
    redis_server: RedisServer, tail: list[str]
) -> None:
    scripts = Scripts(redis_server.client())
    held = scripts.exchange(KEYS.script_keys, COMMON, news=[NewTicket("1.0", "0", "standard", "a")])
    before = _state(redis_server)
    with pytest.raises(RedisStateError, match="a script argument refused"):
        scripts._run(scripts._exchange, KEYS.script_keys, [*COMMON, *tail])
    assert _state(redis_server) == before
    assert scripts.exchange(KEYS.script_keys, COMMON, ends=held.members).statuses == (1,)


def test_one_exchange_ends_and_queues_and_admits_in_rank_order(redis_server: RedisServer) -> None:
    """Two slots: two held tickets end and three new ones come in one script; the two best
    ranks are admitted, the third waits, the ends' statuses come back in their order."""
    scripts = Scripts(redis_server.client())
    first = scripts.exchange(
        KEYS.script_keys, COMMON, news=[NewTicket("5", "0", "standard", "a")] * 2
    )
    assert first.mine == first.members
    news = [NewTicket(rank, "0", "standard", "a") for rank in ("3", "1", "2")]
    done = scripts.exchange(KEYS.script_keys, COMMON, ends=[*first.members, "nobody"], news=news)
    assert done.statuses == (1, 1, 0)
    assert len(done.members) == 3
    ranked = dict(zip(("3", "1", "2"), done.members, strict=True))
    assert set(done.mine) == {ranked["1"], ranked["2"]}
    assert redis_server.client().zrange("hermes:{llm}:queue", 0, -1) == [ranked["3"]]
